"""CIFAR-10 as Keras serves it: ``(x_train, y_train), (x_test, y_test) = cifar10.load_data()``.

Labels: 0 airplane, 1 automobile, 2 bird, 3 cat, 4 deer, 5 dog, 6 frog, 7 horse, 8 ship, 9 truck.
"""
import os

import numpy as np

from minidl.data.datasets import DataError
from minidl.keras.datasets.files import load_pickle
from minidl.keras.downloads import get_file

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]


def load_data():
    """50000 training and 10000 test colour 32x32 images in 10 classes, from the Python version of
    the dataset (downloaded once and unpacked into ``~/.keras/datasets/cifar-10-batches-py-target``).

    The batches are Python pickles; they are read by an unpickler that can only build plain data
    and NumPy arrays, so a tampered file cannot run code (see ``files.py``).

    Returns ``(x_train, y_train), (x_test, y_test)``: uint8 pixels channels-last,
    ``(50000, 32, 32, 3)`` and ``(10000, 32, 32, 3)``, and uint8 labels ``(50000, 1)`` and ``(10000, 1)``.
    """
    folder = get_file("cifar-10-batches-py-target", origin=ORIGIN, extract=True, file_hash=SHA256)
    folder = os.path.join(folder, "cifar-10-batches-py")  # the archive holds one folder
    train = [load_batch(os.path.join(folder, name)) for name in TRAIN_BATCHES]
    x_train, y_train = np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train])
    x_test, y_test = load_batch(os.path.join(folder, "test_batch"))
    return (x_train, y_train), (x_test, y_test)


def load_batch(path):
    """``(images, labels)`` of one pickled batch: a dict whose ``data`` is an (n, 3072) uint8 array
    of n images, each its red, green then blue 32x32 planes, and whose ``labels`` is a list of n
    ints; returned as ``(n, 32, 32, 3)`` and ``(n, 1)`` uint8."""
    with open(path, "rb") as file:
        batch = load_pickle(file, path, encoding="bytes")  # written by Python 2: its strings are bytes
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DataError(f"cifar10.load_data: {path}: expected a dict with 'data' and 'labels'")
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    labels = np.asarray(batch[b"labels"], dtype=np.uint8)
    if data.ndim != 2 or data.shape != (len(labels), 3 * 32 * 32):
        raise DataError(
            f"cifar10.load_data: {path}: expected 'data' of shape ({len(labels)}, 3072) for {len(labels)} "
            f"labels; received {data.shape}"
        )
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels.reshape(-1, 1)
