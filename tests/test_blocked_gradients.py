"""Ops that pass some elements' gradients and block the others (relu, clamp, where, the relu RNN
cell) against PyTorch, with an inf and a NaN in the upstream gradient: the blocked elements get 0,
not inf * 0 = NaN.  And the compiled select they (and sigmoid, leaky_relu, where) run on."""
import numpy as np
import pytest

import minidl as md

X = np.array([-1.5, -0.0, 0.0, 0.5, 2.0, 3.0])
UPSTREAM = np.array([np.inf, np.nan, -np.inf, 1.0, np.nan, 2.0])


def _relu(lib, x):
    return lib.nn.functional.relu(x)


def _clamp(lib, x):
    return lib.clamp(x, -1.0, 2.5)


def _clamp_min(lib, x):
    return lib.clamp(x, min=0.25)


def _where(lib, x):
    return lib.where(x > 0.25, x, lib.tensor(np.zeros(len(X))))


def _rnn_relu_cell(lib, x):
    """Each element as a sample; two hidden units with pre-activations x and -x."""
    cell = md.functional.rnn_relu_cell if lib is md else lib.rnn_relu_cell
    w_ih, w_hh = lib.tensor(np.array([[1.0], [-1.0]])), lib.tensor(np.eye(2))
    return cell(x.reshape(-1, 1), lib.tensor(np.zeros((len(X), 2))), w_ih, w_hh)


OPS = {"relu": _relu, "clamp": _clamp, "clamp(min)": _clamp_min, "where": _where, "rnn_relu_cell": _rnn_relu_cell}


@pytest.mark.torch
@pytest.mark.parametrize("name", OPS)
def test_blocked_elements_get_zero_gradient_as_in_torch(name):
    torch = pytest.importorskip("torch")
    grads = []
    for lib in (md, torch):
        x = lib.tensor(X.copy(), requires_grad=True)
        out = OPS[name](lib, x)
        out.backward(lib.tensor(np.resize(UPSTREAM, tuple(out.shape))))
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])
    assert np.count_nonzero(grads[0] == 0) >= 1  # some element is blocked (and not NaN)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("other", ["array", "number", "broadcast"])
def test_select_is_numpys_where(dtype, other):
    """``select`` against ``np.where``: the same values and dtype, whichever path runs (compiled for
    float32/float64 arrays of one shape; np.where for float16 and for broadcasting)."""
    from minidl.ops.arithmetic import select

    rng = np.random.default_rng(4)
    a = rng.standard_normal((3, 5)).astype(dtype)
    a[0, :2] = [np.nan, np.inf]
    b = {"array": rng.standard_normal((3, 5)).astype(dtype), "number": -2.5,
         "broadcast": rng.standard_normal(5).astype(dtype)}[other]
    mask = rng.random((3, 5)) > 0.5
    chosen = select(mask, a, b)
    expected = np.where(mask, a, b)
    assert chosen.dtype == expected.dtype
    np.testing.assert_array_equal(chosen, expected)
