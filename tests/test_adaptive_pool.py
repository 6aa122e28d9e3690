"""Adaptive average and max pooling against torch: fixed cases (windows that overlap, outputs larger
than the input, ties, the modules and their repr) and one test per error; drawn shapes are in
op_cases.py."""
import numpy as np
import pytest

import minidl as md
import minidl.functional as F
from minidl.ops.adaptive_pool import window_bounds
from minidl.testing import check_against_torch

torch = pytest.importorskip("torch")
TF = pytest.importorskip("torch.nn.functional")
pytestmark = pytest.mark.torch


def images(*shape):
    return np.random.default_rng(0).standard_normal(shape)


def test_the_window_rule_is_torchs():
    """start = floor(i n / out), end = ceil((i + 1) n / out): 7 -> 3 overlaps, 3 -> 5 repeats."""
    assert [list(a) for a in window_bounds(7, 3)] == [[0, 2, 4], [3, 5, 7]]
    assert [list(a) for a in window_bounds(3, 5)] == [[0, 0, 1, 1, 2], [1, 2, 2, 3, 3]]


@pytest.mark.parametrize("output_size", [(3, 2), 1, (None, 5), (10, 9)])
@pytest.mark.parametrize("name", ["adaptive_avg_pool2d", "adaptive_max_pool2d"])
def test_fixed_sizes_match_torch(name, output_size):
    check_against_torch(lambda t: getattr(F, name)(t, output_size), lambda t: getattr(TF, name)(t, output_size),
                        [images(2, 3, 7, 6)])


def test_ties_go_to_the_first_maximum_in_row_major_order():
    """A constant image: every window's maximum is its top-left pixel, as in torch."""
    x = np.ones((1, 1, 5, 7))
    ours = F.adaptive_max_pool2d(md.tensor(x), (2, 3), return_indices=True)[1]
    theirs = TF.adaptive_max_pool2d(torch.tensor(x), (2, 3), return_indices=True)[1]
    assert ours.numpy().tolist() == theirs.numpy().tolist()


def test_an_overlapped_maximum_gets_the_gradient_of_both_windows(float64):
    """7 -> 2: the windows [0, 4) and [3, 7) share position 3; its gradient is the sum."""
    x = md.tensor(np.array([[[[0.0, 1, 2, 9, 3, 4, 5]]]]), requires_grad=True)
    F.adaptive_max_pool2d(x, (1, 2)).backward(md.tensor([[[[1.0, 10.0]]]]))
    assert x.grad.numpy().ravel().tolist() == [0, 0, 0, 11, 0, 0, 0]


@pytest.mark.parametrize("name, arguments", [
    ("AdaptiveAvgPool2d", (1,)),
    ("AdaptiveAvgPool2d", ((None, 3),)),
    ("AdaptiveMaxPool2d", ((2, 4),)),
    ("AdaptiveMaxPool2d", (3, True)),
])
def test_modules_match_torch_and_their_repr(name, arguments):
    ours, theirs = getattr(md.nn, name)(*arguments), getattr(torch.nn, name)(*arguments)
    assert repr(ours) == repr(theirs)
    check_against_torch(ours, theirs, [images(3, 7, 5)])  # unbatched (C, H, W)


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("name", ["adaptive_avg_pool2d", "adaptive_max_pool2d"])
@pytest.mark.parametrize("output_size, message", [
    ((2, 3, 4), r"output_size must be an int or a pair \(H, W\), got \(2, 3, 4\)"),
    (-1, r"output_size must hold ints >= 0 \(or None: keep the input's size\), got -1"),
    ((2, 1.5), r"output_size must hold ints >= 0 .*, got \(2, 1.5\)"),
])
def test_a_bad_output_size_is_a_clear_error(name, output_size, message):
    with pytest.raises(ValueError, match=f"{name}: {message}"):
        getattr(F, name)(md.randn(1, 2, 4, 4), output_size)


@pytest.mark.parametrize("name", ["adaptive_avg_pool2d", "adaptive_max_pool2d"])
def test_the_input_must_be_an_image(name):
    with pytest.raises(ValueError, match=rf"{name}: input must be 4-D \(N, C, H, W\) or 3-D \(C, H, W\), got shape \(4, 4\)"):
        getattr(F, name)(md.randn(4, 4), 2)


@pytest.mark.parametrize("name", ["adaptive_avg_pool2d", "adaptive_max_pool2d"])
def test_an_empty_image_is_a_clear_error(name):
    with pytest.raises(ValueError, match=rf"{name}: the input's height and width must be at least 1, got shape \(1, 2, 0, 3\)"):
        getattr(F, name)(md.zeros(1, 2, 0, 3), 2)
