"""The few-taps convolution (``Conv2dFewTaps``, ``kernels/few_taps.py``): which convolutions take
it, and fixed cases at its edges against PyTorch.  Drawn configurations run through the op
registry (``op_cases.py``, "conv2d, few taps")."""
import numpy as np
import pytest

import minidl as md
import minidl.functional as F
from kernels import few_taps
from minidl.testing import check_against_torch

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def op_name(x_shape, w_shape, dtype="float32", **options):
    x = md.tensor(np.zeros(x_shape, dtype=dtype))
    w = md.tensor(np.zeros(w_shape, dtype=dtype), requires_grad=True)
    return F.conv2d(x, w, **options).grad_fn.function.__name__


def test_first_layers_take_it_and_the_others_do_not():
    assert op_name((2, 1, 28, 28), (32, 1, 3, 3)) == "Conv2dFewTaps"
    assert op_name((2, 3, 8, 8), (4, 3, 1, 3), stride=2, padding=1) == "Conv2dFewTaps"
    assert op_name((2, 3, 8, 8), (4, 3, 3, 3)) == "Conv2dIm2col"  # 27 taps
    assert op_name((2, 2, 8, 8), (4, 1, 3, 3), groups=2) == "Conv2dIm2col"
    with md.config.override(conv_algorithm="direct"):
        assert op_name((2, 1, 8, 8), (4, 1, 3, 3)) == "Conv2dDirect"


def test_conv1d_with_few_taps_takes_it():
    x, w = md.tensor(np.zeros((2, 1, 40))), md.tensor(np.zeros((3, 1, 5)), requires_grad=True)
    (convolution,) = F.conv1d(x, w).grad_fn.parents  # conv1d: a conv2d of images of height 1, reshaped
    assert convolution.function.__name__ == "Conv2dFewTaps"


@pytest.mark.torch
@pytest.mark.parametrize("dtype, tol", [("float64", 1e-10), ("float32", 1e-4)])
@pytest.mark.parametrize(
    "x_shape, w_shape, options",
    [
        ((64, 1, 28, 28), (32, 1, 3, 3), {}),  # the MNIST layer the kernels are for
        ((3, 1, 5, 16), (5, 1, 3, 3), dict(padding=1)),  # a row exactly one vector wide
        ((2, 1, 4, 4), (3, 1, 3, 3), dict(padding=2, dilation=2)),  # taps in the padding
        ((2, 9, 6, 33), (7, 9, 1, 1), dict(stride=(1, 2))),  # a 1x1 convolution of 9 channels: 9 taps
        ((1, 1, 3, 3), (1, 1, 3, 3), {}),  # one output
        ((2, 2, 6, 7), (6, 2, 2, 2), {}),  # an even tap count; output channels not a multiple of 4
    ],
)
def test_edge_cases_match_torch(x_shape, w_shape, options, dtype, tol):
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal(s).astype(dtype) for s in (x_shape, w_shape, w_shape[:1])]
    check_against_torch(lambda *t: F.conv2d(*t, **options), lambda *t: TF.conv2d(*t, **options), inputs, rtol=tol, atol=tol)


def test_values_that_are_not_finite_stay_where_torch_puts_them():
    x = np.ones((1, 1, 6, 20))
    x[0, 0, 2, 0] = np.inf
    w, grad = np.ones((2, 1, 3, 3)), np.ones((1, 2, 4, 18))
    ours_x, ours_w = md.tensor(x), md.tensor(w, requires_grad=True)
    theirs_x, theirs_w = torch.tensor(x), torch.tensor(w, requires_grad=True)
    out = F.conv2d(ours_x, ours_w)
    expected = TF.conv2d(theirs_x, theirs_w)
    np.testing.assert_array_equal(out.numpy(), expected.detach().numpy())
    out.backward(md.tensor(grad))
    expected.backward(torch.tensor(grad))
    np.testing.assert_array_equal(ours_w.grad.numpy(), theirs_w.grad.numpy())


def test_each_tap_count_is_built_once():
    assert few_taps.forward_kernel(9) is few_taps.forward_kernel(9)
    assert few_taps.weight_gradient_kernel(4) is few_taps.weight_gradient_kernel(4)
