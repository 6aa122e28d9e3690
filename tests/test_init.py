"""md.nn.init and the layers' default initialisation: bounds, spreads, gains and fans."""
import math

import numpy as np
import pytest

import minidl as md
from minidl import nn
from minidl.nn import init


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def assert_uniform(values, bound):
    """Samples of U(-bound, bound): inside the bound, reaching close to it, std = bound / sqrt 3."""
    values = np.asarray(values, np.float64)
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() > 0.98 * bound
    assert abs(values.std() - bound / math.sqrt(3)) < 0.03 * bound / math.sqrt(3)
    assert abs(values.mean()) < 4 * bound / math.sqrt(3 * values.size)


def assert_normal(values, std):
    values = np.asarray(values, np.float64)
    assert abs(values.std() - std) < 0.03 * std
    assert abs(values.mean()) < 4 * std / math.sqrt(values.size)


# ----------------------------------------------------------------------------- layer defaults
def test_linear_starts_uniform_with_bound_one_over_sqrt_fan_in():
    md.manual_seed(0)
    layer = nn.Linear(256, 128)
    assert layer.weight.shape == (128, 256) and layer.bias.shape == (128,)
    assert_uniform(layer.weight.numpy(), 1 / 16)
    assert np.abs(layer.bias.numpy()).max() <= 1 / 16


def test_embedding_starts_standard_normal_with_zero_padding_row():
    md.manual_seed(0)
    layer = nn.Embedding(1000, 64, padding_idx=3)
    weight = layer.weight.numpy()
    assert not weight[3].any()
    assert_normal(np.delete(weight, 3, axis=0), 1.0)


def test_prelu_starts_at_init():
    np.testing.assert_array_equal(nn.PReLU().weight.numpy(), np.float32(0.25))


def test_manual_seed_makes_initialisation_repeatable():
    md.manual_seed(7)
    first = nn.Linear(8, 4).weight.numpy().copy()
    md.manual_seed(7)
    np.testing.assert_array_equal(nn.Linear(8, 4).weight.numpy(), first)
    assert not np.array_equal(nn.Linear(8, 4).weight.numpy(), first)


@pytest.mark.torch
def test_fresh_layers_have_torchs_statistics(torch):
    torch.manual_seed(0)
    md.manual_seed(0)
    mine, theirs = nn.Linear(256, 128), torch.nn.Linear(256, 128)
    for name in ("weight", "bias"):
        a, b = getattr(mine, name), getattr(theirs, name).detach().numpy()
        assert a.shape == b.shape and a.dtype == b.dtype
        assert np.abs(a.numpy()).max() <= 1 / 16 and np.abs(b).max() <= 1 / 16  # the same bound
    weight, torch_weight = mine.weight.numpy(), theirs.weight.detach().numpy()
    assert abs(weight.std() - torch_weight.std()) < 0.03 * torch_weight.std()
    assert abs(np.abs(weight).max() - np.abs(torch_weight).max()) < 0.001 / 16
    embedding, torch_embedding = nn.Embedding(500, 64).weight.numpy(), torch.nn.Embedding(500, 64).weight.detach().numpy()
    assert embedding.dtype == torch_embedding.dtype
    assert abs(embedding.std() - torch_embedding.std()) < 0.03 * torch_embedding.std()


# ----------------------------------------------------------------------------- gains and fans
@pytest.mark.torch
@pytest.mark.parametrize(
    "nonlinearity, param",
    [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
     ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)), ("leaky_relu", 0), ("selu", None)],
)  # fmt: skip
def test_calculate_gain_matches_torch(torch, nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(torch.nn.init.calculate_gain(nonlinearity, param))


def test_calculate_gain_rejects_unknown_input():
    with pytest.raises(ValueError, match="calculate_gain: unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="negative_slope True is not a valid number"):
        init.calculate_gain("leaky_relu", True)


@pytest.mark.torch
@pytest.mark.parametrize("shape", [(3, 4), (8, 3, 5, 5), (6, 2, 3), (4, 2, 3, 3, 3)])
def test_fans_match_torch_for_linear_and_conv_shapes(torch, shape):
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init._calculate_fan_in_and_fan_out(md.zeros(shape)) == expected


def test_fans_need_two_dimensions():
    with pytest.raises(ValueError, match="at least 2 dimensions .* got shape \\(5,\\)"):
        init.xavier_uniform_(md.zeros(5))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out', got 'fan_avg'"):
        init.kaiming_uniform_(md.zeros(3, 3), mode="fan_avg")


# ----------------------------------------------------------------------------- distributions
CONV = (64, 32, 3, 3)  # fan_in = 288, fan_out = 576


@pytest.mark.parametrize(
    "fill, kwargs, bound",
    [
        (init.xavier_uniform_, {}, math.sqrt(6 / (288 + 576))),
        (init.xavier_uniform_, {"gain": 2.0}, 2 * math.sqrt(6 / (288 + 576))),
        (init.kaiming_uniform_, {}, math.sqrt(2 / (1 + 0.0)) * math.sqrt(3 / 288)),
        (init.kaiming_uniform_, {"a": math.sqrt(5)}, 1 / math.sqrt(288)),
        (init.kaiming_uniform_, {"mode": "fan_out", "nonlinearity": "relu"}, math.sqrt(2) * math.sqrt(3 / 576)),
        (init.uniform_, {"a": -0.3, "b": 0.3}, 0.3),
    ],
)
def test_uniform_fills_stay_in_their_bound(fill, kwargs, bound):
    md.manual_seed(1)
    t = md.zeros(CONV, dtype="float64")
    assert_uniform(fill(t, **kwargs).numpy(), bound)


@pytest.mark.parametrize(
    "fill, kwargs, std",
    [
        (init.xavier_normal_, {}, math.sqrt(2 / (288 + 576))),
        (init.kaiming_normal_, {"nonlinearity": "relu"}, math.sqrt(2 / 288)),
        (init.kaiming_normal_, {"mode": "fan_out", "nonlinearity": "tanh"}, 5 / 3 / math.sqrt(576)),
        (init.normal_, {"std": 0.02}, 0.02),
    ],
)
def test_normal_fills_have_their_std(fill, kwargs, std):
    md.manual_seed(2)
    assert_normal(fill(md.zeros(CONV), **kwargs).numpy(), std)


@pytest.mark.torch
@pytest.mark.parametrize("name", ["xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"])
def test_fills_spread_like_torchs(torch, name):
    torch.manual_seed(0)
    md.manual_seed(0)
    theirs = getattr(torch.nn.init, name)(torch.empty(CONV)).numpy()
    mine = getattr(init, name)(md.zeros(CONV)).numpy()
    assert abs(mine.std() - theirs.std()) < 0.03 * theirs.std()
    if "uniform" in name:
        assert abs(np.abs(mine).max() - np.abs(theirs).max()) < 0.01 * np.abs(theirs).max()


def test_fills_work_in_place_on_parameters_without_recording():
    p = nn.Parameter(md.zeros(4, 3))
    array = p.array
    assert init.kaiming_uniform_(p) is p
    assert p.array is array and p.grad_fn is None and p.is_leaf
    assert init.constant_(p, 0.5) is p
    np.testing.assert_array_equal(p.numpy(), np.full((4, 3), 0.5, np.float32))
    np.testing.assert_array_equal(init.ones_(p).numpy(), 1)
    np.testing.assert_array_equal(init.zeros_(p).numpy(), 0)
    assert p.dtype == np.float32
    assert init.kaiming_normal_(md.zeros(0, 3)).shape == (0, 3)  # zero elements: nothing to do
