"""Short Keras teaching programs through md.keras, checked against the same network in PyTorch.

Each program is written as a Keras course writes it (only ``tf.keras`` became ``md.keras``).  The
oracle is torch: the same layers built from ``torch.nn``, started from the md.keras model's own
initial weights (copied out with ``get_weights()``, Keras's layouts, and converted here with the
layout rules written out independently), the same loss formula (Keras's: probabilities rescaled
to sum 1 and clipped to [1e-7, 1 - 1e-7] before the log) and the same optimizer formula.  Both
train on the same batches in order (``shuffle=False``); the losses per epoch that ``history``
reports and the predictions afterwards must agree to 1e-5 (float32).
"""
import numpy as np
import pytest

import minidl as md
from minidl import keras
from minidl.keras import layers

EPSILON = 1e-7
pytestmark = pytest.mark.torch


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def fresh_session():
    keras.backend.clear_session()
    md.manual_seed(0)


@pytest.fixture(scope="module")
def digits():
    """300 of the 8x8 digits, channels-last (n, 8, 8, 1) as a Keras course feeds MNIST, and labels."""
    x, y = md.data.load_digits()
    return x[:300].transpose(0, 2, 3, 1).copy(), y[:300]


# ------------------------------------------------------------------ the torch side
def linear(torch, kernel, bias):
    """torch.nn.Linear from a Keras Dense kernel (in, units): torch's weight is (units, in)."""
    module = torch.nn.Linear(*kernel.shape)
    module.weight.data = torch.tensor(kernel.T.copy())
    module.bias.data = torch.tensor(bias)
    return module


def conv(torch, kernel, bias, padding=0):
    """torch.nn.Conv2d from a Keras kernel (kh, kw, in, filters): torch's weight is (filters, in, kh, kw)."""
    module = torch.nn.Conv2d(kernel.shape[2], kernel.shape[3], kernel.shape[:2], padding=padding)
    module.weight.data = torch.tensor(kernel.transpose(3, 2, 0, 1).copy())
    module.bias.data = torch.tensor(bias)
    return module


def keras_log(torch, p):
    """Keras's log of probabilities: rows rescaled to sum 1, clipped, logged."""
    return torch.log(torch.clamp(p / p.sum(-1, keepdim=True), EPSILON, 1 - EPSILON))


def sparse_crossentropy(torch):
    return lambda p, y: -keras_log(torch, p).gather(1, y[:, None]).mean()


def torch_fit(torch, forward, parameters, optimizer, loss_fn, x, y, batch_size, epochs):
    """Keras's fit without shuffling: the per-epoch mean of the batch losses (weighted by batch
    size) and the predictions made on each batch before its step."""
    x, y = torch.tensor(x), torch.tensor(y)
    losses, outputs = [], []
    for _ in range(epochs):
        total, outputs = 0.0, []
        for start in range(0, len(x), batch_size):
            xb, yb = x[start : start + batch_size], y[start : start + batch_size]
            output = forward(xb)
            loss = loss_fn(output, yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
            outputs.append(output.detach().numpy())
        losses.append(total / len(x))
    return losses, np.concatenate(outputs)


def predict(torch, forward, x):
    with torch.no_grad():
        return forward(torch.tensor(x)).numpy()


def assert_same(history_losses, torch_losses, predictions, torch_predictions):
    np.testing.assert_allclose(history_losses, torch_losses, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(predictions, torch_predictions, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ 1. a Dense classifier on the digits
def test_dense_classifier_on_the_digits(torch, digits):
    x, y = digits[0].reshape(-1, 64), digits[1]
    model = keras.Sequential([
        keras.Input(shape=(64,)),
        layers.Dense(32, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy",
                  metrics=["acc"])
    k1, b1, k2, b2 = model.get_weights()
    history = model.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0)

    dense1, dense2 = linear(torch, k1, b1), linear(torch, k2, b2)
    def forward(xb):
        return torch.softmax(dense2(torch.relu(dense1(xb))), dim=-1)
    parameters = [*dense1.parameters(), *dense2.parameters()]
    losses, outputs = torch_fit(torch, forward, parameters, torch.optim.SGD(parameters, lr=0.1),
                                sparse_crossentropy(torch), x, y, 32, 3)
    assert_same(history.history["loss"], losses, model.predict(x), predict(torch, forward, x))
    # "acc" is reported under the name given, and is the accuracy of the last epoch's batches
    assert history.history["acc"][-1] == pytest.approx(np.mean(outputs.argmax(1) == y))


# ------------------------------------------------------------------ 2. a CNN (the documents' shape, small)
def test_cnn_on_channels_last_images(torch, digits):
    x, y = digits
    model = keras.Sequential([
        layers.Conv2D(8, (3, 3), activation="relu", input_shape=(8, 8, 1)),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    kc, bc, kd, bd = model.get_weights()
    assert kc.shape == (3, 3, 1, 8) and kd.shape == (3 * 3 * 8, 10)
    history = model.fit(x, y, batch_size=50, epochs=2, shuffle=False, verbose=0)

    convolution, dense = conv(torch, kc, bc), linear(torch, kd, bd)
    def forward(xb):
        h = torch.nn.functional.max_pool2d(torch.relu(convolution(xb.permute(0, 3, 1, 2))), 2)
        return torch.softmax(dense(h.permute(0, 2, 3, 1).flatten(1)), dim=-1)  # Keras flattens (H, W, C)
    parameters = [*convolution.parameters(), *dense.parameters()]
    adam = torch.optim.Adam(parameters, lr=0.001, betas=(0.9, 0.999), eps=1e-7)  # Keras's defaults
    losses, _ = torch_fit(torch, forward, parameters, adam, sparse_crossentropy(torch), x, y, 50, 2)
    assert_same(history.history["loss"], losses, model.predict(x), predict(torch, forward, x))


# ------------------------------------------------------------------ 3. a regression with MSE
def test_regression_with_mean_squared_error(torch):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3)).astype(np.float32)
    y = (x @ np.array([1.5, -2.0, 0.5]) + 0.3).astype(np.float32)  # (n,): Keras reads it as (n, 1)
    model = keras.Sequential([
        layers.Dense(16, activation="tanh", input_shape=(3,), kernel_initializer="he_normal"),
        layers.Dense(1),
    ])
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.01), loss="mse", metrics=["mae"])
    k1, b1, k2, b2 = model.get_weights()
    history = model.fit(x, y, batch_size=40, epochs=3, shuffle=False, verbose=0)

    dense1, dense2 = linear(torch, k1, b1), linear(torch, k2, b2)
    def forward(xb):
        return dense2(torch.tanh(dense1(xb)))
    parameters = [*dense1.parameters(), *dense2.parameters()]
    rmsprop = torch.optim.RMSprop(parameters, lr=0.01, alpha=0.9, eps=1e-7)  # Keras's rho and epsilon
    losses, outputs = torch_fit(torch, forward, parameters, rmsprop,
                                lambda p, t: ((p - t[:, None]) ** 2).mean(), x, y, 40, 3)
    assert_same(history.history["loss"], losses, model.predict(x), predict(torch, forward, x))
    assert history.history["mae"][-1] == pytest.approx(np.abs(outputs[:, 0] - y).mean(), rel=1e-5)


# ------------------------------------------------------------------ 4. Input + Reshape + GlobalAveragePooling2D
def test_input_reshape_and_global_average_pooling(torch, digits):
    x, labels = digits[0].reshape(-1, 64), digits[1]
    y = keras.utils.to_categorical(labels, 10)
    model = keras.Sequential()
    model.add(keras.Input(shape=(64,)))
    model.add(layers.Reshape((8, 8, 1)))
    model.add(layers.Conv2D(6, 3, padding="same", activation="relu"))
    model.add(layers.GlobalAveragePooling2D())
    model.add(layers.Dense(10, activation="softmax"))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5, momentum=0.9),
                  loss=keras.losses.CategoricalCrossentropy(), metrics=["accuracy"])
    assert [layer.output_shape for layer in model.layers] == [(None, 8, 8, 1), (None, 8, 8, 6), (None, 6), (None, 10)]
    kc, bc, kd, bd = model.get_weights()
    history = model.fit(x, y, batch_size=60, epochs=3, shuffle=False, verbose=0)

    convolution, dense = conv(torch, kc, bc, padding=1), linear(torch, kd, bd)
    def forward(xb):
        images = xb.reshape(-1, 8, 8, 1).permute(0, 3, 1, 2)
        pooled = torch.relu(convolution(images)).mean(dim=(2, 3))
        return torch.softmax(dense(pooled), dim=-1)
    parameters = [*convolution.parameters(), *dense.parameters()]
    sgd = torch.optim.SGD(parameters, lr=0.5, momentum=0.9)
    losses, outputs = torch_fit(torch, forward, parameters, sgd,
                                lambda p, t: -(t * keras_log(torch, p)).sum(-1).mean(), x, y, 60, 3)
    assert_same(history.history["loss"], losses, model.predict(x), predict(torch, forward, x))
    # with one-hot targets, "accuracy" is the categorical accuracy
    assert history.history["accuracy"][-1] == pytest.approx(np.mean(outputs.argmax(1) == labels))


# ------------------------------------------------------------------ 5. save, load, go on training
def test_save_and_load_model_then_keep_training(torch, digits, tmp_path):
    x, y = digits[0].reshape(-1, 64), digits[1]
    model = keras.Sequential([
        keras.Input(shape=(64,)),
        layers.Dense(16, activation="relu", kernel_regularizer=keras.regularizers.l2(0.01)),
        layers.Dropout(0.0),
        layers.Dense(10),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    k1, b1, k2, b2 = model.get_weights()
    first = model.fit(x, y, batch_size=100, epochs=1, shuffle=False, verbose=0)
    model.save(tmp_path / "digits.keras")
    restored = keras.models.load_model(tmp_path / "digits.keras")
    second = restored.fit(x, y, batch_size=100, epochs=1, shuffle=False, verbose=0)  # Adam's moments came along

    dense1, dense2 = linear(torch, k1, b1), linear(torch, k2, b2)
    def forward(xb):
        return dense2(torch.relu(dense1(xb)))
    parameters = [*dense1.parameters(), *dense2.parameters()]
    adam = torch.optim.Adam(parameters, lr=0.01, eps=1e-7)
    def loss_fn(logits, t):  # Keras's l2(0.01) is 0.01 * sum(w^2), added to the loss
        return torch.nn.functional.cross_entropy(logits, t) + 0.01 * (dense1.weight**2).sum()
    losses, _ = torch_fit(torch, forward, parameters, adam, loss_fn, x, y, 100, 2)
    assert_same(first.history["loss"] + second.history["loss"], losses, restored.predict(x), predict(torch, forward, x))


# ------------------------------------------------------------------ 6. recurrent layers: Keras's weight layouts
def torch_recurrent(torch, kind, kernel, recurrent_kernel, bias):
    """torch.nn.LSTM/GRU from Keras's weights.  Keras's kernel is (features, gates * units) with
    the gates side by side; torch stacks them as rows.  LSTM: the same order (i, f, c, o), one
    bias (torch's second bias is zero).  GRU: Keras's z, r, h are torch's r, z, n reordered, and
    its bias (2, 3 * units) holds the input and recurrent biases."""
    units = recurrent_kernel.shape[0]
    module = getattr(torch.nn, kind)(kernel.shape[0], units, batch_first=True)
    def rows(matrix):  # Keras's gate columns -> torch's gate rows
        blocks = np.split(matrix.T, matrix.shape[-1] // units)
        return np.concatenate([blocks[1], blocks[0], blocks[2]] if kind == "GRU" else blocks)
    module.weight_ih_l0.data = torch.tensor(rows(kernel))
    module.weight_hh_l0.data = torch.tensor(rows(recurrent_kernel))
    biases = (bias[0], bias[1]) if kind == "GRU" else (bias, np.zeros_like(bias))
    module.bias_ih_l0.data = torch.tensor(rows(biases[0][None, :])[:, 0].copy())
    module.bias_hh_l0.data = torch.tensor(rows(biases[1][None, :])[:, 0].copy())
    return module


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_embedding_recurrent_binary_classifier(torch, kind):
    rng = np.random.default_rng(1)
    x = rng.integers(1, 20, size=(64, 7))
    y = (x[:, -1] > 10).astype(np.float32)
    model = keras.Sequential([
        layers.Embedding(20, 5, input_length=7),
        getattr(layers, kind)(6),
        layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    embeddings, kernel, recurrent_kernel, bias, kd, bd = model.get_weights()
    if kind == "LSTM":  # Keras's unit_forget_bias: the forget gate's bias starts at one
        np.testing.assert_array_equal(bias, np.r_[np.zeros(6), np.ones(6), np.zeros(12)])
    history = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)

    embedding = torch.nn.Embedding(20, 5)
    embedding.weight.data = torch.tensor(embeddings)
    rnn, dense = torch_recurrent(torch, kind, kernel, recurrent_kernel, bias), linear(torch, kd, bd)
    if kind == "LSTM":
        rnn.bias_hh_l0.requires_grad = False  # Keras's LSTM has one bias
    def forward(xb):
        return torch.sigmoid(dense(rnn(embedding(xb))[0][:, -1]))
    parameters = [embedding.weight, *[p for p in rnn.parameters() if p.requires_grad], *dense.parameters()]
    def loss_fn(p, t):
        p = torch.clamp(p, EPSILON, 1 - EPSILON)
        t = t[:, None]
        return -(t * torch.log(p) + (1 - t) * torch.log(1 - p)).mean()
    losses, _ = torch_fit(torch, forward, parameters, torch.optim.Adam(parameters, lr=0.001, eps=1e-7),
                          loss_fn, x, y, 16, 2)
    assert_same(history.history["loss"], losses, model.predict(x), predict(torch, forward, x))
