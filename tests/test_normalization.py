"""BatchNorm1d/2d, LayerNorm, GroupNorm against torch.nn: forward, gradients, running statistics,
train and eval, torch state_dicts, errors.  The ops' gradients over drawn shapes are in op_cases.py."""
import re

import numpy as np
import pytest

import minidl as md
from minidl import nn
from minidl.testing import assert_close

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

TOL = (1e-10, 1e-10)


def twins(name, *args, **kwargs):
    """The same layer from torch.nn and md.nn in float64, random weights and running statistics
    set in torch's and loaded into ours through its state_dict."""
    theirs = getattr(torch.nn, name)(*args, **kwargs).double()
    rng = np.random.default_rng(0)
    with torch.no_grad():
        for value in theirs.state_dict().values():
            if value.dtype == torch.float64:
                value.copy_(torch.tensor(rng.uniform(0.5, 1.5, value.shape)))
    ours = getattr(nn, name)(*args, **kwargs).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def step(ours, theirs, x):
    """One forward and backward of each layer on x with the same upstream gradient: outputs,
    input grads and parameter grads agree."""
    x_ours, x_theirs = md.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    upstream = np.random.default_rng(1).standard_normal(x.shape)
    out_ours, out_theirs = ours(x_ours), theirs(x_theirs)
    assert_close(out_ours.numpy(), out_theirs.detach().numpy(), *TOL, "output")
    (out_ours * md.tensor(upstream)).sum().backward()
    (out_theirs * torch.tensor(upstream)).sum().backward()
    assert_close(x_ours.grad.numpy(), x_theirs.grad.numpy(), *TOL, "input grad")
    ours_params, theirs_params = dict(ours.named_parameters()), dict(theirs.named_parameters())
    assert list(ours_params) == list(theirs_params)
    for name, p in ours_params.items():
        assert_close(p.grad.numpy(), theirs_params[name].grad.numpy(), *TOL, f"grad of {name}")


def assert_same_state(ours, theirs):
    """Same keys in the same order, dtypes and values (running stats, num_batches_tracked)."""
    expected = {k: v.numpy() for k, v in theirs.state_dict().items()}
    actual = ours.state_dict()
    assert list(actual) == list(expected)
    for key, value in actual.items():
        assert value.numpy().dtype == expected[key].dtype, key
        assert_close(value.numpy(), expected[key], *TOL, key)


BATCH_NORMS = [("BatchNorm1d", (6, 3)), ("BatchNorm1d", (4, 3, 5)), ("BatchNorm2d", (4, 3, 2, 5))]


@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
@pytest.mark.parametrize("name, shape", BATCH_NORMS)
def test_batch_norm_training_steps_then_eval(name, shape, momentum):
    ours, theirs = twins(name, 3, momentum=momentum)
    rng = np.random.default_rng(2)
    for _ in range(3):
        step(ours, theirs, rng.standard_normal(shape) * 2 + 1)
        assert_same_state(ours, theirs)
    assert ours.num_batches_tracked.item() == 3
    ours.eval(), theirs.eval()
    step(ours, theirs, rng.standard_normal(shape))
    assert_same_state(ours, theirs)  # eval mode leaves the running stats alone


@pytest.mark.parametrize("affine, track", [(False, True), (True, False), (False, False)])
def test_batch_norm_without_affine_or_running_stats(affine, track):
    """Without running stats there are no such buffers and eval normalises with the batch's."""
    ours, theirs = twins("BatchNorm2d", 3, affine=affine, track_running_stats=track)
    x = np.random.default_rng(3).standard_normal((2, 3, 2, 2))
    step(ours, theirs, x)
    ours.eval(), theirs.eval()
    step(ours, theirs, x)
    assert_same_state(ours, theirs)


def test_batch_norm_state_dict_keys_and_dtypes():
    ours = nn.BatchNorm1d(4)
    assert list(ours.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert ours.num_batches_tracked.dtype == np.int64
    assert ours.running_mean.dtype == np.float32 and not ours.running_mean.requires_grad


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4), (2, 3, 2, 4)])
@pytest.mark.parametrize("elementwise_affine", [True, False])
def test_layer_norm(shape, elementwise_affine):
    ours, theirs = twins("LayerNorm", shape[-2:] if len(shape) > 2 else shape[-1],
                         elementwise_affine=elementwise_affine)
    step(ours, theirs, np.random.default_rng(4).standard_normal(shape))


def test_layer_norm_without_bias():
    ours, theirs = twins("LayerNorm", 4, bias=False)
    step(ours, theirs, np.random.default_rng(5).standard_normal((3, 4)))
    assert list(ours.state_dict()) == ["weight"]


@pytest.mark.parametrize("groups, shape", [(1, (2, 4, 3)), (2, (2, 4, 3, 2)), (4, (3, 4, 2)), (3, (2, 6))])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm(groups, shape, affine):
    ours, theirs = twins("GroupNorm", groups, shape[1], affine=affine)
    step(ours, theirs, np.random.default_rng(6).standard_normal(shape))


def test_functional_batch_norm_updates_the_given_running_stats():
    rng = np.random.default_rng(7)
    x, mean, var = rng.standard_normal((5, 2, 3)), rng.standard_normal(2), rng.uniform(0.5, 2, 2)
    ours_stats, theirs_stats = [md.tensor(s) for s in (mean, var)], [torch.tensor(s) for s in (mean, var)]
    out = md.nn.functional.batch_norm(md.tensor(x), *ours_stats, training=True, momentum=0.2)
    expected = torch.nn.functional.batch_norm(torch.tensor(x), *theirs_stats, training=True, momentum=0.2)
    assert_close(out.numpy(), expected.numpy(), *TOL, "output")
    for a, b in zip(ours_stats, theirs_stats):
        assert_close(a.numpy(), b.numpy(), *TOL, "running stat")


# ----------------------------------------------------------------------------- errors
def raises_and_keeps_state(layer, x, match):
    """``layer(x)`` raises with ``match`` (as torch's layer raises) and changes no buffer."""
    before = {k: v.numpy().copy() for k, v in layer.state_dict().items()}
    with pytest.raises(ValueError, match=match):
        layer(md.tensor(x))
    for key, value in layer.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key], err_msg=key)


@pytest.mark.parametrize("name, shape", [("BatchNorm1d", (1, 3)), ("BatchNorm2d", (1, 3, 1, 1))])
def test_batch_norm_one_value_per_channel_in_training(name, shape):
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        getattr(torch.nn, name)(3)(torch.zeros(shape))
    raises_and_keeps_state(getattr(nn, name)(3), np.zeros(shape, np.float32),
                           rf"{name}: Expected more than 1 value per channel when training, got input size \(1, 3")
    getattr(nn, name)(3).eval()(md.zeros(*shape))  # fine in eval mode, as in torch


@pytest.mark.parametrize("name, shape", [("BatchNorm1d", (4, 5)), ("BatchNorm1d", (4, 2, 5)), ("BatchNorm2d", (4, 5, 2, 2))])
def test_batch_norm_wrong_channel_count(name, shape):
    with pytest.raises((RuntimeError, ValueError)):
        getattr(torch.nn, name)(3)(torch.zeros(shape))
    raises_and_keeps_state(getattr(nn, name)(3), np.zeros(shape, np.float32),
                           re.escape(f"{name}: expected an input of shape (N, 3, ...) (3 channels), got shape {shape}"))


@pytest.mark.parametrize("name, shape", [("BatchNorm1d", (4,)), ("BatchNorm1d", (2, 3, 2, 2)), ("BatchNorm2d", (2, 3, 4))])
def test_batch_norm_wrong_rank(name, shape):
    with pytest.raises(ValueError):
        getattr(torch.nn, name)(3)(torch.zeros(shape))
    raises_and_keeps_state(getattr(nn, name)(3), np.zeros(shape, np.float32), f"{name}: expected a .*-D input, got shape")


def test_layer_norm_wrong_shape():
    with pytest.raises(RuntimeError):
        torch.nn.LayerNorm(4)(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"layer_norm: expected an input of shape \(\*, 4\).*got shape \(2, 3\)"):
        nn.LayerNorm(4)(md.zeros(2, 3))


def test_group_norm_errors():
    with pytest.raises(ValueError):
        torch.nn.GroupNorm(2, 3)
    with pytest.raises(ValueError, match="GroupNorm: num_channels must be divisible by num_groups"):
        nn.GroupNorm(2, 3)
    with pytest.raises(ValueError, match=r"GroupNorm: expected an input of shape \(N, 4, \.\.\.\), got shape \(2, 6\)"):
        nn.GroupNorm(2, 4)(md.zeros(2, 6))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        torch.nn.functional.group_norm(torch.zeros(1, 2), 2)
    with pytest.raises(ValueError, match="group_norm: Expected more than 1 value per channel"):
        md.nn.functional.group_norm(md.zeros(1, 2), 2)
