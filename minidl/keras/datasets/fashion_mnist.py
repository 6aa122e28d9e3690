"""Fashion-MNIST as Keras serves it: ``(x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()``.

Labels: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker,
8 Bag, 9 Ankle boot.
"""
import os
from pathlib import Path

from minidl.data.datasets import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from minidl.keras.datasets.files import KERAS_DATASETS
from minidl.keras.downloads import get_file

SHA256 = {  # Keras's published hashes of the four gzipped IDX files
    "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
}


def load_data():
    """60000 training and 10000 test grey 28x28 pictures of clothes in 10 classes, from the four
    gzipped IDX files (downloaded once into ``~/.keras/datasets/fashion-mnist/``).

    Returns ``(x_train, y_train), (x_test, y_test)``: uint8 pixels shaped ``(60000, 28, 28)`` and
    ``(10000, 28, 28)``, uint8 labels 0..9 shaped ``(60000,)`` and ``(10000,)``.
    """
    return _split("train"), _split("t10k")


def _split(prefix):
    """``(images, labels)`` of the ``train`` or ``t10k`` files, read by ``md.data``'s IDX reader."""
    return _read(f"{prefix}-images-idx3-ubyte.gz", IMAGES_MAGIC), _read(f"{prefix}-labels-idx1-ubyte.gz", LABELS_MAGIC)


def _read(fname, magic):
    path = get_file(fname, origin=KERAS_DATASETS + fname, file_hash=SHA256[fname],
                    cache_subdir=os.path.join("datasets", "fashion-mnist"))
    return read_idx(Path(path), magic)
