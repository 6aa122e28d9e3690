"""Data augmentation: random changes to images that keep their label, so a model sees a slightly
different training set every epoch and learns what does not change.

Transforms work on NumPy image batches ``(N, C, H, W)`` (each image gets its own random draw) or
single images ``(C, H, W)``, and return a new array of the same shape and dtype.  Compose them with
a seed and hand them to a DataLoader:

    augment = Compose([RandomRotation(10), RandomCrop(28, padding=2), Cutout(8)], seed=0)
    loader = DataLoader(train_set, batch_size=64, shuffle=True, seed=0, transform=augment)

A transform is called as ``t(images, rng=None)``; ``rng`` is a ``numpy.random.Generator``, or None
for minidl's global generator (``md.manual_seed``).  ``Compose(..., seed=s)`` owns a generator made
from ``s`` and passes it on, so the same seed gives the same sequence of augmented batches.
Rotation, scaling and ``RandomAffine`` resample the image with bilinear interpolation; pixels that
come from outside the image are 0, or follow ``RandomAffine``'s ``fill_mode`` (see ``FILL_MODES``).
"""
import functools
import numbers

import numpy as np

from minidl.data.utils import as_numpy, generator


class Transform:
    """Base class: ``__call__`` accepts a batch or a single image; subclasses define
    ``apply(batch, rng)`` on a batch ``(N, C, H, W)``."""

    def __call__(self, images, rng=None):
        images = as_numpy(images)
        if images.ndim not in (3, 4):
            raise ValueError(f"{type(self).__name__}: images must be (N, C, H, W) or (C, H, W), got shape {images.shape}")
        if images.ndim == 3:
            return self.apply(images[None], generator(rng))[0]
        return self.apply(images, generator(rng))

    def apply(self, batch, rng):
        raise NotImplementedError(f"{type(self).__name__}: subclasses of Transform must define apply(batch, rng)")


class Compose:
    """Apply ``transforms`` one after the other, all drawing from one generator seeded by ``seed``."""

    def __init__(self, transforms, seed=None):
        self.transforms = list(transforms)
        self.rng = None if seed is None else np.random.default_rng(seed)

    def __call__(self, images, rng=None):
        rng = generator(self.rng if rng is None else rng)
        for transform in self.transforms:
            images = transform(images, rng)
        return images


class RandomHorizontalFlip(Transform):
    """Mirror each image left-right with probability ``p``."""

    def __init__(self, p=0.5):
        if not 0 <= p <= 1:
            raise ValueError(f"RandomHorizontalFlip: p must be a probability in [0, 1], got {p}")
        self.p = p

    def apply(self, batch, rng):
        flip = rng.random(len(batch)) < self.p
        out = batch.copy()
        out[flip] = batch[flip][..., ::-1]
        return out


class RandomRotation(Transform):
    """Rotate each image about its centre by an angle drawn uniformly from ``(-degrees, degrees)``
    (or from ``degrees = (low, high)``); positive angles turn counter-clockwise, as torchvision."""

    def __init__(self, degrees):
        if isinstance(degrees, numbers.Real):
            if degrees < 0:
                raise ValueError(f"RandomRotation: degrees must be >= 0 when a single number, got {degrees}")
            degrees = (-degrees, degrees)
        self.degrees = _interval("RandomRotation", "degrees", degrees)

    def apply(self, batch, rng):
        angles = np.deg2rad(rng.uniform(*self.degrees, size=len(batch)))
        cos, sin = np.cos(angles), np.sin(angles)
        # output offset (dy, dx) from the centre reads the input at (cos dy + sin dx, -sin dy + cos dx)
        return warp(batch, np.stack([np.stack([cos, sin], -1), np.stack([-sin, cos], -1)], 1))


class RandomScale(Transform):
    """Zoom each image about its centre by a factor drawn uniformly from ``scale = (low, high)``:
    above 1 enlarges (the border is cut), below 1 shrinks (the border fills with 0)."""

    def __init__(self, scale=(0.9, 1.1)):
        self.scale = _interval("RandomScale", "scale", scale)
        if self.scale[0] <= 0:
            raise ValueError(f"RandomScale: scale factors must be > 0, got {scale}")

    def apply(self, batch, rng):
        factors = rng.uniform(*self.scale, size=len(batch))
        return warp(batch, np.eye(2) / factors[:, None, None])


class RandomVerticalFlip(Transform):
    """Mirror each image top-bottom with probability ``p``."""

    def __init__(self, p=0.5):
        if not 0 <= p <= 1:
            raise ValueError(f"RandomVerticalFlip: p must be a probability in [0, 1], got {p}")
        self.p = p

    def apply(self, batch, rng):
        flip = rng.random(len(batch)) < self.p
        out = batch.copy()
        out[flip] = batch[flip][..., ::-1, :]
        return out


class RandomAffine(Transform):
    """Rotate, shift, shear and zoom each image in one resampling, with Keras's ``ImageDataGenerator``
    conventions: an angle from ``degrees`` (as ``RandomRotation``), a shift ``(rows, cols)`` from
    ``shift = (height_range, width_range)`` (see ``shift_amounts``), a shear angle from ``shear`` (a
    number s for (-s, s), or a pair) that slides each row sideways, and one zoom per axis drawn from
    ``zoom = (low, high)``, which reads the input that many times farther from the centre: above 1
    the picture shrinks (the opposite of ``RandomScale``).  Outside pixels follow ``fill_mode``/``cval``."""

    def __init__(self, degrees=0, shift=(0, 0), shear=0, zoom=(1, 1), fill_mode="constant", cval=0.0):
        self.degrees, self.shear = (_symmetric("RandomAffine", name, value) for name, value in
                                    (("degrees", degrees), ("shear", shear)))
        self.zoom = _interval("RandomAffine", "zoom", zoom)
        if self.zoom[0] < 0 or len(shift) != 2:
            raise ValueError(f"RandomAffine: zoom must be >= 0 and shift a pair (height, width), got {zoom}, {shift}")
        if fill_mode not in FILL_MODES:
            raise ValueError(f"RandomAffine: fill_mode must be one of {FILL_MODES}, got {fill_mode!r}")
        self.shift, self.fill_mode, self.cval = tuple(shift), fill_mode, cval

    def apply(self, batch, rng):
        n = len(batch)
        angles = rng.uniform(*self.degrees, size=n)
        shifts = np.stack([shift_amounts(spec, size, n, rng) for spec, size in zip(self.shift, batch.shape[2:])], 1)
        shears = rng.uniform(*self.shear, size=n)
        zooms = rng.uniform(*self.zoom, size=(n, 2))
        return warp(batch, *affine_matrices(angles, shifts, shears, zooms), self.fill_mode, self.cval)


def shift_amounts(spec, size, n, rng):
    """``n`` shifts in pixels along an axis of ``size`` pixels, drawn as Keras's ``width_shift_range``:
    a float r uniformly from (-r, r); an int r as a whole number of pixels in (-r, r); a list as
    one of its values with a random sign.  Where every value is below 1, they are fractions of ``size``."""
    if not np.any(spec):
        return np.zeros(n)
    if isinstance(spec, numbers.Integral):
        amounts = rng.integers(0, spec, size=n) * rng.choice((-1, 1), size=n)
    elif isinstance(spec, numbers.Real):
        amounts = rng.uniform(-spec, spec, size=n)
    else:
        amounts = rng.choice(np.asarray(spec, dtype=np.float64), size=n) * rng.choice((-1, 1), size=n)
    return amounts * size if np.max(spec) < 1 else amounts.astype(np.float64)


def affine_matrices(degrees, shifts, shears, zooms):
    """The ``(matrices, offsets)`` for ``warp`` that move each picture as Keras composes it: zoom
    ``(rows, cols)`` first, then shear (degrees), then shift ``(rows, cols)`` pixels, then rotation
    (degrees, counter-clockwise).  Arguments hold one value (or pair) per image."""
    theta, shear = np.deg2rad(degrees), np.deg2rad(shears)
    cos, sin = np.cos(theta), np.sin(theta)
    # matrices act on (row, col) offsets from the centre and map an output pixel to where it reads the input
    rotation = _matrices_2x2(cos, sin, -sin, cos)
    shearing = _matrices_2x2(np.cos(shear), 0, -np.sin(shear), 1)
    zooming = np.asarray(zooms, dtype=np.float64)[:, :, None] * np.eye(2)
    # reading the input ``shift`` pixels back moves the picture forward by ``shift``
    offsets = -np.einsum("nij,nj->ni", rotation, np.asarray(shifts, dtype=np.float64))
    return rotation @ shearing @ zooming, offsets


class RandomCrop(Transform):
    """Pad each image with ``padding`` zeros on every side, then cut out a ``size`` window
    (an int for a square, or ``(height, width)``) at a random position."""

    def __init__(self, size, padding=0):
        self.size = (size, size) if isinstance(size, numbers.Integral) else tuple(size)
        if len(self.size) != 2 or min(self.size) < 1 or padding < 0:
            raise ValueError(f"RandomCrop: size must be positive (an int or (h, w)) and padding >= 0, got {size}, {padding}")
        self.padding = padding

    def apply(self, batch, rng):
        p, (h, w) = self.padding, self.size
        padded = np.pad(batch, ((0, 0), (0, 0), (p, p), (p, p)))
        height, width = padded.shape[2:]
        if h > height or w > width:
            raise ValueError(f"RandomCrop: crop size {self.size} is larger than the padded image {(height, width)}")
        top = rng.integers(0, height - h + 1, size=len(batch))
        left = rng.integers(0, width - w + 1, size=len(batch))
        rows = top[:, None, None] + np.arange(h)[:, None]
        cols = left[:, None, None] + np.arange(w)
        return gather(padded, rows, cols)


class Cutout(Transform):
    """Occlusion (DeVries & Taylor, 2017): set a ``size`` x ``size`` square to 0 in each image, centred
    on a random pixel; the square may hang over the border, hiding less."""

    def __init__(self, size):
        if not isinstance(size, numbers.Integral) or size < 1:
            raise ValueError(f"Cutout: size must be a positive integer, got {size!r}")
        self.size = size

    def apply(self, batch, rng):
        n, _, height, width = batch.shape
        top = rng.integers(0, height, size=n) - self.size // 2
        left = rng.integers(0, width, size=n) - self.size // 2
        rows, cols = np.arange(height), np.arange(width)
        in_rows = (rows >= top[:, None]) & (rows < top[:, None] + self.size)
        in_cols = (cols >= left[:, None]) & (cols < left[:, None] + self.size)
        hidden = in_rows[:, None, :, None] & in_cols[:, None, None, :]
        return np.where(hidden, 0, batch).astype(batch.dtype, copy=False)


class GaussianNoise(Transform):
    """Add independent normal noise of standard deviation ``std`` to every pixel (no clipping)."""

    def __init__(self, std):
        if std < 0:
            raise ValueError(f"GaussianNoise: std must be >= 0, got {std}")
        self.std = std

    def apply(self, batch, rng):
        return (batch + self.std * rng.standard_normal(batch.shape)).astype(batch.dtype, copy=False)


# ----------------------------------------------------------------------------- resampling
def gather(batch, rows, cols):
    """``out[n, c, i, j] = batch[n, c, rows[n, i, j], cols[n, i, j]]`` (integer positions, broadcast
    to ``(N, h, w)``); the result is ``(N, C, h, w)``."""
    images = np.arange(len(batch))[:, None, None]
    return batch[images, :, rows, cols].transpose(0, 3, 1, 2)  # advanced indices first: (N, h, w, C)


def warp(batch, matrices, offsets=None, fill_mode="constant", cval=0.0):
    """Resample each image through an affine map about its centre ``(cy, cx) = ((H-1)/2, (W-1)/2)``:
    output pixel ``(y, x)`` takes the input at ``(cy, cx) + matrices[n] @ (y - cy, x - cx) + offsets[n]``
    (``offsets`` in pixels, (N, 2), default none), interpolated bilinearly between the four pixels
    around it; pixels outside the image come from ``fill_mode`` (see ``FILL_MODES``) and ``cval``."""
    if fill_mode not in FILL_MODES:
        raise ValueError(f"warp: fill_mode must be one of {FILL_MODES}, got {fill_mode!r}")
    height, width = batch.shape[2:]
    centre = np.array([(height - 1) / 2, (width - 1) / 2])
    offsets = np.zeros((len(batch), 2)) if offsets is None else np.asarray(offsets, dtype=np.float64)
    grid = np.stack(np.meshgrid(np.arange(height), np.arange(width), indexing="ij")) - centre[:, None, None]
    y, x = np.einsum("nij,jhw->inhw", matrices, grid) + (centre + offsets).T[:, :, None, None]
    y0, x0 = np.floor(y).astype(np.int64), np.floor(x).astype(np.int64)
    wy, wx = (y - y0)[:, None], (x - x0)[:, None]  # (N, 1, H, W): the same weights for every channel
    pixels = functools.partial(pixels_filled, batch, fill_mode=fill_mode, cval=cval)
    out = (
        (1 - wy) * (1 - wx) * pixels(y0, x0)
        + (1 - wy) * wx * pixels(y0, x0 + 1)
        + wy * (1 - wx) * pixels(y0 + 1, x0)
        + wy * wx * pixels(y0 + 1, x0 + 1)
    )
    return out.astype(batch.dtype, copy=False)


# How ``warp`` fills positions outside the image, for a row ``abcd`` (as Keras documents them):
# constant kkkk|abcd|kkkk (k = cval), nearest aaaa|abcd|dddd, reflect dcba|abcd|dcba, wrap abcd|abcd|abcd.
FILL_MODES = ("constant", "nearest", "reflect", "wrap")


def pixels_filled(batch, rows, cols, fill_mode="constant", cval=0.0):
    """``gather`` at any integer positions: those outside the image follow ``fill_mode``."""
    height, width = batch.shape[2:]
    if fill_mode == "constant":
        inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
        values = gather(batch, np.clip(rows, 0, height - 1), np.clip(cols, 0, width - 1))
        return np.where(inside[:, None], values, cval)
    return gather(batch, _fold(rows, height, fill_mode), _fold(cols, width, fill_mode))


def _fold(index, size, fill_mode):
    """Positions along one axis of length ``size`` brought inside it by ``fill_mode``."""
    if fill_mode == "nearest":
        return np.clip(index, 0, size - 1)
    if fill_mode == "wrap":
        return index % size
    index = index % (2 * size)  # reflect: the image and its mirror image repeat every 2 * size
    return np.where(index < size, index, 2 * size - 1 - index)


def _matrices_2x2(a, b, c, d):
    """The matrices ``[[a, b], [c, d]]`` (N, 2, 2) from entries that are arrays (N,) or numbers."""
    return np.stack(np.broadcast_arrays(a, b, c, d), -1).reshape(-1, 2, 2)


# ----------------------------------------------------------------------------- argument check
def _symmetric(owner, name, value):
    """``(-value, value)`` for a number >= 0, else ``value`` checked as an interval."""
    if isinstance(value, numbers.Real):
        if value < 0:
            raise ValueError(f"{owner}: {name} must be >= 0 when a single number, got {value}")
        return (-value, value)
    return _interval(owner, name, value)


def _interval(owner, name, pair):
    low, high = pair
    if low > high:
        raise ValueError(f"{owner}: {name} must be (low, high) with low <= high, got {pair}")
    return (low, high)
