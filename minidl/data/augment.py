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
Rotation and scaling resample the image with bilinear interpolation; pixels that come from
outside the image are 0.
"""
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


def warp(batch, matrices):
    """Resample each image through a linear map about its centre ``(cy, cx) = ((H-1)/2, (W-1)/2)``:
    output pixel ``(y, x)`` takes the input at ``(cy, cx) + matrices[n] @ (y - cy, x - cx)``,
    interpolated bilinearly between the four pixels around it (0 outside the image)."""
    height, width = batch.shape[2:]
    centre = np.array([(height - 1) / 2, (width - 1) / 2])
    offsets = np.stack(np.meshgrid(np.arange(height), np.arange(width), indexing="ij")) - centre[:, None, None]
    y, x = np.einsum("nij,jhw->inhw", matrices, offsets) + centre[:, None, None, None]
    y0, x0 = np.floor(y).astype(np.int64), np.floor(x).astype(np.int64)
    wy, wx = (y - y0)[:, None], (x - x0)[:, None]  # (N, 1, H, W): the same weights for every channel
    out = (
        (1 - wy) * (1 - wx) * pixels_or_zero(batch, y0, x0)
        + (1 - wy) * wx * pixels_or_zero(batch, y0, x0 + 1)
        + wy * (1 - wx) * pixels_or_zero(batch, y0 + 1, x0)
        + wy * wx * pixels_or_zero(batch, y0 + 1, x0 + 1)
    )
    return out.astype(batch.dtype, copy=False)


def pixels_or_zero(batch, rows, cols):
    """``gather`` that gives 0 for positions outside the image."""
    height, width = batch.shape[2:]
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    values = gather(batch, np.clip(rows, 0, height - 1), np.clip(cols, 0, width - 1))
    return values * inside[:, None]


# ----------------------------------------------------------------------------- argument check
def _interval(owner, name, pair):
    low, high = pair
    if low > high:
        raise ValueError(f"{owner}: {name} must be (low, high) with low <= high, got {pair}")
    return (low, high)
