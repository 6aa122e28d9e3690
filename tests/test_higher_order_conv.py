"""Gradients of gradients (create_graph=True) through convolution and pooling, against torch in
float64: Hessian-vector products on hypothesis-drawn configurations for both convolution
algorithms, a third derivative of conv2d, and gradgradcheck on a small case."""
import numpy as np
import pytest
from conv_cases import conv_configs, pool_configs
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import minidl as md
from minidl.ops.window import transposed_output_size
from minidl.testing import check_hvp_against_torch, gradgradcheck

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

F, TF = md.nn.functional, torch.nn.functional
ALGORITHMS = ["im2col", "direct"]


def normal(seed, *shapes):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in shapes]


def cubed(out):
    """out^3: a nonlinearity after the op, so that the Hessian also goes through its backward twice."""
    return out * out * out


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@settings(max_examples=8, deadline=None)
@given(config=conv_configs(max_size=5), bias=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_conv2d_hessian_vector_products_match_torch(algorithm, config, bias, seed):
    x_shape, weight_shape, options = config
    inputs = normal(seed, x_shape, weight_shape, (weight_shape[0],))[: 3 if bias else 2]
    with md.config.override(conv_algorithm=algorithm):
        check_hvp_against_torch(lambda *t: F.conv2d(*t, **options), lambda *t: TF.conv2d(*t, **options), inputs)
        check_hvp_against_torch(lambda *t: cubed(F.conv2d(*t, **options)), lambda *t: cubed(TF.conv2d(*t, **options)), inputs)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@settings(max_examples=8, deadline=None)
@given(config=conv_configs(max_size=5), bias=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_conv_transpose2d_hessian_vector_products_match_torch(algorithm, config, bias, seed):
    """The transposed convolution back to a convolution's image size (output_padding the rest)."""
    (n, channels, *size), weight_shape, options = config
    geometry = [options[name] for name in ("stride", "padding", "dilation")]
    out_size = [(h + 2 * p - d * (k - 1) - 1) // s + 1 for h, k, s, p, d in zip(size, weight_shape[2:], *geometry)]
    extra = tuple(h - transposed_output_size(o, k, s, p, d, 0) for h, o, k, s, p, d in zip(size, out_size, weight_shape[2:], *geometry))
    options = dict(options, output_padding=extra)
    out_channels = weight_shape[1] * options["groups"]
    inputs = normal(seed, (n, weight_shape[0], *out_size), weight_shape, (out_channels,))[: 3 if bias else 2]
    with md.config.override(conv_algorithm=algorithm):
        check_hvp_against_torch(lambda *t: cubed(F.conv_transpose2d(*t, **options)),
                                lambda *t: cubed(TF.conv_transpose2d(*t, **options)), inputs)


@settings(max_examples=10, deadline=None)
@given(config=pool_configs(max_size=6), seed=st.integers(0, 2**32 - 1))
def test_max_pool2d_hessian_vector_products_match_torch(config, seed):
    x_shape, kernel, stride, padding, dilation, ceil_mode = config
    options = dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
    # a window wholly in the padding gives -inf, and torch's double backward indexes out of bounds there
    assume(bool(torch.isfinite(TF.max_pool2d(torch.zeros(x_shape), **options)).all()))
    check_hvp_against_torch(lambda x: cubed(F.max_pool2d(x * x, **options)),
                            lambda x: cubed(TF.max_pool2d(x * x, **options)), normal(seed, x_shape))


@settings(max_examples=10, deadline=None)
@given(config=pool_configs(max_size=6, dilated=False), count_include_pad=st.booleans(),
       divisor_override=st.sampled_from([None, 3]), seed=st.integers(0, 2**32 - 1))
def test_avg_pool2d_hessian_vector_products_match_torch(config, count_include_pad, divisor_override, seed):
    x_shape, kernel, stride, padding, _, ceil_mode = config
    options = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
                   count_include_pad=count_include_pad, divisor_override=divisor_override)
    check_hvp_against_torch(lambda x: cubed(F.avg_pool2d(x * x, **options)),
                            lambda x: cubed(TF.avg_pool2d(x * x, **options)), normal(seed, x_shape))


def conv_derivatives(lib, x, weight, options):
    """For L = <conv2d(x, W)^2, r>: dL, the gradient of <dL, v> and the gradient of that with u,
    each w.r.t. (x, W): first, second and third derivatives along fixed directions."""
    inputs = [lib.tensor(x, requires_grad=True), lib.tensor(weight, requires_grad=True)]
    out = lib.nn.functional.conv2d(*inputs, **options)
    r, v_x, v_w, u_x, u_w = (lib.tensor(a) for a in normal(7, tuple(out.shape), x.shape, weight.shape, x.shape, weight.shape))
    first = lib.autograd.grad((out * out * r).sum(), inputs, create_graph=True)
    second = lib.autograd.grad((first[0] * v_x).sum() + (first[1] * v_w).sum(), inputs, create_graph=True)
    third = lib.autograd.grad((second[0] * u_x).sum() + (second[1] * u_w).sum(), inputs)
    return [d.detach().numpy() for d in first + second + third]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_third_derivative_of_conv2d_matches_torch(algorithm):
    x, weight = normal(5, (2, 4, 5, 7), (4, 2, 2, 3))
    options = dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)
    with md.config.override(conv_algorithm=algorithm):
        mine = conv_derivatives(md, x, weight, options)
    for ours, theirs in zip(mine, conv_derivatives(torch, x, weight, options)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_conv2d_recorded_backward_runs_the_chosen_algorithm(algorithm):
    x, weight = (md.tensor(a, requires_grad=True) for a in normal(0, (1, 2, 4, 4), (3, 2, 3, 3)))
    with md.config.override(conv_algorithm=algorithm):
        grad_x, grad_w = md.autograd.grad(cubed(F.conv2d(x, weight, padding=1)).sum(), [x, weight], create_graph=True)
    transposed = {"im2col": "ConvTranspose2dIm2col", "direct": "ConvTranspose2dDirect"}[algorithm]
    assert grad_x.grad_fn.name == transposed


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_conv2d_gradgradcheck(algorithm):
    inputs = [md.tensor(a, requires_grad=True) for a in normal(3, (1, 2, 4, 5), (2, 1, 2, 2), (2,))]
    with md.config.override(conv_algorithm=algorithm):
        assert gradgradcheck(lambda x, w, b: cubed(F.conv2d(x, w, b, stride=(1, 2), padding=1, groups=2)), inputs)
