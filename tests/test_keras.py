"""md.keras: the documents' tf.keras examples, with only the import lines changed, on small data."""
import numpy as np
import pytest

import minidl as md
from minidl import keras
from minidl.keras import Sequential
from minidl.keras.callbacks import EarlyStopping, ModelCheckpoint
from minidl.keras.layers import (
    LSTM, GRU, Activation, AveragePooling2D, Conv2D, Dense, Dropout, Embedding, Flatten, MaxPooling2D, SimpleRNN,
)
from minidl.keras.preprocessing.sequence import pad_sequences
from minidl.keras.regularizers import l1, l1_l2, l2


@pytest.fixture(autouse=True)
def fresh_session():
    """Each test names its layers from dense, conv2d, ... as a fresh Keras session does."""
    keras.backend.clear_session()


@pytest.fixture(scope="module")
def digits():
    """The 8x8 digits as channels-last images (n, 8, 8, 1), as a Keras document feeds MNIST."""
    x, y = md.data.load_digits()
    return x.transpose(0, 2, 3, 1), y


def mnist_cnn():
    """The documents' MNIST CNN, on 8x8 inputs."""
    return Sequential([
        Conv2D(32, (3, 3), activation="relu", input_shape=(8, 8, 1), padding="same"),
        MaxPooling2D((2, 2)),
        Conv2D(64, (3, 3), activation="relu", padding="same"),
        MaxPooling2D((2, 2)),
        Flatten(),
        Dense(10, activation="softmax"),
    ])


def param_counts(model):
    return [layer.count_params() for layer in model.layers]


# ------------------------------------------------------------------ (a) the MNIST CNN
def test_mnist_cnn_example_learns_the_digits(digits):
    md.manual_seed(0)
    x, y = digits
    model = mnist_cnn()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x[:1400], y[:1400], epochs=2, batch_size=32, verbose=0)
    assert set(history.history) >= {"loss", "accuracy"}
    assert history.history["loss"][1] < history.history["loss"][0]
    loss, accuracy = model.evaluate(x[1400:], y[1400:])
    assert accuracy > 0.6 and loss < 1.5  # chance is 0.1 and ln 10 = 2.3
    probabilities = model.predict(x[1400:1405])
    assert isinstance(probabilities, np.ndarray) and probabilities.shape == (5, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)


def test_summary_counts_parameters_as_keras(capsys):
    model = mnist_cnn()
    model.summary()
    # Keras: (kh * kw * in_channels + 1) * filters for Conv2D, (in + 1) * units for Dense
    assert param_counts(model) == [(3 * 3 * 1 + 1) * 32, 0, (3 * 3 * 32 + 1) * 64, 0, 0, (2 * 2 * 64 + 1) * 10]
    text = capsys.readouterr().out
    assert "conv2d_1 (Conv2D)" in text and "max_pooling2d (MaxPooling2D)" in text
    assert "(None, 2, 2, 64)" in text and "Total params: 21,386" in text


def test_recurrent_parameter_counts_are_keras_counts():
    lstm = Sequential([Embedding(50, 16, input_length=10), LSTM(32), Dense(1)])
    gru = Sequential([GRU(8, input_shape=(5, 3))])
    rnn = Sequential([SimpleRNN(8, input_shape=(5, 3), return_sequences=True)])
    assert param_counts(lstm) == [50 * 16, 4 * (32 * (16 + 32) + 32), 33]
    assert param_counts(gru) == [3 * (8 * (3 + 8) + 2 * 8)]  # reset_after=True: two biases
    assert param_counts(rnn) == [8 * (3 + 8) + 8]
    assert rnn.layers[0].output_shape == (None, 5, 8) and gru.layers[0].output_shape == (None, 8)


# ------------------------------------------------------------------ (b) the Embedding-LSTM sentiment model
def sentiment_data(n, vocab, rng):
    """Token sequences of varied length; a review is positive when it holds one of the tokens
    2..6 ("good" words) and negative when it holds one of 7..11 ("bad" words)."""
    sequences, labels = [], []
    for i in range(n):
        label = i % 2
        words = list(rng.integers(12, vocab, size=rng.integers(3, 12)))
        words.insert(rng.integers(len(words) + 1), rng.integers(2, 7) if label else rng.integers(7, 12))
        sequences.append(words)
        labels.append(label)
    return sequences, np.array(labels)


def test_embedding_lstm_sentiment_example():
    md.manual_seed(0)
    vocab, maxlen = 40, 12
    sequences, labels = sentiment_data(400, vocab, np.random.default_rng(0))
    x = pad_sequences(sequences, maxlen=maxlen)
    model = Sequential([Embedding(vocab, 16, input_length=maxlen), LSTM(32), Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x[:300], labels[:300], epochs=6, batch_size=32, validation_data=(x[300:], labels[300:]),
                        verbose=0)
    assert history.history["val_accuracy"][-1] > 0.85
    assert model.predict(x[:4]).shape == (4, 1)
    bias_hh = model.layers[1].rnn.bias_hh_l0
    assert not bias_hh.requires_grad and np.all(bias_hh.numpy() == 0)  # Keras's LSTM has one bias


# ------------------------------------------------------------------ (c) Dense with an L2 regularizer
def dense_model(regularizer):
    return Sequential([Dense(16, activation="relu", kernel_regularizer=regularizer, input_shape=(10,)),
                       Dense(1, activation="sigmoid")])


def test_l2_regularizer_and_validation_split():
    md.manual_seed(0)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 10))
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    model = dense_model(l2(0.01))
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=32, validation_split=0.2, verbose=0)
    assert set(history.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history.history["val_loss"]) == 3

    plain = dense_model(None)
    plain.compile(optimizer="adam", loss="binary_crossentropy")
    plain.load_state_dict(model.state_dict())
    kernel = model.layers[0].linear.weight.numpy().astype(np.float64)
    expected_penalty = 0.01 * np.sum(kernel**2)
    assert model.evaluate(x, y)[0] - plain.evaluate(x, y) == pytest.approx(expected_penalty, rel=1e-4)


def test_regularizers_follow_keras_formulas():
    w = md.tensor([[1.0, -2.0], [3.0, 0.5]])
    assert l2(0.01)(w).item() == pytest.approx(0.01 * (1 + 4 + 9 + 0.25))
    assert l1(0.1)(w).item() == pytest.approx(0.1 * 6.5)
    assert l1_l2(l1=0.1, l2=0.01)(w).item() == pytest.approx(0.65 + 0.1425)


# ------------------------------------------------------------------ (d) EarlyStopping, ModelCheckpoint, load_weights
def test_early_stopping_checkpoint_and_load_weights(tmp_path):
    md.manual_seed(0)
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(160, 10)), rng.integers(0, 2, size=160)  # random labels: it can only overfit
    model = dense_model(None)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.05), loss="binary_crossentropy",
                  metrics=["accuracy"])
    path = str(tmp_path / "best_model.npz")
    callbacks = [EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True),
                 ModelCheckpoint(path, monitor="val_loss", save_best_only=True)]
    history = model.fit(x, y, epochs=40, validation_split=0.25, callbacks=callbacks, verbose=0)
    assert len(history.history["loss"]) < 40 and history.stop_reason.startswith("EarlyStopping")

    restored = dense_model(None)
    restored.load_weights(path)
    np.testing.assert_array_equal(restored.predict(x), model.predict(x))  # both hold the best epoch


def test_save_weights_and_load_weights_round_trip(tmp_path, digits):
    x, _ = digits
    model, other = mnist_cnn(), mnist_cnn()
    model.save_weights(str(tmp_path / "weights.npz"))
    other.load_weights(str(tmp_path / "weights.npz"))
    np.testing.assert_array_equal(other.predict(x[:8]), model.predict(x[:8]))


# ------------------------------------------------------------------ layers
def test_conv2d_reads_channels_last_images():
    md.manual_seed(0)
    x = np.random.default_rng(3).normal(size=(2, 4, 5, 3)).astype(np.float32)
    layer = Conv2D(6, (1, 1))
    out = layer(md.tensor(x)).numpy()
    w, b = layer.conv.weight.numpy()[:, :, 0, 0], layer.conv.bias.numpy()
    np.testing.assert_allclose(out, x @ w.T + b, rtol=1e-5, atol=1e-6)  # a 1x1 conv mixes channels only
    assert out.shape == (2, 4, 5, 6)


def test_flatten_keeps_channels_last_order():
    x = np.arange(2 * 2 * 2 * 3, dtype=np.float32).reshape(2, 2, 2, 3)
    np.testing.assert_array_equal(Flatten()(md.tensor(x)).numpy(), x.reshape(2, 12))


def test_pooling_dropout_and_activation_layers():
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    np.testing.assert_array_equal(MaxPooling2D()(md.tensor(x)).numpy()[0, :, :, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(AveragePooling2D(2)(md.tensor(x)).numpy()[0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]])
    model = Sequential([Dense(4, input_dim=3), Dropout(0.5), Activation("relu")])
    assert (model.predict(np.ones((2, 3))) >= 0).all()


def test_categorical_crossentropy_and_mse():
    md.manual_seed(0)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(120, 4))
    labels = x[:, :3].argmax(axis=1)
    model = Sequential([Dense(3, activation="softmax", input_shape=(4,))])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5, momentum=0.9), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    one_hot = keras.utils.to_categorical(labels)
    np.testing.assert_array_equal(one_hot, np.eye(3)[labels])
    model.fit(x, one_hot, epochs=5, verbose=0)
    assert model.evaluate(x, one_hot)[1] > 0.8

    regression = Sequential([Dense(1, input_shape=(4,))])
    regression.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.05), loss="mse", metrics=["mae"])
    history = regression.fit(x, x @ np.array([[1.0], [-2.0], [0.5], [0.0]]), epochs=10, verbose=0)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
    assert "mae" in history.history


def test_crossentropy_of_probabilities_is_clipped_as_keras():
    p = md.tensor([[1.0, 0.0], [0.5, 0.5]])
    loss = keras.losses.sparse_categorical_crossentropy(md.tensor([1, 0]), p)
    assert loss.shape == (2,)  # one value per sample, as Keras's function; the Loss objects take the mean
    assert loss.mean().item() == pytest.approx((-np.log(1e-7) - np.log(0.5)) / 2, rel=1e-5)


# ------------------------------------------------------------------ optimizers, paths, padding, errors
def test_optimizers_use_keras_defaults():
    params = [md.nn.Parameter(md.zeros(2))]
    adam = keras.optimizers.Adam().build(params).param_groups[0]
    rmsprop = keras.optimizers.RMSprop().build(params).param_groups[0]
    sgd = keras.optimizers.SGD().build(params).param_groups[0]
    assert (adam["lr"], adam["eps"], adam["betas"]) == (0.001, 1e-7, (0.9, 0.999))
    assert (rmsprop["lr"], rmsprop["alpha"], rmsprop["eps"]) == (0.001, 0.9, 1e-7)
    assert (sgd["lr"], sgd["momentum"]) == (0.01, 0.0)


def test_document_module_paths_exist():
    assert md.keras.Sequential is md.keras.models.Sequential
    for path in ("layers.Dense", "layers.Conv2D", "layers.LSTM", "optimizers.Adam", "optimizers.SGD",
                 "optimizers.RMSprop", "regularizers.l2", "regularizers.l1", "callbacks.EarlyStopping",
                 "callbacks.ModelCheckpoint", "utils.to_categorical", "preprocessing.sequence.pad_sequences",
                 "Input", "layers.Input", "layers.InputLayer", "layers.Reshape", "layers.GlobalAveragePooling2D",
                 "initializers.HeNormal", "initializers.GlorotUniform", "losses.SparseCategoricalCrossentropy",
                 "losses.CategoricalCrossentropy", "models.load_model", "backend.clear_session"):
        owner = md.keras
        for part in path.split("."):
            owner = getattr(owner, part)


def test_pad_sequences_defaults_are_pre():
    sequences = [[1, 2, 3], [4, 5], [6, 7, 8, 9]]
    np.testing.assert_array_equal(pad_sequences(sequences, maxlen=3), [[1, 2, 3], [0, 4, 5], [7, 8, 9]])
    post = pad_sequences(sequences, maxlen=3, padding="post", truncating="post", value=-1)
    np.testing.assert_array_equal(post, [[1, 2, 3], [4, 5, -1], [6, 7, 8]])
    longest = pad_sequences(sequences)
    assert longest.shape == (3, 4) and longest.dtype == np.int32 and list(longest[1]) == [0, 0, 4, 5]
    with pytest.raises(ValueError, match="padding must be 'pre' or 'post'"):
        pad_sequences(sequences, padding="middle")


@pytest.mark.parametrize("make, names", [
    (lambda: Dense(3, activation="relux"), "relu, sigmoid"),
    (lambda: Sequential([Dense(1, input_shape=(2,))]).compile(optimizer="adam", loss="hinge"), "binary_crossentropy"),
    (lambda: Sequential([Dense(1, input_shape=(2,))]).compile(optimizer="adamw", loss="mse"), "adam, sgd, rmsprop"),
    (lambda: Conv2D(8, 3, padding="full"), "'valid', 'same'"),
])
def test_unknown_names_list_the_valid_ones(make, names):
    with pytest.raises(ValueError, match=names):
        make()


def test_misuse_gives_clear_errors():
    model = Sequential([Dense(1, input_shape=(2,))])
    with pytest.raises(RuntimeError, match="compiled first"):
        model.fit(np.zeros((4, 2)), np.zeros(4))
    with pytest.raises(ValueError, match=r"conv2d: expected input of shape \(batch, height, width, channels\), got \(None, 8, 8\)"):
        Sequential([Conv2D(4, 3, input_shape=(8, 8))])
    with pytest.raises(ValueError, match="predict: the model has no layers"):
        Sequential().predict(np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"to_categorical: labels must lie in \[0, 1\]"):
        keras.utils.to_categorical([0, 2], num_classes=2)
    with pytest.raises(TypeError, match="expected a layer of md.keras.layers"):
        Sequential([md.nn.Linear(2, 2)])
