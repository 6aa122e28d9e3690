"""nn.ConvTranspose2d and F.conv_transpose2d against torch: layers with torch's weights (and
``output_size=``), fixed edge cases on both algorithms, bad input.  Drawn shapes and settings
(torch parity, gradcheck): op_cases.py."""
import numpy as np
import pytest

import minidl as md
import minidl.functional as F
from minidl.testing import assert_close, check_against_torch
from layer_twins import assert_step_matches, twins

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch
TF = torch.nn.functional

ALGORITHMS = pytest.mark.parametrize("algorithm", ["im2col", "direct"])


@ALGORITHMS
@pytest.mark.parametrize("args, kwargs, x_shape", [
    ((8, 4, 4), dict(stride=2, padding=1), (2, 8, 7, 7)),  # the U-Net / DCGAN upsampling block: 7x7 -> 14x14
    ((8, 4, 2), dict(stride=2), (2, 8, 5, 6)),
    ((6, 4, (3, 2)), dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2), groups=2, bias=False), (2, 6, 4, 3)),
    ((3, 2, 3), dict(stride=1, dilation=2, output_padding=1), (2, 3, 4, 4)),  # output_padding < dilation only
    ((3, 5, 3), dict(padding=1), (3, 5, 5)),  # unbatched
])
def test_layer_matches_torch(algorithm, args, kwargs, x_shape):
    ours, theirs = twins("ConvTranspose2d", *args, **kwargs)
    with md.config.override(conv_algorithm=algorithm):
        assert_step_matches(ours, theirs, np.random.default_rng(1).standard_normal(x_shape))


@pytest.mark.parametrize("output_size", [(13, 16), (14, 18), [2, 4, 14, 17]])
def test_output_size_picks_the_output_padding(output_size):
    ours, theirs = twins("ConvTranspose2d", 8, 4, 3, stride=(2, 3), padding=1)
    assert_step_matches(ours, theirs, np.random.default_rng(1).standard_normal((2, 8, 7, 6)), output_size=output_size)


def test_layer_has_torchs_parameters_and_repr():
    options = dict(stride=2, output_padding=1, groups=2, bias=False)
    ours, theirs = md.nn.ConvTranspose2d(4, 6, 3, **options), torch.nn.ConvTranspose2d(4, 6, 3, **options)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    assert repr(ours) == repr(theirs)
    bound = 1 / np.sqrt(3 * 3 * 3)  # U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = out / groups * kh * kw
    assert np.abs(ours.weight.numpy()).max() <= bound


@ALGORITHMS
@pytest.mark.parametrize("case", ["one_pixel", "stride_beyond_kernel", "padding_crops_to_one", "depthwise"])
def test_edge_cases(algorithm, case):
    x_shape, w_shape, options = {
        "one_pixel": ((2, 3, 1, 1), (3, 2, 3, 3), {}),
        "stride_beyond_kernel": ((2, 2, 3, 3), (2, 3, 2, 2), {"stride": 4, "output_padding": 3}),  # gaps of zeros
        "padding_crops_to_one": ((1, 2, 2, 2), (2, 2, 2, 2), {"padding": 1}),
        "depthwise": ((2, 4, 3, 3), (4, 1, 3, 3), {"groups": 4, "stride": 2, "dilation": (2, 1)}),
    }[case]
    rng = np.random.default_rng(3)
    out_channels = w_shape[1] * options.get("groups", 1)
    inputs = [rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(out_channels)]
    with md.config.override(conv_algorithm=algorithm):
        check_against_torch(lambda *t: F.conv_transpose2d(*t, **options), lambda *t: TF.conv_transpose2d(*t, **options), inputs)


def test_float32_matches_torch():
    rng = np.random.default_rng(4)
    inputs = [rng.standard_normal(s).astype(np.float32) for s in ((4, 16, 7, 7), (16, 8, 4, 4), (8,))]
    check_against_torch(lambda *t: F.conv_transpose2d(*t, stride=2, padding=1),
                        lambda *t: TF.conv_transpose2d(*t, stride=2, padding=1), inputs, rtol=1e-5, atol=1e-5)


def test_without_an_input_gradient():
    """A first layer: only the weight and bias need gradients."""
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((2, 3, 4, 4)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(2)
    mw, mb = md.tensor(w, requires_grad=True), md.tensor(b, requires_grad=True)
    tw, tb = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    F.conv_transpose2d(md.tensor(x), mw, mb, stride=2).sum().backward()
    TF.conv_transpose2d(torch.tensor(x), tw, tb, stride=2).sum().backward()
    assert_close(mw.grad.numpy(), tw.grad.numpy(), 1e-10, 1e-10, "weight grad")
    assert_close(mb.grad.numpy(), tb.grad.numpy(), 1e-10, 1e-10, "bias grad")


def _both_raise(ours, theirs, message, theirs_error=RuntimeError):
    """``ours()`` raises a ValueError matching ``message`` where torch's ``theirs()`` raises too."""
    with pytest.raises(ValueError, match=message):
        ours()
    with pytest.raises(theirs_error):
        theirs()


def test_wrong_channel_count():
    _both_raise(lambda: md.nn.ConvTranspose2d(4, 2, 3)(md.zeros(1, 3, 5, 5)),
                lambda: torch.nn.ConvTranspose2d(4, 2, 3)(torch.zeros(1, 3, 5, 5)),
                r"conv_transpose2d: input of shape \(1, 3, 5, 5\) has 3 channels, but weight of shape "
                r"\(4, 2, 3, 3\) expects 4")


def test_output_padding_not_smaller_than_stride_or_dilation():
    _both_raise(lambda: md.nn.ConvTranspose2d(3, 2, 3, stride=(2, 1), output_padding=(1, 1))(md.zeros(1, 3, 5, 5)),
                lambda: torch.nn.ConvTranspose2d(3, 2, 3, stride=(2, 1), output_padding=(1, 1))(torch.zeros(1, 3, 5, 5)),
                r"conv_transpose2d: output_padding must be smaller than either stride or dilation, got "
                r"output_padding \(1, 1\), stride \(2, 1\), dilation \(1, 1\)")


def test_output_size_out_of_range():
    _both_raise(lambda: md.nn.ConvTranspose2d(3, 2, 3, stride=2)(md.zeros(1, 3, 5, 5), output_size=(13, 13)),
                lambda: torch.nn.ConvTranspose2d(3, 2, 3, stride=2)(torch.zeros(1, 3, 5, 5), output_size=(13, 13)),
                r"ConvTranspose2d: requested an output size of \(13, 13\), but valid sizes range from \(11, 11\) "
                r"to \(12, 12\) \(for an input of shape \(1, 3, 5, 5\)\)", theirs_error=ValueError)


def test_padding_leaves_no_output():
    _both_raise(lambda: F.conv_transpose2d(md.zeros(1, 2, 2, 2), md.zeros(2, 2, 2, 2), padding=2),
                lambda: TF.conv_transpose2d(torch.zeros(1, 2, 2, 2), torch.zeros(2, 2, 2, 2), padding=2),
                r"conv_transpose2d: the kernel does not fit: input of shape \(1, 2, 2, 2\) with kernel \(2, 2\), "
                r"stride \(1, 1\), padding \(2, 2\), output_padding \(0, 0\), dilation \(1, 1\) "
                r"gives an output of size \(-1, -1\)")


def test_bias_of_the_wrong_size():
    _both_raise(lambda: F.conv_transpose2d(md.zeros(1, 3, 4, 4), md.zeros(3, 2, 3, 3), md.zeros(3)),
                lambda: TF.conv_transpose2d(torch.zeros(1, 3, 4, 4), torch.zeros(3, 2, 3, 3), torch.zeros(3)),
                r"conv_transpose2d: bias must have shape \(2,\), got \(3,\)")


def test_groups_not_dividing_the_input_channels():
    _both_raise(lambda: F.conv_transpose2d(md.zeros(1, 3, 4, 4), md.zeros(3, 2, 3, 3), groups=2),
                lambda: TF.conv_transpose2d(torch.zeros(1, 3, 4, 4), torch.zeros(3, 2, 3, 3), groups=2),
                r"conv_transpose2d: groups must be a positive int dividing the input channels \(3, weight of shape "
                r"\(3, 2, 3, 3\)\), got 2")
