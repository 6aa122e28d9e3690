"""F.interpolate and nn.Upsample against torch: fixed cases the drawn shapes of op_cases.py may miss
(large sizes where float32 rounding picks the source pixel, a scale that is not out/in, the 2x
shortcut, one pixel with align_corners) and one test per error."""
import numpy as np
import pytest

import minidl as md
import minidl.functional as F
from minidl.testing import check_against_torch

torch = pytest.importorskip("torch")
TF = pytest.importorskip("torch.nn.functional")
pytestmark = pytest.mark.torch


def images(*shape, dtype="float64"):
    return np.random.default_rng(0).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape, options", [
    ((1, 2, 5, 5), dict(scale_factor=1.7)),  # 5 -> 8 pixels with step 1 / 1.7, not 5 / 8
    ((1, 2, 5, 5), dict(scale_factor=1.7, recompute_scale_factor=True)),  # step 5 / 8
    ((2, 3, 37, 23), dict(scale_factor=2)),  # torch's 2x shortcut i // 2
    ((2, 3, 37, 23), dict(size=(37, 23))),  # the same size: the identity
    ((2, 3, 37, 23), dict(size=(97, 61), mode="bilinear")),
    ((2, 3, 37, 23), dict(scale_factor=0.4, mode="bilinear")),  # downsampling reads two of every five pixels
    ((1, 2, 5, 5), dict(scale_factor=1.7, mode="bilinear", align_corners=True)),
])
def test_interpolate_fixed_cases_match_torch(shape, options, dtype):
    check_against_torch(lambda t: F.interpolate(t, **options), lambda t: TF.interpolate(t, **options),
                        [images(*shape, dtype=dtype)])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nearest_picks_the_source_pixel_with_torchs_rounding(dtype):
    """floor(i * (2 / 82)) in float32 differs from i * 2 // 82 for one i, and torch computes in the
    input's dtype.  (torch's float64 *backward* rounds in float32, so it is not the transpose of its
    own forward there; ours is, which the gradcheck shows.)"""
    options = dict(size=(82, 123))
    x = images(1, 2, 2, 3, dtype=dtype)
    check_against_torch(lambda t: F.interpolate(t, **options), lambda t: TF.interpolate(t, **options), [x], grad=False)
    assert md.testing.gradcheck(lambda t: F.interpolate(t, **options), [md.tensor(x.astype("float64"), requires_grad=True)])


def test_one_pixel_with_align_corners_and_linear_on_sequences_match_torch():
    for options, x in ((dict(size=(4, 1), mode="bilinear", align_corners=True), images(1, 1, 1, 3)),
                       (dict(size=7, mode="linear", align_corners=True), images(2, 3, 1)),
                       (dict(scale_factor=2.5, mode="linear"), images(2, 3, 4)),
                       (dict(size=9), images(2, 3, 4))):  # fmt: skip
        check_against_torch(lambda t: F.interpolate(t, **options), lambda t: TF.interpolate(t, **options), [x])


def test_nearest_2x_sends_each_pixel_the_sum_of_its_four_copies(float64):
    x = md.tensor(images(1, 1, 2, 2), requires_grad=True)
    out = F.interpolate(x, scale_factor=2)
    out.backward(md.tensor(np.arange(16.0).reshape(1, 1, 4, 4)))
    assert out.numpy()[0, 0, :2, :2].tolist() == [[x.numpy()[0, 0, 0, 0]] * 2] * 2
    assert x.grad.numpy()[0, 0].tolist() == [[0 + 1 + 4 + 5, 2 + 3 + 6 + 7], [8 + 9 + 12 + 13, 10 + 11 + 14 + 15]]


@pytest.mark.parametrize("arguments", [
    dict(scale_factor=2),
    dict(size=(5, 3), mode="bilinear"),
    dict(scale_factor=(2, 3), mode="bilinear", align_corners=True),
])
def test_upsample_module_matches_torch_and_its_repr(arguments):
    ours, theirs = md.nn.Upsample(**arguments), torch.nn.Upsample(**arguments)
    assert repr(ours) == repr(theirs)
    check_against_torch(ours, theirs, [images(2, 3, 4, 4)])


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("arguments, message", [
    (dict(), "give exactly one of size and scale_factor, got neither"),
    (dict(size=4, scale_factor=2), "give exactly one of size and scale_factor, got both"),
    (dict(size=4, align_corners=True), "align_corners can only be set with the modes 'linear' and 'bilinear', got mode 'nearest'"),
    (dict(size=4, mode="linear"), r"mode 'linear' needs an input of shape \(N, C, L\), got shape \(1, 2, 3, 3\)"),
    (dict(size=4, mode="bicubic"), "mode must be one of 'nearest', 'linear', 'bilinear', got 'bicubic'"),
    (dict(size=(4, 4, 4)), r"size must be one number or 2 \(one per spatial axis of the input, sizes \[3, 3\]\), got \(4, 4, 4\)"),
    (dict(scale_factor=(2.0,)), r"scale_factor must be one number or 2 .*, got \(2.0,\)"),
    (dict(scale_factor=0.2), r"the output size must be positive, got \(0, 0\) from an input of spatial size \(3, 3\)"),
])
def test_interpolate_errors_name_the_op_and_what_was_given(arguments, message):
    with pytest.raises(ValueError, match="interpolate: " + message):
        F.interpolate(md.randn(1, 2, 3, 3), **arguments)


def test_bilinear_on_a_sequence_needs_an_image():
    with pytest.raises(ValueError, match=r"interpolate: mode 'bilinear' needs an input of shape \(N, C, H, W\), got shape \(1, 2, 3\)"):
        F.interpolate(md.randn(1, 2, 3), size=4, mode="bilinear")


def test_nearest_on_a_matrix_needs_a_channel_axis():
    with pytest.raises(ValueError, match=r"'nearest' needs an input of shape \(N, C, L\) or \(N, C, H, W\), got shape \(3, 3\)"):
        F.interpolate(md.randn(3, 3), size=4)


def test_a_size_must_hold_ints():
    with pytest.raises(TypeError, match="interpolate: size must hold ints, got 2.5"):
        F.interpolate(md.randn(1, 2, 3, 3), size=2.5)
