"""nn.Conv1d and F.conv1d against torch: layers with torch's weights, fixed edge cases on both
algorithms, bad input.  Drawn shapes and settings (torch parity, gradcheck): op_cases.py."""
import numpy as np
import pytest

import minidl as md
import minidl.functional as F
from minidl.testing import check_against_torch
from layer_twins import assert_step_matches, twins

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch
TF = torch.nn.functional

ALGORITHMS = pytest.mark.parametrize("algorithm", ["im2col", "direct"])


@pytest.mark.parametrize("args, kwargs, x_shape", [
    ((4, 6, 3), dict(padding=1), (2, 4, 9)),
    ((4, 6, 4), dict(padding="same", dilation=2), (2, 4, 9)),  # even kernel: the odd pad at the end
    ((4, 6, 3), dict(stride=2, padding="valid", groups=2, bias=False), (3, 4, 10)),
    ((3, 5, 2), dict(stride=3, dilation=2), (5, 3, 17)),
    ((2, 3, 3), dict(padding=2), (2, 7)),  # unbatched
])
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")
def test_layer_matches_torch(args, kwargs, x_shape):
    ours, theirs = twins("Conv1d", *args, **kwargs)
    assert_step_matches(ours, theirs, np.random.default_rng(1).standard_normal(x_shape))


def test_layer_has_torchs_parameters_and_repr():
    ours, theirs = md.nn.Conv1d(4, 6, 3, padding=1, groups=2), torch.nn.Conv1d(4, 6, 3, padding=1, groups=2)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    assert repr(ours) == repr(theirs)
    bound = 1 / np.sqrt(2 * 3)  # U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in / groups * k
    assert np.abs(ours.weight.numpy()).max() <= bound and np.abs(ours.bias.numpy()).max() <= bound


@ALGORITHMS
@pytest.mark.parametrize("case", ["kernel_equals_input", "stride_beyond_kernel", "length_one", "depthwise"])
def test_edge_cases(algorithm, case):
    x_shape, w_shape, options = {
        "kernel_equals_input": ((2, 3, 5), (4, 3, 5), {}),
        "stride_beyond_kernel": ((2, 2, 11), (3, 2, 2), {"stride": 4}),
        "length_one": ((2, 2, 1), (3, 2, 3), {"padding": 1}),
        "depthwise": ((2, 4, 8), (8, 1, 3), {"groups": 4, "padding": (1,), "dilation": (2,)}),
    }[case]
    rng = np.random.default_rng(3)
    inputs = [rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])]
    with md.config.override(conv_algorithm=algorithm):
        check_against_torch(lambda *t: F.conv1d(*t, **options), lambda *t: TF.conv1d(*t, **options), inputs)


def test_float32_matches_torch():
    rng = np.random.default_rng(4)
    inputs = [rng.standard_normal(s).astype(np.float32) for s in ((4, 8, 32), (8, 8, 5), (8,))]
    check_against_torch(lambda *t: F.conv1d(*t, padding=2), lambda *t: TF.conv1d(*t, padding=2), inputs,
                        rtol=1e-5, atol=1e-5)


def _both_raise(ours, theirs, message):
    """``ours()`` raises a ValueError matching ``message`` where torch's ``theirs()`` raises too."""
    with pytest.raises(ValueError, match=message):
        ours()
    with pytest.raises(RuntimeError):
        theirs()


def test_wrong_channel_count():
    _both_raise(lambda: md.nn.Conv1d(3, 4, 3)(md.zeros(2, 5, 8)), lambda: torch.nn.Conv1d(3, 4, 3)(torch.zeros(2, 5, 8)),
                r"conv1d: input of shape \(2, 5, 8\) has 5 channels, but weight of shape \(4, 3, 3\) expects 3")


def test_same_padding_with_a_stride():
    _both_raise(lambda: F.conv1d(md.zeros(1, 2, 8), md.zeros(3, 2, 3), stride=2, padding="same"),
                lambda: TF.conv1d(torch.zeros(1, 2, 8), torch.zeros(3, 2, 3), stride=2, padding="same"),
                r"conv1d: padding='same' needs stride 1, got stride \(2,\)")


def test_kernel_longer_than_the_padded_input():
    _both_raise(lambda: F.conv1d(md.zeros(1, 2, 2), md.zeros(3, 2, 5), padding=1),
                lambda: TF.conv1d(torch.zeros(1, 2, 2), torch.zeros(3, 2, 5), padding=1),
                r"conv1d: the kernel does not fit: input of shape \(1, 2, 2\) with kernel \(5,\), stride \(1,\), "
                r"padding \(1,\), dilation \(1,\) gives an output of size \(0,\)")


def test_image_weight_for_a_signal():
    _both_raise(lambda: F.conv1d(md.zeros(1, 2, 8), md.zeros(3, 2, 3, 3)),
                lambda: TF.conv1d(torch.zeros(1, 2, 8), torch.zeros(3, 2, 3, 3)),
                r"conv1d: weight must be 3-D \(out_channels, in_channels / groups, kernel_size\), got shape \(3, 2, 3, 3\)")


def test_image_input():
    _both_raise(lambda: F.conv1d(md.zeros(1, 2, 8, 8), md.zeros(3, 2, 3)),
                lambda: TF.conv1d(torch.zeros(1, 2, 8, 8), torch.zeros(3, 2, 3)),
                r"conv1d: input must be 3-D \(N, C, L\) or 2-D \(C, L\), got shape \(1, 2, 8, 8\)")


def test_stride_as_a_pair():
    _both_raise(lambda: F.conv1d(md.zeros(1, 2, 8), md.zeros(3, 2, 3), stride=(1, 2)),
                lambda: TF.conv1d(torch.zeros(1, 2, 8), torch.zeros(3, 2, 3), stride=(1, 2)),
                r"conv1d: stride must be an int or a tuple of 1 int >= 1, got \(1, 2\)")
