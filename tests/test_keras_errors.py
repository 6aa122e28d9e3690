"""md.keras's errors speak Keras's terms: the user's channels-last shapes, the layer's name, the
usual fix; never an engine op's name or the transposed NCHW shape."""
import re

import numpy as np
import pytest

from minidl import keras
from minidl.keras import layers


@pytest.fixture(autouse=True)
def fresh_session():
    keras.backend.clear_session()


IMAGES = np.zeros((64, 28, 28, 1), dtype=np.float32)
LABELS = np.arange(64) % 10


def cnn(loss="sparse_categorical_crossentropy"):
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(4, 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss=loss)
    return model


def raises(message, action, error=ValueError):
    with pytest.raises(error, match=re.escape(message)):
        action()


def test_integer_labels_with_categorical_crossentropy():
    raises('categorical_crossentropy: expected targets of shape (None, 10) to match the output of dense, got (64,); '
           'integer class labels need loss="sparse_categorical_crossentropy", or one-hot targets: '
           "y = md.keras.utils.to_categorical(y, 10)",
           lambda: cnn("categorical_crossentropy").fit(IMAGES, LABELS, verbose=0))


def test_one_hot_targets_with_sparse_crossentropy():
    raises("sparse_categorical_crossentropy: expected targets of shape (None,) to match the output of dense, got (64, 10); "
           'one-hot targets need loss="categorical_crossentropy"',
           lambda: cnn().fit(IMAGES, keras.utils.to_categorical(LABELS, 10), verbose=0))


def test_channels_first_images_name_the_layer_and_the_users_shape():
    raises("conv2d: expected input of shape (None, 28, 28, 1), got (32, 1, 28, 28); the data is channels-first",
           lambda: cnn().fit(IMAGES.transpose(0, 3, 1, 2), LABELS, verbose=0))


def test_images_without_the_channels_axis():
    raises("conv2d: expected input of shape (None, 28, 28, 1), got (32, 28, 28); add the channels axis: "
           "x.reshape(-1, 28, 28, 1)", lambda: cnn().fit(IMAGES[..., 0], LABELS, verbose=0))


def test_one_sample_without_the_batch_axis():
    raises("conv2d: expected input of shape (None, 28, 28, 1), got (28, 28, 1); one sample still needs the batch axis",
           lambda: cnn().predict(IMAGES[0]))


def test_input_shape_without_channels():
    raises("conv2d: expected input of shape (batch, height, width, channels), got (None, 28, 28); for one-channel "
           "images add the channels axis: input_shape=(28, 28, 1)",
           lambda: keras.Sequential([layers.Conv2D(4, 3, input_shape=(28, 28))]))


def test_images_into_dense_without_flatten():
    model = keras.Sequential([layers.Dense(10, activation="softmax", input_shape=(784,))])
    model.compile(loss="sparse_categorical_crossentropy")
    raises("dense: expected input of shape (None, 784), got (32, 28, 28, 1); flatten each sample first: "
           "put Flatten() before this layer", lambda: model.fit(IMAGES, LABELS, verbose=0))


def test_dense_on_feature_maps_without_flatten():
    model = keras.Sequential([keras.Input(shape=(28, 28, 1)), layers.Conv2D(4, 3), layers.Dense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy")
    raises("sparse_categorical_crossentropy: expected targets of shape (None, 26, 26) to match the output of dense, "
           "got (64,); to classify whole samples, put Flatten() or GlobalAveragePooling2D() before the last Dense layer",
           lambda: model.fit(IMAGES, LABELS, verbose=0))


def test_fewer_output_units_than_classes():
    model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(1, activation="sigmoid")])
    model.compile(loss="sparse_categorical_crossentropy")
    raises("sparse_categorical_crossentropy: dense has 1 unit but the labels go up to 9: it needs one unit per class, "
           "e.g. Dense(10, activation='softmax')", lambda: model.fit(np.zeros((64, 4)), LABELS, verbose=0))


def test_one_hot_width_differs_from_output_units():
    model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(3, activation="softmax")])
    model.compile(loss="categorical_crossentropy")
    raises("categorical_crossentropy: expected targets of shape (None, 3) to match the output of dense, got (64, 10); "
           "the output has 3 units and y has 10 columns",
           lambda: model.fit(np.zeros((64, 4)), keras.utils.to_categorical(LABELS, 10), verbose=0))


def test_binary_crossentropy_on_many_units():
    model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(10, activation="softmax")])
    model.compile(loss="binary_crossentropy")
    raises("binary_crossentropy: expected targets of shape (None, 10) to match the output of dense, got (64,); "
           "binary_crossentropy compares each output with a 0/1 target: end with Dense(1, activation='sigmoid')",
           lambda: model.evaluate(np.zeros((64, 4)), LABELS % 2))


def test_loss_function_called_directly_names_the_shapes():
    raises("categorical_crossentropy: expected targets of shape (2, 3), got (2,); integer class labels need",
           lambda: keras.losses.categorical_crossentropy(np.array([1, 2]), np.full((2, 3), 1 / 3)))


def test_windows_larger_than_the_images():
    raises("conv2d_1: the input of shape (None, 2, 2, 4) is smaller than kernel_size=(3, 3); use padding='same'",
           lambda: keras.Sequential([keras.Input(shape=(8, 8, 1)), layers.Conv2D(4, 3), layers.MaxPooling2D(3),
                                     layers.Conv2D(4, 3)]))


def test_reshape_to_a_different_size():
    raises("reshape: cannot reshape samples of shape (784,) (784 values) into target_shape (28, 28, 2) (1568 values)",
           lambda: keras.Sequential([keras.Input(shape=(784,)), layers.Reshape((28, 28, 2))]))


def test_token_ids_beyond_the_vocabulary():
    raises("embedding: token ids must be below input_dim=10, got 12",
           lambda: keras.Sequential([layers.Embedding(10, 4)]).predict(np.array([[1, 12]])))


def test_missing_targets_and_targets_beside_a_generator():
    model = cnn()
    raises("fit: y is missing; give the targets as y, or x as a generator or Sequence",
           lambda: model.fit(IMAGES, verbose=0))
    raises("fit: y must be None when x is a generator or Sequence",
           lambda: model.fit(iter([(IMAGES, LABELS)]), LABELS, steps_per_epoch=1, verbose=0))
    raises("fit: x must be a NumPy array (samples on the first axis), a generator or a keras.utils.Sequence, got dict",
           lambda: model.fit({"images": IMAGES}, LABELS, verbose=0), TypeError)


def test_misspelt_arguments_and_missing_loss():
    raises("Unrecognized keyword arguments passed to Dense: {'kernel_initialiser': 'he_normal'}",
           lambda: layers.Dense(3, kernel_initialiser="he_normal"), TypeError)
    model = keras.Sequential([keras.Input(shape=(2,)), layers.Dense(1)])
    model.compile(optimizer="adam")
    raises("fit: no loss to compute; give one to compile", lambda: model.fit(np.zeros((4, 2)), np.zeros(4), verbose=0))


def test_input_after_layers_and_duplicate_names():
    raises("keras.Input(...) must be the first entry of the model",
           lambda: keras.Sequential([layers.Dense(2), keras.Input(shape=(3,))]))
    raises("Name 'head' is already the name of a layer in this model",
           lambda: keras.Sequential([layers.Dense(2, name="head"), layers.Dense(2, name="head")]))
