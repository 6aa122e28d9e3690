"""``md.keras.datasets``: Keras's ready-made datasets, downloaded once into Keras's cache by
``md.keras.utils.get_file`` and returned as Keras returns them.

    (x_train, y_train), (x_test, y_test) = md.keras.datasets.mnist.load_data()
"""
from minidl.keras.datasets import cifar10, fashion_mnist, imdb, mnist
