"""conv2d, max_pool2d, avg_pool2d and their layers against PyTorch, central differences and bad input."""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import minidl as md
import minidl.functional as F
from conv_cases import conv_configs, pool_configs
from minidl.testing import check_against_torch, gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOLERANCE = {"float64": 1e-10, "float32": 1e-4}


ALGORITHMS = pytest.mark.parametrize("algorithm", ["im2col", "direct"])


def _conv_inputs(config, dtype, seed, bias):
    x_shape, w_shape, options = config
    rng = np.random.default_rng(seed)
    inputs = [rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(w_shape).astype(dtype)]
    if bias:
        inputs.append(rng.standard_normal(w_shape[0]).astype(dtype))
    return inputs, options


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@ALGORITHMS
@given(config=conv_configs(), bias=st.booleans(), seed=st.integers(0, 2**31))
def test_conv2d_matches_torch(algorithm, dtype, config, bias, seed):
    inputs, options = _conv_inputs(config, dtype, seed, bias)
    tol = TOLERANCE[dtype]
    with md.config.override(conv_algorithm=algorithm):
        check_against_torch(lambda *t: F.conv2d(*t, **options), lambda *t: TF.conv2d(*t, **options), inputs, rtol=tol, atol=tol)


@ALGORITHMS
@settings(max_examples=6)
@given(config=conv_configs(max_size=4), seed=st.integers(0, 2**31))
def test_conv2d_gradcheck(algorithm, config, seed):
    inputs, options = _conv_inputs(config, "float64", seed, bias=True)
    tensors = [md.tensor(a, requires_grad=True) for a in inputs]
    with md.config.override(conv_algorithm=algorithm):
        assert gradcheck(lambda *t: F.conv2d(*t, **options), tensors, atol=1e-6, rtol=1e-4)


@pytest.mark.torch
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")
@ALGORITHMS
@pytest.mark.parametrize("padding", ["same", "valid"])
def test_conv2d_string_padding(algorithm, padding):
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 2, 3))]  # even kernel: asymmetric 'same'
    with md.config.override(conv_algorithm=algorithm):
        check_against_torch(lambda x, w: F.conv2d(x, w, padding=padding, dilation=(1, 2)),
                            lambda x, w: TF.conv2d(x, w, padding=padding, dilation=(1, 2)), inputs)


@pytest.mark.torch
@ALGORITHMS
@pytest.mark.parametrize("case", ["kernel_equals_input", "stride_beyond_kernel", "unbatched"])
def test_conv2d_edge_cases(algorithm, case):
    rng = np.random.default_rng(1)
    x_shape, w_shape, options = {
        "kernel_equals_input": ((2, 2, 5, 4), (3, 2, 5, 4), {}),
        "stride_beyond_kernel": ((1, 2, 9, 9), (2, 2, 2, 2), {"stride": 4}),
        "unbatched": ((2, 6, 6), (3, 2, 3, 3), {"padding": 1}),
    }[case]
    inputs = [rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])]
    with md.config.override(conv_algorithm=algorithm):
        check_against_torch(lambda *t: F.conv2d(*t, **options), lambda *t: TF.conv2d(*t, **options), inputs)


def _pool_input(config, dtype, seed, ties):
    x_shape = config[0]
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 3, x_shape) if ties else rng.standard_normal(x_shape)
    return values.astype(dtype)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@given(config=pool_configs(), ties=st.booleans(), seed=st.integers(0, 2**31))
def test_max_pool2d_matches_torch(dtype, config, ties, seed):
    """Including inputs full of ties: the gradient goes where PyTorch sends it."""
    _, kernel, stride, padding, dilation, ceil_mode = config
    x = _pool_input(config, dtype, seed, ties)
    options = dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode, return_indices=True)
    assume(np.isfinite(TF.max_pool2d(torch.tensor(x), **options)[0].numpy()).all())  # see the next test
    check_against_torch(lambda t: F.max_pool2d(t, **options), lambda t: TF.max_pool2d(t, **options), [x],
                        rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


@pytest.mark.torch
@pytest.mark.parametrize("padding", [0, 1])
def test_max_pool2d_nan_wins_as_in_torch(padding):
    """A NaN is the maximum of its window, and of two NaNs PyTorch points at the last one; windows
    without NaN keep the first maximum among ties."""
    x = np.ones((1, 2, 4, 4))
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = np.nan  # two NaNs in one window
    x[0, 1, 2, 2] = np.nan
    x[0, 1, 0, 0] = 5.0
    out, index = F.max_pool2d(md.tensor(x), 2, padding=padding, return_indices=True)
    expected, expected_index = TF.max_pool2d(torch.tensor(x), 2, padding=padding, return_indices=True)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    np.testing.assert_array_equal(index.numpy(), expected_index.numpy())


@pytest.mark.torch
@pytest.mark.parametrize("size, ceil_mode", [((4, 4), False), ((5, 7), False), ((5, 7), True)])
def test_max_pool2d_2x2_path_matches_torch_on_ties(size, ceil_mode):
    """The unrolled 2x2 / stride 2 kernel (odd sizes drop the last row or column, or with
    ceil_mode keep a clipped window) on inputs full of ties: values, indices and the routed
    gradient as PyTorch."""
    x = np.random.default_rng(1).integers(0, 2, (2, 3) + size).astype(float)
    options = dict(kernel_size=2, ceil_mode=ceil_mode, return_indices=True)
    check_against_torch(lambda t: F.max_pool2d(t, **options), lambda t: TF.max_pool2d(t, **options), [x], rtol=1e-12, atol=1e-12)


@given(start=st.integers(-12, 12), step=st.integers(1, 4), count=st.integers(0, 6), size=st.integers(1, 9))
def test_span_inside_is_the_set_of_taps_inside(start, step, count, size):
    """The index helper behind the kernels' bounds-free loops, against a brute-force count."""
    from kernels import window

    first, stop = window.span_inside(start, step, count, size)
    assert [q for q in range(count) if first <= q < stop] == [q for q in range(count) if 0 <= start + q * step < size]


@pytest.mark.torch
def test_max_pool2d_window_wholly_in_the_padding():
    """Both libraries give -inf and point the index past the input; minidl sends no gradient there
    (PyTorch's backward would write outside the plane)."""
    x = md.tensor(np.ones((1, 1, 1, 1)), requires_grad=True)
    out, index = F.max_pool2d(x, (2, 1), 1, (1, 0), dilation=(2, 1), return_indices=True)
    expected, expected_index = TF.max_pool2d(torch.ones(1, 1, 1, 1, dtype=torch.float64), (2, 1), 1, (1, 0), (2, 1), return_indices=True)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    np.testing.assert_array_equal(index.numpy(), expected_index.numpy())
    out.sum().backward()
    assert x.grad.tolist() == [[[[0.0]]]]


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@given(config=pool_configs(dilated=False), count_include_pad=st.booleans(),
       divisor_override=st.sampled_from([None, None, 3]), seed=st.integers(0, 2**31))
def test_avg_pool2d_matches_torch(dtype, config, count_include_pad, divisor_override, seed):
    _, kernel, stride, padding, _, ceil_mode = config
    x = _pool_input(config, dtype, seed, ties=False)
    options = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
                   count_include_pad=count_include_pad, divisor_override=divisor_override)
    check_against_torch(lambda t: F.avg_pool2d(t, **options), lambda t: TF.avg_pool2d(t, **options), [x],
                        rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


@pytest.mark.torch
@pytest.mark.parametrize("size, ceil_mode", [((4, 4), False), ((5, 7), False), ((5, 7), True)])
@pytest.mark.parametrize("count_include_pad, divisor_override", [(True, None), (False, None), (True, 3)])
def test_avg_pool2d_2x2_path_matches_torch(size, ceil_mode, count_include_pad, divisor_override):
    """The unrolled 2x2 / stride 2 kernels, with the clipped last window of ceil_mode and each
    divisor rule."""
    x = np.random.default_rng(2).standard_normal((2, 3) + size)
    options = dict(kernel_size=2, ceil_mode=ceil_mode, count_include_pad=count_include_pad, divisor_override=divisor_override)
    check_against_torch(lambda t: F.avg_pool2d(t, **options), lambda t: TF.avg_pool2d(t, **options), [x], rtol=1e-12, atol=1e-12)


@settings(max_examples=6)
@given(config=pool_configs(max_size=5), seed=st.integers(0, 2**31))
def test_pooling_gradcheck(config, seed):
    _, kernel, stride, padding, dilation, ceil_mode = config
    x = md.tensor(_pool_input(config, "float64", seed, ties=False), requires_grad=True)
    assert gradcheck(lambda t: F.max_pool2d(t, kernel, stride, padding, dilation, ceil_mode), [x])
    assert gradcheck(lambda t: F.avg_pool2d(t, kernel, stride, padding, ceil_mode), [x])


def test_algorithms_agree_and_the_setting_is_checked():
    rng = np.random.default_rng(2)
    x, w = md.tensor(rng.standard_normal((2, 3, 8, 8))), md.tensor(rng.standard_normal((4, 3, 3, 3)))
    outputs = {}
    for name in ("im2col", "direct"):
        with md.config.override(conv_algorithm=name):
            outputs[name] = F.conv2d(x, w, stride=2, padding=1).numpy()
    assert md.config.conv_algorithm == "im2col"
    np.testing.assert_allclose(outputs["direct"], outputs["im2col"], rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="conv_algorithm must be one of"):
        md.config.conv_algorithm = "fft"


@pytest.mark.torch
def test_layers_match_torch_with_copied_weights():
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 6, 3, padding=1, groups=2), torch.nn.AvgPool2d(2, ceil_mode=True), torch.nn.Flatten(),
    ).double()
    ours = md.nn.Sequential(
        md.nn.Conv2d(1, 4, 3), md.nn.ReLU(), md.nn.MaxPool2d(2),
        md.nn.Conv2d(4, 6, 3, padding=1, groups=2), md.nn.AvgPool2d(2, ceil_mode=True), md.nn.Flatten(),
    ).to(md.float64)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(3).standard_normal((2, 1, 12, 12))
    mine, expected = ours(md.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(mine.numpy(), expected.detach().numpy(), rtol=1e-10)
    mine.sum().backward()
    expected.sum().backward()
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.torch
def test_conv2d_default_initialisation_matches_torch_bounds():
    ours, theirs = md.nn.Conv2d(16, 32, (3, 5), groups=2), torch.nn.Conv2d(16, 32, (3, 5), groups=2)
    bound = 1 / np.sqrt(8 * 15)
    for mine, expected in ((ours.weight, theirs.weight), (ours.bias, theirs.bias)):
        assert mine.shape == tuple(expected.shape)
        assert np.abs(mine.numpy()).max() <= bound and np.abs(expected.detach().numpy()).max() <= bound
        assert abs(mine.numpy().std() - bound / np.sqrt(3)) < 0.1 * bound
    assert repr(ours) == "Conv2d(16, 32, kernel_size=(3, 5), stride=(1, 1), groups=2)"


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: F.conv2d(md.zeros(28, 28), md.zeros(1, 1, 3, 3)), r"conv2d: input must be 4-D \(N, C, H, W\) or 3-D \(C, H, W\), got shape \(28, 28\)"),
        (lambda: F.conv2d(md.zeros(1, 3, 8, 8), md.zeros(4, 2, 3, 3)), r"conv2d: input of shape \(1, 3, 8, 8\) has 3 channels, but weight of shape \(4, 2, 3, 3\) expects 2"),
        (lambda: F.conv2d(md.zeros(1, 1, 4, 4), md.zeros(1, 1, 6, 6), padding=0), r"conv2d: the kernel does not fit: input of shape \(1, 1, 4, 4\)"),
        (lambda: F.conv2d(md.zeros(1, 1, 4, 4), md.zeros(1, 1, 3, 3), stride=0), r"conv2d: stride must be an int or a pair of ints >= 1, got 0"),
        (lambda: F.conv2d(md.zeros(1, 1, 4, 4), md.zeros(1, 1, 3, 3), padding="same", stride=2), r"conv2d: padding='same' needs stride 1"),
        (lambda: F.conv2d(md.zeros(1, 2, 4, 4), md.zeros(2, 1, 3, 3), groups=3), r"conv2d: groups must be a positive int dividing"),
        (lambda: F.conv2d(md.zeros(1, 1, 4, 4), md.zeros(1, 1, 3)), r"conv2d: weight must be 4-D"),
        (lambda: F.max_pool2d(md.zeros(1, 1, 2, 2), 3), r"max_pool2d: the kernel does not fit"),
        (lambda: F.max_pool2d(md.zeros(1, 1, 8, 8), 2, padding=2), r"max_pool2d: padding \(2, 2\) must be at most half"),
        (lambda: F.avg_pool2d(md.zeros(1, 1, 8, 8), 2, stride=-1), r"avg_pool2d: stride must be an int or a pair of ints >= 1"),
        (lambda: F.avg_pool2d(md.zeros(8, 8), 2), r"avg_pool2d: input must be 4-D"),
    ],
)
def test_bad_input_is_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_conv_backward_twice_with_retain_graph():
    """The im2col backward overwrites its saved buffer only on the graph's last use."""
    rng = np.random.default_rng(4)
    x = md.tensor(rng.standard_normal((2, 3, 6, 6)), requires_grad=True)
    w = md.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    y = F.conv2d(x, w).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy(), w.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first[0], rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), 2 * first[1], rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("with_bias", [True, False])
def test_rows_into_samples_kernel_is_the_array_layout(dtype, groups, with_bias):
    """The compiled bias + layout pass of the im2col forward against the plain NumPy statement,
    into a strided view (one group's channels of the output) as ``products_into`` writes it."""
    from minidl.ops.conv import rows_into_samples

    rng = np.random.default_rng(5)
    n_batch, channels, positions = 3, 4, 7
    product = rng.standard_normal((channels, n_batch * positions)).astype(dtype)
    bias = rng.standard_normal(channels).astype(dtype) if with_bias else None
    out = np.full((n_batch, channels * groups, positions), np.nan, dtype)
    rows_into_samples(product.copy(), bias, out[:, -channels:])
    expected = product.reshape(channels, n_batch, positions).transpose(1, 0, 2) + (0 if bias is None else bias[:, None])
    np.testing.assert_array_equal(out[:, -channels:], expected)
    assert np.isnan(out[:, : channels * (groups - 1)]).all()  # the other group's channels untouched


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("divisor_override", [0, 3])
@pytest.mark.parametrize("size", [(6, 8), (7, 5)], ids=["even", "odd: a row and a column left over"])
def test_avg_pool_2x2_plane_kernels_give_the_general_loops_bits(dtype, divisor_override, size):
    """The 2x2 / stride 2 plane loops of average pooling (windows wholly inside) against the
    general ones, forward and backward, with an inf and a NaN in the plane."""
    from kernels import cpu

    rng = np.random.default_rng(9)
    plane = rng.standard_normal(size).astype(dtype)
    plane[0, 0], plane[3, 2] = np.inf, np.nan
    out_h, out_w = size[0] // 2, size[1] // 2
    grad = rng.standard_normal((out_h, out_w)).astype(dtype)
    general, fast = np.empty((out_h, out_w), dtype), np.empty((out_h, out_w), dtype)
    cpu.avg_pool_plane(plane, general, (2, 2), (2, 2), (0, 0), True, divisor_override)
    cpu.avg_pool_plane_2x2(plane.reshape(-1), fast.reshape(-1), size[1], out_h, out_w, cpu.divisor_2x2(divisor_override))
    np.testing.assert_array_equal(fast, general)
    general_dx, fast_dx = np.zeros(size, dtype), np.zeros(size, dtype)
    cpu.avg_pool_plane_backward(grad, general_dx, (2, 2), (2, 2), (0, 0), True, divisor_override)
    cpu.avg_pool_plane_2x2_backward(grad.reshape(-1), fast_dx.reshape(-1), size[1], out_h, out_w, cpu.divisor_2x2(divisor_override))
    np.testing.assert_array_equal(fast_dx, general_dx)
