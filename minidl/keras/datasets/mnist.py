"""MNIST as Keras serves it: ``(x_train, y_train), (x_test, y_test) = mnist.load_data()``."""
from minidl.keras.datasets.files import KERAS_DATASETS, load_npz
from minidl.keras.downloads import get_file

SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"


def load_data(path="mnist.npz"):
    """60000 training and 10000 test grey 28x28 digits, from Keras's ``mnist.npz`` (downloaded
    once into ``~/.keras/datasets/path``).

    Returns ``(x_train, y_train), (x_test, y_test)``: uint8 pixels 0..255 shaped
    ``(60000, 28, 28)`` and ``(10000, 28, 28)``, uint8 labels 0..9 shaped ``(60000,)`` and ``(10000,)``.
    """
    arrays = load_npz(get_file(path, origin=KERAS_DATASETS + "mnist.npz", file_hash=SHA256),
                      ("x_train", "y_train", "x_test", "y_test"))
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
