"""keras.layers.UpSampling2D and GlobalAveragePooling1D, and ``layer.trainable = False``, with
Keras's rules written out here: nearest upsampling repeats each pixel, bilinear is the image resize
with half-pixel centres (torch's align_corners=False); a frozen layer keeps its weights through
``fit`` and ``summary`` counts them as non-trainable."""
import numpy as np
import pytest

import minidl as md
from minidl import keras
from minidl.keras import layers


@pytest.fixture(autouse=True)
def fresh_session():
    keras.backend.clear_session()
    md.manual_seed(0)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def run(layer, x):
    model = keras.Sequential([keras.Input(shape=x.shape[1:]), layer])
    return model.predict(x, verbose=0)


# ----------------------------------------------------------------------------- UpSampling2D
def test_nearest_upsampling_repeats_each_pixel():
    x = rand(2, 3, 4, 5)
    np.testing.assert_array_equal(run(layers.UpSampling2D((2, 3)), x), x.repeat(2, axis=1).repeat(3, axis=2))


def test_channels_first_upsampling_repeats_along_the_last_two_axes():
    x = rand(2, 5, 3, 4)
    out = run(layers.UpSampling2D(2, data_format="channels_first"), x)
    np.testing.assert_array_equal(out, x.repeat(2, axis=2).repeat(2, axis=3))


@pytest.mark.torch
def test_bilinear_upsampling_is_the_half_pixel_resize():
    torch = pytest.importorskip("torch")
    x = rand(2, 3, 4, 5)
    expected = torch.nn.functional.interpolate(torch.tensor(x).permute(0, 3, 1, 2), size=(9, 8), mode="bilinear",
                                               align_corners=False).permute(0, 2, 3, 1)
    np.testing.assert_allclose(run(layers.UpSampling2D((3, 2), interpolation="bilinear"), x), expected.numpy(),
                               rtol=1e-6, atol=1e-6)


def test_upsampling_in_a_model_trains_and_survives_save_and_load(tmp_path):
    model = keras.Sequential([keras.Input(shape=(4, 4, 1)), layers.UpSampling2D(interpolation="bilinear"),
                              layers.Conv2D(2, 3), layers.GlobalAveragePooling2D(), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x, y = rand(8, 4, 4, 1), rand(8, 1, seed=1)
    model.fit(x, y, epochs=1, verbose=0)
    assert model.layers[0].output_shape == (None, 8, 8, 1)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert loaded.layers[0].get_config()["interpolation"] == "bilinear"
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("arguments, message", [
    (dict(interpolation="bicubic"), "interpolation must be one of 'nearest', 'bilinear', got 'bicubic'"),
    (dict(size=(2, 0)), r"size must be a positive int or a pair of them, got \(2, 0\)"),
])
def test_upsampling_settings_are_checked(arguments, message):
    with pytest.raises(ValueError, match="up_sampling2d: " + message):
        layers.UpSampling2D(**arguments)


def test_upsampling_needs_images_with_a_channels_axis():
    with pytest.raises(ValueError, match=r"up_sampling2d: expected input of shape \(batch, height, width, channels\), "
                                         r"got \(None, 4, 4\); for one-channel images add the channels axis"):
        run(layers.UpSampling2D(), rand(2, 4, 4))


# ----------------------------------------------------------------------------- GlobalAveragePooling1D
@pytest.mark.parametrize("data_format, axis", [(None, 1), ("channels_first", 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_average_pooling_1d_is_the_mean_over_the_steps(data_format, axis, keepdims):
    x = rand(3, 5, 4)
    out = run(layers.GlobalAveragePooling1D(data_format=data_format, keepdims=keepdims), x)
    np.testing.assert_allclose(out, x.mean(axis=axis, keepdims=keepdims), rtol=1e-6)


def test_global_average_pooling_1d_after_an_embedding_classifies_token_sequences():
    model = keras.Sequential([keras.Input(shape=(6,), dtype="int32"), layers.Embedding(10, 4),
                              layers.GlobalAveragePooling1D(), layers.Dense(2)])
    assert model.output_shape == (None, 2)
    assert model.predict(np.arange(12).reshape(2, 6) % 10, verbose=0).shape == (2, 2)


def test_global_average_pooling_1d_needs_sequences():
    with pytest.raises(ValueError, match=r"global_average_pooling1d: expected input of shape \(batch, steps, features\), got \(None, 4, 4, 1\)"):
        run(layers.GlobalAveragePooling1D(), rand(2, 4, 4, 1))


# ----------------------------------------------------------------------------- trainable = False
def two_dense(first_trainable=True):
    first = layers.Dense(4, input_shape=(3,))
    first.trainable = first_trainable
    return keras.Sequential([first, layers.Dense(2)])


def weights_after_fit(model, x, y):
    before = [w.copy() for w in model.get_weights()]
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    return before, model.get_weights()


def test_a_frozen_layer_keeps_its_weights_through_fit_and_the_others_train():
    model = two_dense()
    model.layers[0].trainable = False
    before, after = weights_after_fit(model, rand(16, 3), rand(16, 2, seed=1))
    for old, new in zip(before[:2], after[:2]):  # the frozen Dense's kernel and bias
        np.testing.assert_array_equal(new, old)
    assert all(np.abs(new - old).max() > 1e-4 for old, new in zip(before[2:], after[2:]))


def test_a_layer_frozen_before_it_is_built_is_frozen_when_built():
    model = two_dense(first_trainable=False)
    assert model.layers[0].trainable is False
    before, after = weights_after_fit(model, rand(16, 3), rand(16, 2, seed=1))
    np.testing.assert_array_equal(after[0], before[0])


def test_unfreezing_trains_the_layer_again():
    model = two_dense(first_trainable=False)
    model.layers[0].trainable = True
    before, after = weights_after_fit(model, rand(16, 3), rand(16, 2, seed=1))
    assert np.abs(after[0] - before[0]).max() > 1e-4


def test_summary_counts_frozen_weights_as_non_trainable(capsys):
    """Keras: Dense(3 -> 4) has 16 weights, Dense(4 -> 2) 10; freezing the first moves its 16 to
    non-trainable and keeps the total (and the layer's own count) at 26."""
    model = two_dense()
    model.layers[0].trainable = False
    model.summary()
    text = capsys.readouterr().out
    assert "Total params: 26" in text and "Trainable params: 10" in text and "Non-trainable params: 16" in text
    assert model.layers[0].count_params() == 16


def test_freezing_and_unfreezing_a_simple_rnn_keeps_its_count():
    """The PyTorch RNN inside has a second bias that Keras has not (held at 0, never trained):
    it is not counted, frozen or not, and stays constant after unfreezing."""
    layer = layers.SimpleRNN(3)
    keras.Sequential([keras.Input(shape=(5, 2)), layer])
    trainable_count = layer.count_params()
    layer.trainable = False
    assert layer.count_params() == trainable_count == 2 * 3 + 3 * 3 + 3
    layer.trainable = True
    assert not layer.rnn.bias_hh_l0.requires_grad and layer.rnn.weight_ih_l0.requires_grad
