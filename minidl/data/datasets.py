"""Ready-made datasets as NumPy arrays: scikit-learn's 8x8 digits (installed with minidl, no
download) and MNIST read from its four original IDX files.

    x, y = load_digits()                          # (1797, 1, 8, 8) float32 in [0, 1], (1797,) int64
    x, y = load_mnist("data/mnist", "train")      # (60000, 1, 28, 28) float32 in [0, 1], (60000,) int64
    x, y = load_mnist()                           # the same, from Keras's mnist.npz in ~/.keras/datasets
"""
import gzip
import zlib
from pathlib import Path

import numpy as np

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049  # 0x0803: unsigned bytes, 3 dims; 0x0801: unsigned bytes, 1 dim


class DataError(ValueError):
    """A dataset that cannot be read: missing, truncated or malformed files.  The message names
    the file and what is wrong with it."""


def load_digits(as_images=True):
    """scikit-learn's bundled handwritten digits: 1797 grey 8x8 images of 0..9.

    Returns ``(x, y)``: float32 pixels scaled from 0..16 to [0, 1], shaped ``(1797, 1, 8, 8)``
    (NCHW) or ``(1797, 64)`` with ``as_images=False``, and int64 labels ``(1797,)``.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    x = (digits.data / 16.0).astype(np.float32)
    return (x.reshape(-1, 1, 8, 8) if as_images else x), digits.target.astype(np.int64)


def load_mnist(path=None, split="train"):
    """MNIST (or any dataset in its format, such as Fashion-MNIST) from the directory ``path``;
    without a path, Keras's ``mnist.npz``, downloaded once into Keras's cache
    (``md.keras.datasets.mnist.load_data``).

    Reads ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte`` (``split="train"``, 60000
    images) or the ``t10k-`` pair (``split="test"``, 10000), gzipped (``.gz``) or raw.  Checks
    the magic numbers (2051 images, 2049 labels), that each file is as long as its header says,
    that there are as many labels as images and that labels lie in 0..9; otherwise raises
    ``DataError`` naming the file.

    Returns ``(x, y)``: float32 pixels ``(N, 1, 28, 28)`` scaled from 0..255 to [0, 1], and
    int64 labels ``(N,)``.
    """
    if split not in MNIST_FILES:
        raise ValueError(f"load_mnist: split must be 'train' or 'test', got {split!r}")
    if path is None:
        return _from_keras_cache(split)
    directory = Path(path)
    if not directory.is_dir():
        raise DataError(f"load_mnist: data directory {directory} does not exist")
    images_name, labels_name = MNIST_FILES[split]
    images_file, labels_file = _find_file(directory, images_name), _find_file(directory, labels_name)
    images = read_idx(images_file, IMAGES_MAGIC)
    labels = read_idx(labels_file, LABELS_MAGIC)
    if len(images) != len(labels):
        raise DataError(
            f"load_mnist: {images_file.name} holds {len(images)} images but {labels_file.name} "
            f"holds {len(labels)} labels; expected as many labels as images"
        )
    if labels.size and labels.max() > 9:
        bad = int(np.argmax(labels > 9))
        raise DataError(f"load_mnist: {labels_file}: labels must be 0..9, found {labels[bad]} at index {bad}")
    return _scaled(images, labels)


def _from_keras_cache(split):
    """The ``split`` of Keras's ``mnist.npz``, fetched into Keras's cache on first use."""
    from minidl.keras.datasets import mnist  # imported here: md.keras itself imports md.data

    train, test = mnist.load_data()
    return _scaled(*(train if split == "train" else test))


def _scaled(images, labels):
    """uint8 images (N, 28, 28) and labels as minidl's (N, 1, 28, 28) float32 in [0, 1] and int64."""
    x = images.astype(np.float32)
    x /= 255
    return x[:, None], labels.astype(np.int64)


def _find_file(directory, name):
    """``directory/name.gz`` if it exists, else ``directory/name``; DataError when neither does."""
    for candidate in (directory / f"{name}.gz", directory / name):
        if candidate.is_file():
            return candidate
    raise DataError(f"load_mnist: neither {name}.gz nor {name} found in {directory}")


def read_idx(path, magic):
    """The unsigned-byte array stored in the IDX file ``path`` (gzipped when its name ends in .gz).

    IDX layout, big-endian: a 4-byte magic number ``0x00 0x00 0x08 ndim`` (0x08: unsigned
    bytes), then ``ndim`` 4-byte sizes, then the ``prod(sizes)`` bytes of the array, row-major.
    """
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DataError(f"load_mnist: {path} is truncated: {len(raw)} bytes, too short for a header")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise DataError(f"load_mnist: {path} has magic number {found}, expected {magic}; not an IDX file of this kind")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"load_mnist: {path} is truncated: {len(raw)} bytes, the header alone needs {header}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        problem = "is truncated" if len(raw) < expected else "has extra bytes at the end"
        raise DataError(
            f"load_mnist: {path} {problem}: its header says shape {shape}, so {expected} bytes, "
            f"but the file has {len(raw)}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _read_bytes(path):
    """The content of ``path``, decompressed when it ends in .gz; DataError for a broken gzip."""
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        return gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise DataError(f"load_mnist: {path} is not a valid gzip file or is truncated ({err})") from err
