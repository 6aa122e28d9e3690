"""md.keras Conv1D and Conv2DTranspose against torch with the Keras-layout weights mapped (Keras is
not installed): output shapes as Keras computes them, values placed as TensorFlow places them
("same": the odd pad at the end), gradients, save/load_model, bad input."""
import math

import numpy as np
import pytest

import minidl as md
from minidl import keras
from minidl.keras import layers

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch
TF = torch.nn.functional


@pytest.fixture(autouse=True)
def fresh_session():
    keras.backend.clear_session()
    md.manual_seed(0)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def tf_same_padding(size, out, kernel, stride, dilation):
    """TensorFlow's "SAME" padding of a convolution from ``size`` to ``out`` outputs: (before, after)."""
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return total // 2, total - total // 2


# ------------------------------------------------------------------ Conv1D
@pytest.mark.parametrize("kernel, strides, padding, dilation, steps_out", [
    (3, 1, "valid", 1, 8),
    (3, 2, "valid", 1, 4),
    (4, 1, "same", 1, 10),  # pads 1 before, 2 after
    (3, 2, "same", 1, 5),  # pads 0 before, 1 after
    (4, 3, "same", 1, 4),
    (3, 1, "same", 2, 10),
    (3, 1, "causal", 2, 10),  # pads 4 before
    (2, 2, "causal", 1, 5),
])
def test_conv1d_matches_torch(kernel, strides, padding, dilation, steps_out):
    model = keras.Sequential([keras.Input(shape=(10, 3)), layers.Conv1D(4, kernel, strides=strides, padding=padding,
                                                                         dilation_rate=dilation)])
    weights = [rand(kernel, 3, 4, seed=1), rand(4, seed=2)]
    model.set_weights(weights)
    x = rand(2, 10, 3, seed=3).astype(np.float32)
    out = model.predict(x)
    assert model.output_shape == (None, steps_out, 4) and out.shape == (2, steps_out, 4)
    pads = {"valid": (0, 0), "causal": (dilation * (kernel - 1), 0),
            "same": tf_same_padding(10, math.ceil(10 / strides), kernel, strides, dilation)}[padding]
    kernel_t, bias_t = (torch.tensor(w, dtype=torch.float32) for w in weights)
    expected = TF.conv1d(TF.pad(torch.tensor(x).permute(0, 2, 1), pads), kernel_t.permute(2, 1, 0), bias_t,
                         stride=strides, dilation=dilation)
    np.testing.assert_allclose(out, expected.permute(0, 2, 1).numpy(), rtol=1e-5, atol=1e-5)


def test_conv1d_gradients_through_uneven_padding():
    layer = layers.Conv1D(4, 3, strides=2, padding="same", groups=2)
    x = rand(2, 10, 6, seed=4)
    layer(md.tensor(x))  # builds
    kernel, bias = rand(3, 3, 4, seed=5), rand(4, seed=6)
    layer.double().set_weights([kernel, bias])
    xs, w, b = (torch.tensor(a, requires_grad=True) for a in (x, kernel, bias))
    expected = TF.conv1d(TF.pad(xs.permute(0, 2, 1), (0, 1)), w.permute(2, 1, 0), b, stride=2, groups=2).permute(0, 2, 1)
    upstream = rand(*expected.shape, seed=7)
    (expected * torch.tensor(upstream)).sum().backward()
    ours_x = md.tensor(x, requires_grad=True)
    out = layer(ours_x)
    (out * md.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ours_x.grad.numpy(), xs.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(layer.conv.weight.grad.numpy(), w.grad.permute(2, 1, 0).numpy(), rtol=1e-10, atol=1e-10)


def test_conv1d_channels_first_and_keras_kernel_layout():
    layer = layers.Conv1D(5, 3, data_format="channels_first", use_bias=False)
    model = keras.Sequential([keras.Input(shape=(2, 8)), layer])
    assert [w.shape for w in model.get_weights()] == [(3, 2, 5)]
    kernel = rand(3, 2, 5, seed=8)
    model.set_weights([kernel])
    x = rand(3, 2, 8, seed=9).astype(np.float32)
    expected = TF.conv1d(torch.tensor(x), torch.tensor(kernel, dtype=torch.float32).permute(2, 1, 0))
    np.testing.assert_allclose(model.predict(x), expected.numpy(), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ Conv2DTranspose
def transposed_oracle(x, kernel, bias, out_size, strides, dilation, padding):
    """TensorFlow's conv2d_transpose: the input gradient of a conv2d from ``out_size`` images
    ("SAME" or "VALID" padding) at ``x``; kernel (kh, kw, filters, in) is that conv's weight."""
    weight = torch.tensor(kernel).permute(3, 2, 0, 1)
    pads = [(0, 0), (0, 0)]
    if padding == "same":
        axes = zip(out_size, x.shape[1:3], kernel.shape[:2], strides, dilation)
        pads = [tf_same_padding(o, n, k, s, d) for o, n, k, s, d in axes]
    z = torch.zeros((x.shape[0], kernel.shape[2]) + out_size, dtype=torch.float64, requires_grad=True)
    y = TF.conv2d(TF.pad(z, pads[1] + pads[0]), weight, stride=strides, dilation=dilation)
    (grad,) = torch.autograd.grad(y, z, torch.tensor(x).permute(0, 3, 1, 2))
    return (grad + torch.tensor(bias).reshape(1, -1, 1, 1)).permute(0, 2, 3, 1).numpy()


@pytest.mark.parametrize("kernel, strides, padding, output_padding, dilation, out_size", [
    (3, 2, "same", None, 1, (10, 12)),  # TF pads 0 before, 1 after: one row and column cut off
    (4, 2, "same", None, 1, (10, 12)),
    (3, 2, "valid", None, 1, (11, 13)),
    (2, 3, "valid", None, 1, (15, 18)),  # kernel < strides: zeros between the patches
    (3, 2, "same", 1, 1, (10, 12)),
    (3, 2, "valid", 1, 1, (12, 14)),
    (3, 1, "same", None, 2, (5, 6)),
    ((3, 2), (2, 3), "same", None, 1, (10, 18)),
])
def test_conv2d_transpose_matches_tensorflows_definition(kernel, strides, padding, output_padding, dilation, out_size):
    layer = layers.Conv2DTranspose(4, kernel, strides=strides, padding=padding, output_padding=output_padding,
                                   dilation_rate=dilation)
    model = keras.Sequential([keras.Input(shape=(5, 6, 3)), layer])
    assert model.output_shape == (None,) + out_size + (4,)
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    weights = [rand(kh, kw, 4, 3, seed=1), rand(4, seed=2)]
    layer.double().set_weights(weights)
    x = rand(2, 5, 6, 3, seed=3)
    pair = lambda v: (v, v) if isinstance(v, int) else v  # noqa: E731
    expected = transposed_oracle(x, *weights, out_size, pair(strides), pair(dilation), padding)
    np.testing.assert_allclose(layer(md.tensor(x)).numpy(), expected, rtol=1e-10, atol=1e-10)


def test_conv2d_transpose_gradients_through_the_cut():
    layer = layers.Conv2DTranspose(2, 3, strides=2, padding="same", use_bias=False)
    x = rand(2, 4, 4, 3, seed=4)
    layer(md.tensor(x))
    kernel = rand(3, 3, 2, 3, seed=5)
    layer.double().set_weights([kernel])
    xs, w = torch.tensor(x, requires_grad=True), torch.tensor(kernel, requires_grad=True)
    expected = TF.conv_transpose2d(xs.permute(0, 3, 1, 2), w.permute(3, 2, 0, 1), stride=2)[:, :, :8, :8].permute(0, 2, 3, 1)
    upstream = rand(*expected.shape, seed=6)
    (expected * torch.tensor(upstream)).sum().backward()
    ours_x = md.tensor(x, requires_grad=True)
    out = layer(ours_x)
    (out * md.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ours_x.grad.numpy(), xs.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(layer.conv.weight.grad.numpy(), w.grad.permute(3, 2, 0, 1).numpy(), rtol=1e-10, atol=1e-10)


def test_conv2d_transpose_channels_first_kernel_layout():
    model = keras.Sequential([keras.Input(shape=(3, 4, 4)),
                              layers.Conv2DTranspose(5, 2, strides=2, data_format="channels_first")])
    assert [w.shape for w in model.get_weights()] == [(2, 2, 5, 3), (5,)]
    assert model.output_shape == (None, 5, 8, 8)


# ------------------------------------------------------------------ saving, errors
def test_save_and_load_model(tmp_path):
    model = keras.Sequential([keras.Input(shape=(8, 2)), layers.Conv1D(3, 3, strides=2, padding="same"),
                              layers.Reshape((4, 1, 3)), layers.Conv2DTranspose(2, 3, strides=(2, 1), padding="same")])
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    x = rand(2, 8, 2, seed=1).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert [type(layer).__name__ for layer in loaded.layers] == ["Conv1D", "Reshape", "Conv2DTranspose"]


def test_conv1d_wants_sequences():
    with pytest.raises(ValueError, match=r"conv1d: expected input of shape \(batch, steps, channels\), got \(None, 10\)"):
        keras.Sequential([keras.Input(shape=(10,)), layers.Conv1D(4, 3)])


def test_conv1d_padding_names():
    with pytest.raises(ValueError, match=r"Conv1D: padding must be one of 'valid', 'same', 'causal', got 'full'"):
        layers.Conv1D(4, 3, padding="full")


def test_conv2d_transpose_output_padding_below_strides():
    with pytest.raises(ValueError, match=r"conv2d_transpose: strides must be greater than output padding, "
                                         r"got strides=\(2, 2\), output_padding=\(2, 1\)"):
        layers.Conv2DTranspose(4, 3, strides=2, output_padding=(2, 1))


# ------------------------------------------------------------------ Conv2D "same" with strides
@pytest.mark.parametrize("size, kernel, strides, dilation", [
    (9, 3, 2, 1),  # pads 1 and 1
    (8, 3, 2, 1),  # pads 0 before, 1 after
    (8, 4, 1, 1),  # pads 1 before, 2 after
    (7, 3, 3, 2),
])
def test_conv2d_same_padding_with_strides_is_tensorflows(size, kernel, strides, dilation):
    model = keras.Sequential([keras.Input(shape=(size, size, 3)),
                              layers.Conv2D(4, kernel, strides=strides, padding="same", dilation_rate=dilation)])
    weights = [rand(kernel, kernel, 3, 4, seed=1), rand(4, seed=2)]
    model.set_weights(weights)
    x = rand(2, size, size, 3, seed=3).astype(np.float32)
    out = model.predict(x, verbose=0)
    side = math.ceil(size / strides)
    assert model.output_shape == (None, side, side, 4) and out.shape == (2, side, side, 4)
    before, after = tf_same_padding(size, side, kernel, strides, dilation)
    kernel_t, bias_t = (torch.tensor(w, dtype=torch.float32) for w in weights)
    padded = TF.pad(torch.tensor(x).permute(0, 3, 1, 2), (before, after, before, after))
    expected = TF.conv2d(padded, kernel_t.permute(3, 2, 0, 1), bias_t, stride=strides, dilation=dilation)
    np.testing.assert_allclose(out, expected.permute(0, 2, 3, 1).numpy(), rtol=1e-5, atol=1e-5)
