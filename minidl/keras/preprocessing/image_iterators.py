"""The batch iterators ``ImageDataGenerator.flow`` and ``flow_from_directory`` return: Keras
``Sequence``s (``len`` = batches per epoch, ``it[i]`` = batch i) that also iterate forever, a new
epoch (reshuffled) after each pass, like Keras's."""
import os

import numpy as np

from minidl.data.utils import generator
from minidl.keras.preprocessing import image_files
from minidl.keras.sequence_data import Sequence

CLASS_MODES = ("categorical", "binary", "sparse", "input", None)
SUBSETS = ("training", "validation")


class Iterator(Sequence):
    """Batches of ``batch_size`` of ``n`` samples, in a random order each epoch when ``shuffle``; the
    order and the augmentation draw from one generator seeded by ``seed`` (minidl's global one for None)."""

    def __init__(self, n, batch_size, shuffle, seed):
        super().__init__()
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"{type(self).__name__}: batch_size must be a positive integer, got {batch_size!r}")
        self.n, self.batch_size, self.shuffle, self.seed = n, batch_size, shuffle, seed
        self.rng = generator(seed)
        self.batch_index = 0
        self.index_array = None

    def __len__(self):
        return -(-self.n // self.batch_size)  # the last batch may be short

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"{type(self).__name__}: batch index must lie in [0, {len(self) - 1}], got {index}")
        if self.index_array is None:
            self.on_epoch_end()
        return self._batch(self.index_array[index * self.batch_size:(index + 1) * self.batch_size])

    def on_epoch_end(self):
        """Draw the order of the next epoch."""
        self.index_array = self.rng.permutation(self.n) if self.shuffle else np.arange(self.n)

    def reset(self):
        """Start the endless iteration at batch 0 again."""
        self.batch_index = 0

    def __iter__(self):
        return self

    def __next__(self):
        if self.batch_index == 0:
            self.on_epoch_end()
        batch = self[self.batch_index]
        self.batch_index = (self.batch_index + 1) % len(self)
        return batch

    next = __next__  # tf.keras 2's spelling, still common in tutorials

    def _batch(self, indices):
        raise NotImplementedError(f"{type(self).__name__}: subclasses of Iterator must define _batch(indices)")


def split_range(owner, subset, validation_split):
    """The ``(start, stop)`` fractions of the data ``subset`` takes: validation first, as in Keras."""
    if subset is None:
        return (0, 1)
    if subset not in SUBSETS:
        raise ValueError(f"{owner}: subset must be 'training', 'validation' or None, got {subset!r}")
    if not validation_split:
        raise ValueError(f"{owner}: subset={subset!r} needs ImageDataGenerator(validation_split=...) in (0, 1), got {validation_split}")
    return (0, validation_split) if subset == "validation" else (validation_split, 1)


class NumpyArrayIterator(Iterator):
    """``ImageDataGenerator.flow``: batches of images ``x`` (n, height, width, channels), augmented and
    standardized, with ``y`` and ``sample_weight`` where given."""

    def __init__(self, x, y, image_data_generator, batch_size=32, shuffle=False, sample_weight=None, seed=None,
                 subset=None, ignore_class_split=False):
        x = np.asarray(x, dtype="float32")
        if x.ndim != 4:
            raise ValueError(f"flow: x must be images (n, height, width, channels), got shape {x.shape}")
        arrays = [x] + [None if a is None else np.asarray(a) for a in (y, sample_weight)]
        for name, array in zip(("y", "sample_weight"), arrays[1:]):
            if array is not None and len(array) != len(x):
                raise ValueError(f"flow: {name} must have one entry per image ({len(x)}), got {len(array)}")
        start, stop = split_range("flow", subset, image_data_generator.validation_split)
        if subset and y is not None and not ignore_class_split:
            cut = int(len(x) * image_data_generator.validation_split)
            if not np.array_equal(np.unique(arrays[1][:cut]), np.unique(arrays[1][cut:])):
                raise ValueError("flow: the training and validation subsets hold different classes; shuffle x and y "
                                 "first (they may be sorted by label), or pass ignore_class_split=True")
        kept = slice(int(start * len(x)), int(stop * len(x)))
        self.x, self.y, self.sample_weight = (None if a is None else a[kept] for a in arrays)
        self.image_data_generator = image_data_generator
        super().__init__(len(self.x), batch_size, shuffle, seed)

    def _batch(self, indices):
        images = self.image_data_generator.transform_batch(self.x[indices], self.rng)
        if self.y is None:
            return images
        if self.sample_weight is None:
            return images, self.y[indices]
        return images, self.y[indices], self.sample_weight[indices]


class DirectoryIterator(Iterator):
    """``ImageDataGenerator.flow_from_directory``: images read from one subfolder per class."""

    def __init__(self, directory, image_data_generator, target_size=(256, 256), color_mode="rgb", classes=None,
                 class_mode="categorical", batch_size=32, shuffle=True, seed=None, follow_links=False, subset=None,
                 interpolation="nearest"):
        check_options(target_size, color_mode, class_mode, interpolation)
        split = split_range("flow_from_directory", subset, image_data_generator.validation_split)
        if not os.path.isdir(directory):
            raise ValueError(f"flow_from_directory: directory {os.fspath(directory)!r} does not exist")
        if not classes:
            classes = sorted(name for name in os.listdir(directory) if os.path.isdir(os.path.join(directory, name)))
        if not classes:
            raise ValueError(f"flow_from_directory: {os.fspath(directory)!r} holds no class folders; "
                             "put each class's images in a subfolder named after the class")
        self.filepaths, self.classes = image_files.class_files(directory, classes, split, follow_links)
        if not self.filepaths:
            wanted = f" for subset {subset!r}" if subset else ""
            raise ValueError(f"flow_from_directory: no image files ({', '.join(image_files.IMAGE_EXTENSIONS)}) "
                             f"in the class folders of {os.fspath(directory)!r}{wanted}")
        self.directory, self.image_data_generator = directory, image_data_generator
        self.target_size, self.color_mode, self.class_mode = tuple(target_size), color_mode, class_mode
        self.interpolation = interpolation
        self.class_indices = {name: index for index, name in enumerate(classes)}
        self.num_classes, self.samples = len(classes), len(self.filepaths)
        self.filenames = [os.path.relpath(path, directory) for path in self.filepaths]
        self.image_shape = self.target_size + (len(image_files.COLOR_MODES[color_mode]),)
        print(f"Found {self.samples} images belonging to {self.num_classes} classes.")
        super().__init__(self.samples, batch_size, shuffle, seed)

    @property
    def labels(self):
        """The class index of every image, as ``classes``."""
        return self.classes

    def _batch(self, indices):
        images = np.stack([image_files.img_to_array(image_files.load_img(
            self.filepaths[i], self.color_mode, self.target_size, self.interpolation)) for i in indices])
        images = self.image_data_generator.transform_batch(images, self.rng)
        labels = self.classes[indices]
        if self.class_mode == "categorical":
            return images, np.eye(self.num_classes, dtype="float32")[labels]
        if self.class_mode in ("binary", "sparse"):
            return images, labels.astype("float32")
        if self.class_mode == "input":
            return images, images.copy()
        return images


def check_options(target_size, color_mode, class_mode, interpolation):
    """Clear errors for the options of ``flow_from_directory`` before any file is read."""
    if not (isinstance(target_size, (tuple, list)) and len(target_size) == 2
            and all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0 for n in target_size)):
        raise ValueError(f"flow_from_directory: target_size must be two positive integers (height, width), got {target_size!r}")
    if color_mode not in image_files.COLOR_MODES:
        raise ValueError(f"flow_from_directory: color_mode must be one of {tuple(image_files.COLOR_MODES)}, got {color_mode!r}")
    if class_mode not in CLASS_MODES:
        raise ValueError(f"flow_from_directory: class_mode must be one of {CLASS_MODES}, got {class_mode!r}")
    if interpolation not in image_files.INTERPOLATIONS:
        raise ValueError(f"flow_from_directory: interpolation must be one of {image_files.INTERPOLATIONS}, got {interpolation!r}")
