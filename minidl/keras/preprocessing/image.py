"""``ImageDataGenerator``: images (arrays or files in class folders) to batches for ``model.fit``,
with Keras's random augmentation and standardization, built on ``md.data.augment``:

    datagen = ImageDataGenerator(rescale=1./255, rotation_range=10, horizontal_flip=True)
    train_generator = datagen.flow_from_directory("train_dir", target_size=(28, 28), batch_size=32)

Images are channels-last float32 ``(batch, height, width, channels)``.  Each image is moved as
Keras composes it (zoom, shear, shift, rotation) in one bilinear resampling, then flipped, then
standardized (``preprocessing_function``, ``rescale``, samplewise, then featurewise statistics).
One difference: Keras's own code moves ``width_shift_range`` vertically and ``height_shift_range``
horizontally (keras-team/keras#17398); here each moves along the axis its name and docs say.
"""
import numbers
import warnings

import numpy as np

from minidl.data import augment
from minidl.data.utils import generator
from minidl.keras.preprocessing.image_files import img_to_array, load_img  # noqa: F401  (Keras's names here)
from minidl.keras.preprocessing.image_iterators import DirectoryIterator, Iterator, NumpyArrayIterator  # noqa: F401

EPSILON = 1e-6  # keeps Keras's divisions by a standard deviation finite


class ImageDataGenerator:
    """Keras's image batches with random augmentation: ``rotation_range`` degrees, shifts of
    ``width_shift_range``/``height_shift_range`` (a fraction of the size below 1, else pixels),
    ``shear_range`` degrees, zoom in ``[1 - zoom_range, 1 + zoom_range]`` (above 1 shrinks), random
    flips; the border filled by ``fill_mode`` ("constant" with ``cval``, "nearest", "reflect", "wrap").
    ``featurewise_*`` use the per-channel mean and standard deviation that ``fit(x)`` computes;
    ``validation_split`` sets aside the first fraction (per class) for ``subset="validation"``."""

    def __init__(self, *, featurewise_center=False, samplewise_center=False, featurewise_std_normalization=False,
                 samplewise_std_normalization=False, rotation_range=0, width_shift_range=0.0, height_shift_range=0.0,
                 shear_range=0.0, zoom_range=0.0, fill_mode="nearest", cval=0.0, horizontal_flip=False,
                 vertical_flip=False, rescale=None, preprocessing_function=None, validation_split=0.0):
        if validation_split and not 0 < validation_split < 1:
            raise ValueError(f"ImageDataGenerator: validation_split must lie strictly between 0 and 1, got {validation_split}")
        self.featurewise_center = featurewise_center or featurewise_std_normalization  # as Keras: std implies center
        self.samplewise_center = samplewise_center or samplewise_std_normalization
        self.featurewise_std_normalization = featurewise_std_normalization
        self.samplewise_std_normalization = samplewise_std_normalization
        self.rotation_range, self.shear_range = rotation_range, shear_range
        self.width_shift_range, self.height_shift_range = width_shift_range, height_shift_range
        self.zoom_range = keras_zoom_range(zoom_range)
        self.fill_mode, self.cval = fill_mode, cval
        self.horizontal_flip, self.vertical_flip = horizontal_flip, vertical_flip
        self.rescale, self.preprocessing_function = rescale, preprocessing_function
        self.validation_split = validation_split
        self.mean = self.std = None
        self.augmentation = augment.Compose(self._transforms())

    def _transforms(self):
        """The ``md.data.augment`` transforms this generator's options ask for, in Keras's order."""
        transforms = []
        if self.rotation_range or self.width_shift_range or self.height_shift_range or self.shear_range \
                or self.zoom_range != (1, 1):
            shift = (self.height_shift_range, self.width_shift_range)
            transforms.append(augment.RandomAffine(self.rotation_range, shift, self.shear_range, self.zoom_range,
                                                   self.fill_mode, self.cval))
        elif self.fill_mode not in augment.FILL_MODES:
            raise ValueError(f"ImageDataGenerator: fill_mode must be one of {augment.FILL_MODES}, got {self.fill_mode!r}")
        if self.horizontal_flip:
            transforms.append(augment.RandomHorizontalFlip(0.5))
        if self.vertical_flip:
            transforms.append(augment.RandomVerticalFlip(0.5))
        return transforms

    # ------------------------------------------------------------------------- batches
    def flow(self, x, y=None, batch_size=32, shuffle=True, sample_weight=None, seed=None, *,
             ignore_class_split=False, subset=None):
        """Batches of the images ``x`` (n, height, width, channels), with ``y`` (and ``sample_weight``) when given."""
        return NumpyArrayIterator(x, y, self, batch_size, shuffle, sample_weight, seed, subset, ignore_class_split)

    def flow_from_directory(self, directory, target_size=(256, 256), color_mode="rgb", classes=None,
                            class_mode="categorical", batch_size=32, shuffle=True, seed=None, *,
                            follow_links=False, subset=None, interpolation="nearest"):
        """Batches of the image files in ``directory``'s subfolders, one class per subfolder (sorted
        names unless ``classes`` lists them), resized to ``target_size = (height, width)``; labels
        as ``class_mode``: "categorical" (one-hot), "binary" or "sparse" (class index), "input" (the
        images themselves) or None (images only)."""
        return DirectoryIterator(directory, self, target_size, color_mode, classes, class_mode, batch_size, shuffle,
                                 seed, follow_links, subset, interpolation)

    def transform_batch(self, images, rng):
        """Augment, then standardize, a float32 batch (n, height, width, channels), drawing from ``rng``."""
        if self.augmentation.transforms:
            images = self.augmentation(images.transpose(0, 3, 1, 2), rng).transpose(0, 2, 3, 1)
        return self.standardize(np.ascontiguousarray(images, dtype="float32"))

    # ------------------------------------------------------------------------- Keras's per-image API
    def standardize(self, x):
        """Normalize an image (height, width, channels) or a batch of them, in place, as Keras's order."""
        if self.preprocessing_function:
            x = self.preprocessing_function(x)
        if self.rescale:
            x *= self.rescale
        if self.samplewise_center:
            x -= np.mean(x, axis=(-3, -2, -1), keepdims=True)
        if self.samplewise_std_normalization:
            x /= np.std(x, axis=(-3, -2, -1), keepdims=True) + EPSILON
        for name, statistic in (("featurewise_center", self.mean), ("featurewise_std_normalization", self.std)):
            if getattr(self, name) and statistic is None:
                warnings.warn(f"ImageDataGenerator: {name} is set but fit(x) was not called, so it is skipped")
        if self.featurewise_center and self.mean is not None:
            x -= self.mean
        if self.featurewise_std_normalization and self.std is not None:
            x /= self.std + EPSILON
        return x

    def random_transform(self, x, seed=None):
        """One image (height, width, channels) with a random augmentation (no standardization)."""
        return self.augmentation(np.asarray(x, dtype="float32").transpose(2, 0, 1), generator(seed)).transpose(1, 2, 0)

    def apply_transform(self, x, transform_parameters):
        """One image moved by the given parameters, with Keras's keys: "theta" (degrees), "tx"/"ty"
        (pixels along height/width: the picture moves back by them), "shear" (degrees), "zx"/"zy"
        (zoom along width/height), "flip_horizontal", "flip_vertical"."""
        get = transform_parameters.get
        images = np.asarray(x, dtype="float32").transpose(2, 0, 1)[None]
        matrices, offsets = augment.affine_matrices([get("theta", 0)], [[-get("tx", 0), -get("ty", 0)]],
                                                    [get("shear", 0)], [[get("zy", 1), get("zx", 1)]])
        image = augment.warp(images, matrices, offsets, self.fill_mode, self.cval)[0].transpose(1, 2, 0)
        if get("flip_horizontal", False):
            image = image[:, ::-1]
        if get("flip_vertical", False):
            image = image[::-1]
        return image

    def fit(self, x, augment=False, rounds=1, seed=None):
        """Compute the per-channel ``mean`` and ``std`` of the images ``x`` (after ``rescale``, and over
        ``rounds`` random augmentations when ``augment``) for ``featurewise_center``/``_std_normalization``."""
        x = np.array(x, dtype="float32")
        if x.ndim != 4:
            raise ValueError(f"ImageDataGenerator.fit: x must be images (n, height, width, channels), got shape {x.shape}")
        if self.rescale:
            x *= self.rescale
        if augment:
            rng = generator(seed)
            x = np.concatenate([self.augmentation(x.transpose(0, 3, 1, 2), rng).transpose(0, 2, 3, 1)
                                for _ in range(rounds)])
        if self.featurewise_center:
            self.mean = x.mean(axis=(0, 1, 2)).reshape(1, 1, -1)
        if self.featurewise_std_normalization:
            self.std = x.std(axis=(0, 1, 2)).reshape(1, 1, -1)


def keras_zoom_range(zoom_range):
    """``zoom_range`` as ``(low, high)``: a number z means ``(1 - z, 1 + z)``."""
    if isinstance(zoom_range, numbers.Real):
        return (1 - zoom_range, 1 + zoom_range)
    if len(zoom_range) == 2 and all(isinstance(value, numbers.Real) for value in zoom_range):
        return tuple(zoom_range)
    raise ValueError(f"ImageDataGenerator: zoom_range must be a number or two numbers, got {zoom_range!r}")
