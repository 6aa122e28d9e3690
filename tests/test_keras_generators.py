"""md.keras's fit, evaluate and predict on Python generators and Sequences of batches, as Keras:
``steps_per_epoch``, ``validation_data`` a generator with ``validation_steps``, ``on_epoch_end``
after each epoch, and Keras's errors for a generator without steps or of the wrong shapes."""
import math
import re

import numpy as np
import pytest

import minidl as md
from minidl import keras
from minidl.keras import layers
from minidl.train import Callback

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 6)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0)  # three classes
X_VAL, Y_VAL = X[:12] + 0.5, Y[:12]
BATCH = 8


@pytest.fixture(autouse=True)
def fresh_session():
    keras.backend.clear_session()


def mlp(weights=None):
    model = keras.Sequential([keras.Input(shape=(6,)), layers.Dense(5, activation="relu"),
                              layers.Dense(3, activation="softmax")])
    if weights is not None:
        model.set_weights(weights)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def forever(x, y=None, batch_size=BATCH):
    """A Keras-style generator: the batches of (x, y), again and again."""
    while True:
        for start in range(0, len(x), batch_size):
            rows = slice(start, start + batch_size)
            yield x[rows] if y is None else (x[rows], y[rows])


class Batches:
    """A Sequence by duck typing (``len`` and ``[i]``) that records what fit asked of it."""

    def __init__(self, x, y, batch_size=BATCH):
        self.x, self.y, self.batch_size = x, y, batch_size
        self.read, self.epochs_ended = [], 0

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index):
        self.read.append(index)
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[rows], self.y[rows]

    def on_epoch_end(self):
        self.epochs_ended += 1


def raises(message, action, error=ValueError):
    with pytest.raises(error, match=re.escape(message)):
        action()


def test_a_generator_trains_as_the_same_arrays_batch_for_batch():
    start = mlp().get_weights()
    on_arrays, on_generator = mlp(start), mlp(start)
    expected = on_arrays.fit(X, Y, batch_size=BATCH, epochs=3, shuffle=False, verbose=0,
                             validation_data=(X_VAL, Y_VAL))
    history = on_generator.fit(forever(X, Y), steps_per_epoch=5, epochs=3, verbose=0,
                               validation_data=forever(X_VAL, Y_VAL), validation_steps=2)
    assert set(history.history) == set(expected.history)
    for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(history.history[name], expected.history[name], atol=1e-6)
    for trained, reference in zip(on_generator.get_weights(), on_arrays.get_weights()):
        np.testing.assert_allclose(trained, reference, atol=1e-6)
    assert not np.allclose(on_generator.get_weights()[0], start[0])  # it did train


def test_a_sequence_is_read_once_per_epoch_with_on_epoch_end_after_each():
    batches = Batches(X, Y)
    mlp().fit(batches, epochs=3, shuffle=False, verbose=0)
    assert batches.read == [0, 1, 2, 3, 4] * 3
    assert batches.epochs_ended == 3


def test_a_sequence_is_shuffled_batch_by_batch_with_shuffle():
    md.manual_seed(0)
    batches = Batches(X, Y)
    mlp().fit(batches, epochs=2, verbose=0)
    first, second = batches.read[:5], batches.read[5:]
    assert sorted(first) == sorted(second) == [0, 1, 2, 3, 4]
    assert batches.read != [0, 1, 2, 3, 4] * 2


def test_steps_per_epoch_shorter_than_the_data_goes_on_where_the_last_epoch_stopped():
    batches = Batches(X, Y)
    history = mlp().fit(batches, steps_per_epoch=2, epochs=3, shuffle=False, verbose=0)
    assert batches.read == [0, 1, 2, 3, 4, 0]
    assert batches.epochs_ended == 3 and len(history.history["loss"]) == 3

    taken = []

    def counted():
        for batch in forever(X, Y):
            taken.append(len(batch[0]))
            yield batch

    mlp().fit(counted(), steps_per_epoch=2, epochs=3, verbose=0)
    assert taken == [8] * 6


def test_validation_data_as_a_sequence_and_callbacks_see_every_batch():
    class CountBatches(Callback):
        count = 0

        def on_batch_end(self, state):
            CountBatches.count += 1

    validation = Batches(X_VAL, Y_VAL, batch_size=5)
    history = mlp().fit(forever(X, Y), steps_per_epoch=4, epochs=2, validation_data=validation,
                        callbacks=[CountBatches()], verbose=0)
    assert CountBatches.count == 8
    assert validation.read == [0, 1, 2] * 2 and validation.epochs_ended == 2
    assert len(history.history["val_loss"]) == 2


def test_the_progress_bar_counts_the_steps(capsys):
    mlp().fit(forever(X, Y), steps_per_epoch=3, epochs=2, verbose=1)
    shown = capsys.readouterr().err
    assert "epoch 2/2" in shown and "3/3" in shown


def test_predict_and_evaluate_on_generators():
    model = mlp()
    probabilities = model.predict(X, verbose=0)
    np.testing.assert_allclose(model.predict(forever(X), steps=5), probabilities, atol=1e-6)
    np.testing.assert_allclose(model.predict(forever(X, Y), steps=5), probabilities, atol=1e-6)
    np.testing.assert_allclose(model.predict(Batches(X, Y)), probabilities, atol=1e-6)
    loss, accuracy = model.evaluate(forever(X, Y), steps=5, verbose=0)
    expected_loss = -np.mean(np.log(probabilities[np.arange(len(Y)), Y]))  # sparse crossentropy from its definition
    assert loss == pytest.approx(expected_loss, abs=1e-5)
    assert accuracy == pytest.approx(np.mean(probabilities.argmax(axis=1) == Y))
    assert model.evaluate(Batches(X, Y), verbose=0) == pytest.approx([loss, accuracy], abs=1e-6)


def test_a_generator_without_steps_gives_keras_error():
    model = mlp()
    raises("fit: `steps_per_epoch=None` is only valid for a generator based on the `keras.utils.Sequence` class. "
           "Please specify `steps_per_epoch` or use the `keras.utils.Sequence` class.",
           lambda: model.fit(forever(X, Y), epochs=2, verbose=0))
    raises("`validation_steps=None` is only valid for a generator based on the `keras.utils.Sequence` class",
           lambda: model.fit(Batches(X, Y), validation_data=forever(X_VAL, Y_VAL), verbose=0))
    raises("evaluate: `steps=None` is only valid", lambda: model.evaluate(forever(X, Y), verbose=0))
    raises("predict: `steps=None` is only valid", lambda: model.predict(forever(X)))


def test_a_generator_that_runs_out_says_how_many_batches_it_gave():
    raises("fit: your input ran out of data after 3 batches",
           lambda: mlp().fit(iter([(X[:8], Y[:8])] * 3), steps_per_epoch=2, epochs=2, verbose=0))


def test_wrong_shapes_from_a_generator_name_the_layer():
    model = keras.Sequential([keras.Input(shape=(28, 28, 1)), layers.Conv2D(4, 3, activation="relu"),
                              layers.Flatten(), layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    images, labels = np.zeros((8, 28, 28, 1), np.float32), np.arange(8)
    raises("conv2d: expected input of shape (None, 28, 28, 1), got (8, 28, 28); add the channels axis",
           lambda: model.fit(forever(images[..., 0], keras.utils.to_categorical(labels, 10)), steps_per_epoch=1,
                             verbose=0))
    raises("categorical_crossentropy: expected targets of shape (None, 10) to match the output of dense, got (8,)",
           lambda: model.fit(forever(images, labels), steps_per_epoch=1, verbose=0))

    def second_batch_wrong():
        yield images, keras.utils.to_categorical(labels, 10)
        yield np.zeros((8, 28, 28, 3), np.float32), keras.utils.to_categorical(labels, 10)

    raises("conv2d: expected input of shape (None, 28, 28, 1), got (8, 28, 28, 3)",
           lambda: model.fit(second_batch_wrong(), steps_per_epoch=2, verbose=0))


def test_batches_must_be_pairs_and_sample_weights_are_refused():
    model = mlp()
    raises("fit: each batch of a generator or Sequence must be a tuple (x, y) or (x, y, sample_weight), got ndarray",
           lambda: model.fit(forever(X), steps_per_epoch=1, verbose=0))
    model.fit(iter([(X, Y, None)]), steps_per_epoch=1, verbose=0)
    raises("fit: md.keras does not weight samples", lambda: model.fit(iter([(X, Y, np.ones(40))]), steps_per_epoch=1,
                                                                      verbose=0), NotImplementedError)
    raises("fit: validation_split is only supported for NumPy arrays",
           lambda: model.fit(forever(X, Y), steps_per_epoch=1, validation_split=0.2, verbose=0))
    raises("fit: steps_per_epoch is for generators and Sequences",
           lambda: model.fit(X, Y, steps_per_epoch=2, verbose=0))
    raises("fit: steps_per_epoch must be a positive integer, got 0",
           lambda: model.fit(forever(X, Y), steps_per_epoch=0, verbose=0))


def test_validation_data_that_is_not_a_pair_is_refused():
    """A bare array as validation_data must not be read as its first two samples."""
    model = keras.Sequential([layers.Dense(2, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.zeros((4, 3), np.float32), np.zeros((4, 2), np.float32)
    with pytest.raises(ValueError, match=r"validation_data must be a tuple \(x_val, y_val\).*got ndarray"):
        model.fit(x, y, epochs=1, verbose=0, validation_data=x)
    with pytest.raises(ValueError, match="got tuple of length 1"):
        model.fit(x, y, epochs=1, verbose=0, validation_data=(x,))
