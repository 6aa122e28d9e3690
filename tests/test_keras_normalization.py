"""keras.layers.BatchNormalization and LayerNormalization against torch, with Keras's rules written
out here: momentum m updates moving = m * moving + (1 - m) * batch_stat with the *biased*
variance (torch: momentum 1 - m, unbiased variance), epsilon 1e-3."""
import numpy as np
import pytest

import minidl as md
from minidl import keras
from minidl.keras import layers

EPS = 1e-3


@pytest.fixture(autouse=True)
def fresh_session():
    keras.backend.clear_session()
    md.manual_seed(0)


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def rand(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def built(layer, sample_shape):
    keras.Sequential([keras.Input(shape=sample_shape), layer])
    return layer


def with_weights(layer, seed=1):
    """Give the layer distinct gamma, beta (and moving statistics), returned as Keras lists them."""
    weights = [rand(*w.shape, seed=seed + i) for i, w in enumerate(layer.get_weights())]
    if isinstance(layer, layers.BatchNormalization):
        weights[-1] = np.abs(weights[-1]) + 0.5  # a variance
    layer.set_weights(weights)
    return weights


def channels_first(torch, x):
    return torch.tensor(np.moveaxis(x, -1, 1))


# ------------------------------------------------------------------ BatchNormalization
@pytest.mark.parametrize("shape", [(6, 4), (3, 5, 5, 4)], ids=["after Dense", "after Conv2D"])
def test_batch_norm_training_forward_and_input_grad_match_torch(torch, shape):
    layer = built(layers.BatchNormalization(), shape[1:])
    gamma, beta, _, _ = with_weights(layer)
    x = rand(*shape)
    xm = md.tensor(x, requires_grad=True)
    out = layer(xm)
    out.backward(md.tensor(rand(*shape, seed=9)))
    xt = channels_first(torch, x).requires_grad_()
    expected = torch.nn.functional.batch_norm(xt, None, None, torch.tensor(gamma), torch.tensor(beta),
                                              training=True, eps=EPS)
    expected.backward(channels_first(torch, rand(*shape, seed=9)))
    np.testing.assert_allclose(out.numpy(), np.moveaxis(expected.detach().numpy(), 1, -1), atol=1e-5)
    np.testing.assert_allclose(xm.grad.numpy(), np.moveaxis(xt.grad.numpy(), 1, -1), atol=1e-4)


def test_batch_norm_training_updates_moving_stats_with_keras_rule():
    layer = built(layers.BatchNormalization(momentum=0.9), (3, 3, 2))
    x = rand(5, 3, 3, 2)
    layer(md.tensor(x))
    _, _, moving_mean, moving_variance = layer.get_weights()
    per_channel = x.reshape(-1, 2)
    np.testing.assert_allclose(moving_mean, 0.1 * per_channel.mean(0), atol=1e-6)
    np.testing.assert_allclose(moving_variance, 0.9 + 0.1 * per_channel.var(0), atol=1e-6)


def test_batch_norm_inference_uses_moving_stats_as_torch_eval(torch):
    layer = built(layers.BatchNormalization(), (4, 4, 3))
    gamma, beta, mean, var = (torch.tensor(w) for w in with_weights(layer))
    x = rand(2, 4, 4, 3)
    layer.eval()
    out = layer(md.tensor(x)).numpy()
    expected = torch.nn.functional.batch_norm(channels_first(torch, x), mean, var, gamma, beta, training=False, eps=EPS)
    np.testing.assert_allclose(out, np.moveaxis(expected.numpy(), 1, -1), atol=1e-5)
    assert np.array_equal(layer.get_weights()[2], mean.numpy())  # nothing updated


def test_building_a_model_leaves_the_moving_stats_at_their_initial_values():
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(4), layers.BatchNormalization()])
    gamma, beta, mean, var = model.layers[1].get_weights()
    assert [w.tolist() for w in (gamma, beta, mean, var)] == [[1] * 4, [0] * 4, [0] * 4, [1] * 4]


def test_fit_updates_moving_stats_per_batch_and_predict_uses_them():
    """9 samples in batches of 4: the last batch has one sample, which Keras accepts (variance 0)."""
    model = keras.Sequential([keras.Input(shape=(3,)), layers.BatchNormalization(momentum=0.8)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    x, y = rand(9, 3), rand(9, 3, seed=2)
    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    mean, var = np.zeros(3), np.ones(3)
    for _ in range(2):
        for start in (0, 4, 8):
            batch = x[start:start + 4].astype(np.float64)
            mean, var = 0.8 * mean + 0.2 * batch.mean(0), 0.8 * var + 0.2 * batch.var(0)
    gamma, beta, moving_mean, moving_var = model.get_weights()
    np.testing.assert_allclose(moving_mean, mean, atol=1e-5)
    np.testing.assert_allclose(moving_var, var, atol=1e-5)
    assert not np.allclose(beta, 0)  # beta trained
    expected = (x - mean) / np.sqrt(var + EPS) * gamma + beta
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-4)


def test_batch_norm_weights_round_trip_and_counts():
    layer = built(layers.BatchNormalization(center=False), (5,))
    assert [w.shape for w in layer.get_weights()] == [(5,)] * 3  # gamma, moving_mean, moving_variance
    weights = [rand(5, seed=3), rand(5, seed=4), np.full(5, 2.0, np.float32)]
    layer.set_weights(weights)
    for got, given in zip(layer.get_weights(), weights):
        assert np.array_equal(got, given)
    assert layer.count_params() == 15  # Keras counts the moving statistics


def test_batch_norm_save_and_load_model(tmp_path):
    model = keras.Sequential([keras.Input(shape=(4, 4, 2)), layers.Conv2D(3, 3),
                              layers.BatchNormalization(momentum=0.5, epsilon=0.01, scale=False)])
    model.compile(optimizer="adam", loss="mse")
    x = rand(8, 4, 4, 2)
    model.fit(x, rand(8, 2, 2, 3), epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    config = loaded.layers[1].get_config()
    assert (config["momentum"], config["epsilon"], config["scale"]) == (0.5, 0.01, False)
    for got, saved in zip(loaded.get_weights(), model.get_weights()):
        assert np.array_equal(got, saved)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_batch_norm_errors_name_the_layer():
    layer = built(layers.BatchNormalization(name="bn"), (4,))
    with pytest.raises(ValueError, match="bn: expected input of shape .None, 4., got .2, 5."):
        layer(md.tensor(rand(2, 5)))
    with pytest.raises(ValueError, match="bn2: axis=3 is out of range for an input of shape .None, 4."):
        built(layers.BatchNormalization(axis=3, name="bn2"), (4,))
    with pytest.raises(ValueError, match="'bn'.*length 2.*expecting 4"):
        layer.set_weights([np.ones(4), np.ones(4)])


# ------------------------------------------------------------------ LayerNormalization
@pytest.mark.parametrize("axis,shape", [(-1, (3, 5, 6)), ([-2, -1], (3, 5, 6))])
def test_layer_norm_matches_torch_with_keras_epsilon(torch, axis, shape):
    layer = built(layers.LayerNormalization(axis=axis), shape[1:])
    normalized = shape[-1:] if axis == -1 else shape[-2:]
    gamma, beta = with_weights(layer)
    assert gamma.shape == normalized
    x = rand(*shape)
    expected = torch.nn.functional.layer_norm(torch.tensor(x), normalized, torch.tensor(gamma), torch.tensor(beta), EPS)
    np.testing.assert_allclose(layer(md.tensor(x)).numpy(), expected.numpy(), atol=1e-5)
    layer.eval()
    np.testing.assert_allclose(layer(md.tensor(x)).numpy(), expected.numpy(), atol=1e-5)


def test_layer_norm_without_scale_has_beta_only_and_saves(tmp_path):
    model = keras.Sequential([keras.Input(shape=(6,)), layers.Dense(4), layers.LayerNormalization(scale=False)])
    assert [w.shape for w in model.layers[1].get_weights()] == [(4,)]
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert loaded.layers[1].get_config()["epsilon"] == EPS
    x = rand(3, 6)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_layer_norm_errors_name_the_layer():
    with pytest.raises(NotImplementedError, match="ln: md.keras normalises over the last axes only"):
        built(layers.LayerNormalization(axis=1, name="ln"), (3, 4))
    with pytest.raises(TypeError, match="'axis'.*received: 'last'"):
        layers.LayerNormalization(axis="last")


def test_summary_counts_the_moving_statistics_as_non_trainable(capsys):
    """Keras: BatchNormalization on 4 channels has 8 trainable (gamma, beta) and 8 non-trainable
    (moving mean and variance) parameters."""
    model = keras.Sequential([keras.layers.Dense(4, input_shape=(3,)), keras.layers.BatchNormalization()])
    model.summary()
    text = capsys.readouterr().out
    assert "Total params: 32" in text and "Trainable params: 24" in text and "Non-trainable params: 8" in text
