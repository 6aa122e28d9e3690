"""md.keras's everyday names: Input, layer names, Reshape, global pooling, initializers,
get_weights/set_weights in Keras's layouts, loss objects, metric aliases, save/load_model."""
import math

import numpy as np
import pytest

import minidl as md
from minidl import keras
from minidl.keras import initializers, layers


@pytest.fixture(autouse=True)
def fresh_session():
    keras.backend.clear_session()
    md.manual_seed(0)


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def rand(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


# ------------------------------------------------------------------ Input and names
def test_input_declares_the_shape_and_is_not_a_layer():
    model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(3), layers.Dense(2)])
    assert model.built and len(model.layers) == 2
    assert model.input_shape == (None, 4) and model.output_shape == (None, 2)
    assert keras.Input(shape=(28, 28, 1)).shape == (None, 28, 28, 1)
    assert keras.Input(batch_shape=(8, 3)).shape == (8, 3)

    added = keras.Sequential()
    added.add(layers.InputLayer(input_shape=(4,)))
    added.add(layers.Dense(3))
    assert added.built and added.layers[0].get_weights()[0].shape == (4, 3)


def test_integer_input_feeds_token_ids():
    model = keras.Sequential([keras.Input(shape=(5,), dtype="int32"), layers.Embedding(10, 3), layers.Flatten()])
    assert model.predict(np.array([[1, 2, 3, 4, 9]])).shape == (1, 15)


def test_layers_are_named_as_keras_names_them():
    first = keras.Sequential([layers.Dense(2), layers.Dense(2), layers.MaxPooling2D(), layers.SimpleRNN(2)])
    second = keras.Sequential([layers.Dense(2, name="head"), layers.GlobalAveragePooling2D(), layers.Dense(2)])
    assert [layer.name for layer in first.layers] == ["dense", "dense_1", "max_pooling2d", "simple_rnn"]
    assert [layer.name for layer in second.layers] == ["head", "global_average_pooling2d", "dense_2"]
    assert (first.name, second.name) == ("sequential", "sequential_1")
    assert second.get_layer("dense_2") is second.layers[2]
    keras.backend.clear_session()
    assert layers.Dense(2).name == "dense"


def test_summary_names_the_model_and_its_layers(capsys):
    keras.Sequential([keras.Input(shape=(8, 8, 1)), layers.Conv2D(4, 3), layers.GlobalMaxPooling2D()]).summary()
    text = capsys.readouterr().out
    assert 'Model: "sequential"' in text and "conv2d (Conv2D)" in text and "(None, 6, 6, 4)" in text
    assert "global_max_pooling2d (GlobalMaxPooling2D)" in text and "(None, 4)" in text


# ------------------------------------------------------------------ Reshape and global pooling
def test_reshape_works_out_its_minus_one():
    x = np.arange(2 * 12, dtype=np.float32).reshape(2, 12)
    model = keras.Sequential([keras.Input(shape=(12,)), layers.Reshape((-1, 2, 3))])
    assert model.output_shape == (None, 2, 2, 3)
    np.testing.assert_array_equal(model.predict(x), x.reshape(2, 2, 2, 3))


@pytest.mark.torch
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_matches_torch_on_channels_last(torch, keepdims):
    x = rand(2, 5, 4, 3)
    average = layers.GlobalAveragePooling2D(keepdims=keepdims)(md.tensor(x)).numpy()
    largest = layers.GlobalMaxPooling2D(keepdims=keepdims)(md.tensor(x)).numpy()
    nchw = torch.tensor(x).permute(0, 3, 1, 2)
    expected_average = torch.nn.functional.adaptive_avg_pool2d(nchw, 1).permute(0, 2, 3, 1).numpy()
    expected_largest = torch.nn.functional.adaptive_max_pool2d(nchw, 1).permute(0, 2, 3, 1).numpy()
    if not keepdims:
        expected_average, expected_largest = expected_average[:, 0, 0], expected_largest[:, 0, 0]
    np.testing.assert_allclose(average, expected_average, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(largest, expected_largest)


# ------------------------------------------------------------------ initializers
@pytest.mark.parametrize("name, value", [("zeros", 0.0), ("ones", 1.0), (initializers.Constant(0.5), 0.5)])
def test_constant_initializers(name, value):
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(2, kernel_initializer=name, bias_initializer=name)])
    kernel, bias = model.get_weights()
    assert np.all(kernel == value) and np.all(bias == value)


def conv_kernel(initializer):
    """A Conv2D kernel (3, 3, 4, 8) made by ``initializer``: fan_in 36, fan_out 72."""
    layer = layers.Conv2D(8, 3, kernel_initializer=initializer)
    keras.Sequential([keras.Input(shape=(6, 6, 4)), layer])
    return layer.get_weights()[0].astype(np.float64)


@pytest.mark.parametrize("name, bound", [
    ("glorot_uniform", math.sqrt(6 / (36 + 72))), ("he_uniform", math.sqrt(6 / 36)), ("lecun_uniform", math.sqrt(3 / 36)),
])
def test_uniform_variance_scaling_uses_keras_fans(name, bound):
    kernel = np.concatenate([conv_kernel(name).ravel() for _ in range(20)])
    assert np.abs(kernel).max() <= bound and np.abs(kernel).max() > 0.98 * bound
    assert kernel.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)


@pytest.mark.parametrize("name, std", [("he_normal", math.sqrt(2 / 36)), ("glorot_normal", math.sqrt(2 / (36 + 72)))])
def test_normal_variance_scaling_is_truncated_at_two_std(name, std):
    kernel = np.concatenate([conv_kernel(name).ravel() for _ in range(20)])
    assert kernel.std() == pytest.approx(std, rel=0.05)  # the 0.8796 correction keeps the variance
    assert np.abs(kernel).max() <= 2 * std / 0.87962566103423978


def test_seeded_initializers_repeat_and_unseeded_follow_manual_seed():
    assert np.array_equal(initializers.HeNormal(seed=3)((4, 5)), initializers.HeNormal(seed=3)((4, 5)))
    md.manual_seed(7)
    first = conv_kernel("glorot_uniform")
    md.manual_seed(7)
    np.testing.assert_array_equal(conv_kernel(initializers.get("GlorotUniform")), first)


def test_orthogonal_and_lstm_initial_values():
    q = initializers.Orthogonal(seed=0)((3, 12))
    np.testing.assert_allclose(q @ q.T, np.eye(3), atol=1e-6)
    lstm = keras.Sequential([keras.Input(shape=(5, 2)), layers.LSTM(3)]).layers[0]
    kernel, recurrent, bias = lstm.get_weights()
    assert (kernel.shape, recurrent.shape) == ((2, 12), (3, 12))
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(3), atol=1e-6)
    np.testing.assert_array_equal(bias, np.r_[np.zeros(3), np.ones(3), np.zeros(6)])


def test_unknown_initializer_lists_the_names():
    with pytest.raises(ValueError, match="unknown name 'he_norm'; expected one of .*he_normal"):
        layers.Dense(3, kernel_initializer="he_norm")


# ------------------------------------------------------------------ get_weights / set_weights
def test_dense_weights_are_keras_layout():
    layer = layers.Dense(3, activation="relu")
    model = keras.Sequential([keras.Input(shape=(4,)), layer])
    kernel, bias = rand(4, 3, seed=1), rand(3, seed=2)
    layer.set_weights([kernel, bias])
    x = rand(5, 4, seed=3)
    np.testing.assert_allclose(model.predict(x), np.maximum(x @ kernel + bias, 0), rtol=1e-5, atol=1e-6)


@pytest.mark.torch
def test_conv2d_weights_are_keras_layout(torch):
    layer = layers.Conv2D(5, (3, 2), padding="valid")
    model = keras.Sequential([keras.Input(shape=(6, 7, 4)), layer])
    kernel, bias = rand(3, 2, 4, 5, seed=1), rand(5, seed=2)
    model.set_weights([kernel, bias])
    x = rand(2, 6, 7, 4, seed=3)
    expected = torch.nn.functional.conv2d(torch.tensor(x).permute(0, 3, 1, 2),
                                          torch.tensor(kernel).permute(3, 2, 0, 1), torch.tensor(bias))
    np.testing.assert_allclose(model.predict(x), expected.permute(0, 2, 3, 1).numpy(), rtol=1e-5, atol=1e-5)
    assert all(isinstance(w, np.ndarray) for w in model.get_weights())


def test_model_weights_copy_between_models():
    def make():
        return keras.Sequential([keras.Input(shape=(3,)), layers.Dense(4), layers.Dense(2, use_bias=False)])
    source, target = make(), make()
    assert [w.shape for w in source.get_weights()] == [(3, 4), (4,), (4, 2)]
    target.set_weights(source.get_weights())
    x = rand(3, 3)
    np.testing.assert_array_equal(target.predict(x), source.predict(x))
    assert layers.Dense(2).get_weights() == []  # not built yet


def test_set_weights_errors_are_keras_messages():
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(4)])
    with pytest.raises(ValueError, match="on layer 'dense' with a weight list of length 1, but the layer was expecting 2"):
        model.layers[0].set_weights([np.zeros((3, 4))])
    with pytest.raises(ValueError, match=r"Layer dense weight shape \(3, 4\) is not compatible with provided weight shape \(4, 3\)"):
        model.set_weights([np.zeros((4, 3)), np.zeros(4)])
    with pytest.raises(ValueError, match="on layer 'sequential' with a weight list of length 3"):
        model.set_weights([np.zeros((3, 4)), np.zeros(4), np.zeros(4)])


# ------------------------------------------------------------------ losses and metrics
@pytest.mark.torch
def test_loss_objects_from_logits_match_torch(torch):
    logits, labels = rand(6, 4), np.array([0, 3, 1, 2, 3, 0])
    t_logits, t_labels = torch.tensor(logits), torch.tensor(labels)
    one_hot = np.eye(4, dtype=np.float32)[labels]
    sparse = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, md.tensor(logits))
    categorical = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)(one_hot, logits)
    binary = keras.losses.BinaryCrossentropy(from_logits=True)(one_hot, logits)
    F = torch.nn.functional
    assert sparse.item() == pytest.approx(F.cross_entropy(t_logits, t_labels).item(), rel=1e-6)
    assert categorical.item() == pytest.approx(F.cross_entropy(t_logits, t_labels, label_smoothing=0.1).item(), rel=1e-6)
    assert binary.item() == pytest.approx(F.binary_cross_entropy_with_logits(t_logits, torch.tensor(one_hot)).item(), rel=1e-6)


@pytest.mark.torch
def test_loss_functions_give_one_value_per_sample(torch):
    p = np.array([[0.2, 0.8], [0.6, 0.4], [1.0, 0.0]], dtype=np.float32)
    values = keras.losses.categorical_crossentropy(np.eye(2, dtype=np.float32)[[1, 0, 1]], p).numpy()
    expected = -torch.log(torch.tensor([0.8, 0.6, 1e-7])).numpy()
    np.testing.assert_allclose(values, expected, rtol=1e-6)
    assert keras.losses.mse(np.ones((3, 2)), np.zeros((3, 2))).shape == (3,)


@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", "SparseCategoricalCrossentropy",
                                  keras.losses.SparseCategoricalCrossentropy(),
                                  keras.losses.sparse_categorical_crossentropy])
def test_loss_names_and_objects_are_the_same_loss(loss):
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(2, activation="softmax", kernel_initializer="ones")])
    model.compile(loss=loss)
    # equal weights give equal logits: p = 1/2 for both classes, whatever the label
    assert model.evaluate(np.ones((4, 3)), np.array([0, 1, 1, 0])) == pytest.approx(np.log(2), rel=1e-6)
    assert model.compiled.loss.kind == "sparse"


def test_metric_aliases_are_reported_under_the_given_name():
    x = rand(40, 3)
    y = (x[:, 0] > 0).astype(np.int64)
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["acc", "mse", "binary_accuracy"])
    history = model.fit(x, y, epochs=1, verbose=0)
    assert {"acc", "mse", "binary_accuracy"} <= set(history.history)
    assert history.history["acc"] == history.history["binary_accuracy"]  # one sigmoid unit: binary accuracy
    loss, acc, mse, _ = model.evaluate(x, y)
    p = model.predict(x)[:, 0]
    assert acc == np.mean((p > 0.5) == y) and mse == pytest.approx(np.mean((p - y) ** 2), rel=1e-5)
    with pytest.raises(ValueError, match="unknown metric 'acuracy'"):
        model.compile(loss="mse", metrics=["acuracy"])


# ------------------------------------------------------------------ save and load_model
def saved_and_loaded(model, tmp_path, **load_arguments):
    model.save(tmp_path / "model.keras")
    return keras.models.load_model(tmp_path / "model.keras", **load_arguments)


def test_load_model_rebuilds_the_architecture_and_weights(tmp_path):
    model = keras.Sequential([
        keras.Input(shape=(6, 6, 2)),
        layers.Conv2D(3, 3, padding="same", activation="relu", kernel_initializer=initializers.HeNormal(seed=1),
                      kernel_regularizer=keras.regularizers.l2(0.05)),
        layers.AveragePooling2D(2),
        layers.Flatten(),
        layers.Dropout(0.3),
        layers.Dense(4, activation="softmax", name="probabilities"),
    ])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.5),
                  loss="categorical_crossentropy", metrics=["acc"])
    loaded = saved_and_loaded(model, tmp_path)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert [layer.get_config() for layer in loaded.layers] == [layer.get_config() for layer in model.layers]
    assert layers.Conv2D.from_config(model.layers[0].get_config()).get_config() == model.layers[0].get_config()
    x = rand(3, 6, 6, 2)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.compiled.get_config() == model.compiled.get_config()
    assert loaded.layers[0].penalty().item() == pytest.approx(model.layers[0].penalty().item())


def test_model_built_from_data_and_recurrent_layers_round_trip(tmp_path):
    model = keras.Sequential([layers.Embedding(12, 4), layers.GRU(3, return_sequences=True), layers.SimpleRNN(2)])
    x = np.random.default_rng(0).integers(0, 12, size=(2, 5))
    expected = model.predict(x)
    loaded = saved_and_loaded(model, tmp_path)
    np.testing.assert_array_equal(loaded.predict(x), expected)
    assert loaded.compiled is None


def test_functions_of_your_own_come_back_through_custom_objects(tmp_path):
    def scaled_tanh(x):
        return 2 * md.tanh(x)

    def half_mse(y_true, y_pred):
        return 0.5 * ((y_pred - y_true) ** 2).mean()

    model = keras.Sequential([keras.Input(shape=(2,)), layers.Dense(1, activation=scaled_tanh)])
    model.compile(optimizer="adam", loss=half_mse)
    with pytest.raises(ValueError, match="unknown name 'scaled_tanh'.*custom_objects"):
        saved_and_loaded(model, tmp_path)
    loaded = saved_and_loaded(model, tmp_path, custom_objects={"scaled_tanh": scaled_tanh, "half_mse": half_mse})
    x, y = rand(4, 2), rand(4, 1)
    assert loaded.evaluate(x, y) == pytest.approx(model.evaluate(x, y))


def test_save_and_load_errors(tmp_path):
    with pytest.raises(ValueError, match="save: the model sequential is not built yet"):
        keras.Sequential([layers.Dense(2)]).save(tmp_path / "unbuilt.keras")
    model = keras.Sequential([keras.Input(shape=(2,)), layers.Dense(2)])
    model.save_weights(tmp_path / "weights.npz")
    with pytest.raises(ValueError, match="is not a model written by model.save .*model.load_weights"):
        keras.models.load_model(tmp_path / "weights.npz")
    model.save(tmp_path / "model.keras")
    other = keras.Sequential([keras.Input(shape=(2,)), layers.Dense(2)])
    other.load_weights(tmp_path / "model.keras")  # a saved model's weights load into a twin
    np.testing.assert_array_equal(other.get_weights()[0], model.get_weights()[0])
