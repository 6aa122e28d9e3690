"""The CUDA kernels give what the CPU kernels give, run under Numba's CUDA simulator.

The simulator must be switched on before Numba is imported, so these tests run in their own
process: ``NUMBA_ENABLE_CUDASIM=1 python -m pytest -m cudasim tests/test_cuda_kernels.py``
(``test_cudasim_process.py`` starts it as part of the ordinary test run).  Sizes stay small: the
simulator runs each GPU thread as a Python thread, and a block whose threads meet at barriers
(``cuda.syncthreads``, the weight gradient's reduction) costs tens of milliseconds.
"""
import os
import sys

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from conv_cases import conv_configs, pool_configs

pytestmark = [
    pytest.mark.cudasim,
    pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") != "1",
                       reason="needs NUMBA_ENABLE_CUDASIM=1 before numba is imported (run by test_cudasim_process.py)"),
]

SMALL = settings(max_examples=8, deadline=None)
TOLERANCE = {np.float32: 1e-4, np.float64: 1e-12}  # rtol = atol: the weight gradient sums in the arrays' dtype


@pytest.fixture(autouse=True, scope="module")
def _quick_thread_switches():
    """The simulator's block manager polls its threads while they wait at a barrier; handing the
    interpreter over every 0.1 ms instead of 5 ms makes such blocks about 4x faster (measured)."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    yield
    sys.setswitchinterval(previous)


def _kernels():
    from kernels import cpu, cuda

    return cpu, cuda


def _conv_case(config, seed, dtype=np.float64):
    from minidl.ops.conv import ConvGeometry
    from minidl.ops.window import conv_output_size

    x_shape, w_shape, options = config
    rng = np.random.default_rng(seed)
    x, weight = rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(w_shape).astype(dtype)
    pad = options["padding"]
    out_size = tuple(conv_output_size(n, k, s, 2 * p, d) for n, k, s, p, d in
                     zip(x_shape[2:], w_shape[2:], options["stride"], pad, options["dilation"]))
    geometry = ConvGeometry(out_size, w_shape[2:], options["stride"], pad, options["dilation"], options["groups"])
    return x, weight, geometry


def _both(name, make_outputs, *inputs, extra=()):
    """Run kernel ``name`` from kernels.cpu and kernels.cuda on fresh outputs; return both results."""
    results = []
    for module in _kernels():
        outputs = make_outputs()
        getattr(module, name)(*inputs, *outputs, *extra)
        results.append(outputs)
    return results


@SMALL
@given(config=conv_configs(max_size=5), seed=st.integers(0, 2**31))
def test_im2col_and_col2im(config, seed):
    x, weight, g = _conv_case(config, seed)
    rows, columns = x.shape[1] * g.kernel[0] * g.kernel[1], x.shape[0] * g.out_size[0] * g.out_size[1]
    on_cpu, on_gpu = _both("im2col", lambda: [np.full((rows, columns), np.nan)], x, extra=g[:5])
    np.testing.assert_array_equal(on_gpu[0], on_cpu[0])
    cols = np.random.default_rng(seed).standard_normal((rows, columns))
    on_cpu, on_gpu = _both("col2im", lambda: [np.zeros(x.shape)], cols, extra=g[:5])
    np.testing.assert_allclose(on_gpu[0], on_cpu[0], rtol=1e-12, atol=1e-12)


@SMALL
@given(config=conv_configs(max_size=4), seed=st.integers(0, 2**31))
def test_direct_convolution(config, seed):
    x, weight, g = _conv_case(config, seed)
    out_shape = (x.shape[0], weight.shape[0]) + g.out_size
    rule = (g.stride, g.padding, g.dilation, g.groups)
    on_cpu, on_gpu = _both("conv_forward_direct", lambda: [np.empty(out_shape)], x, weight, extra=rule)
    np.testing.assert_allclose(on_gpu[0], on_cpu[0], rtol=1e-12, atol=1e-12)
    grad = np.random.default_rng(seed).standard_normal(out_shape)
    on_cpu, on_gpu = _both("conv_backward_input_direct", lambda: [np.zeros(x.shape)], grad, weight, extra=rule)
    np.testing.assert_allclose(on_gpu[0], on_cpu[0], rtol=1e-12, atol=1e-12)


def _weight_gradients(config, seed, dtype):
    """(CPU kernel's, CUDA kernel's, x, grad): the direct weight gradient of a random case."""
    x, weight, g = _conv_case(config, seed, dtype)
    grad = np.random.default_rng(seed + 1).standard_normal((x.shape[0], weight.shape[0]) + g.out_size).astype(dtype)
    rule = (g.stride, g.padding, g.dilation, g.groups)
    on_cpu, on_gpu = _both("conv_backward_weight_direct", lambda: [np.full(weight.shape, np.nan, dtype)], grad, x, extra=rule)
    return on_cpu[0], on_gpu[0], x, grad


@SMALL
@given(config=conv_configs(max_size=4), dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**31))
def test_direct_weight_gradient(config, dtype, seed):
    _, w_shape, _ = config
    assume(np.prod(w_shape) <= 32)  # the simulator runs a block of Python threads per weight
    on_cpu, on_gpu, *_ = _weight_gradients(config, seed, dtype)
    np.testing.assert_allclose(on_gpu, on_cpu, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


WEIGHT_GRADIENT_CASES = {  # x shape, weight shape, stride, padding, dilation, groups
    "plain": ((2, 1, 5, 5), (2, 1, 2, 2), (1, 1), (0, 0), (1, 1), 1),
    "strided, padded, dilated, grouped": ((1, 2, 6, 5), (2, 1, 2, 2), (2, 1), (1, 0), (1, 2), 2),
    "taps in the padding only": ((2, 2, 3, 4), (1, 2, 3, 1), (1, 1), (2, 1), (2, 1), 1),
    "a full block of threads": ((4, 1, 17, 17), (1, 1, 1, 2), (1, 1), (0, 0), (1, 1), 1),  # 1088 positions
}


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", sorted(WEIGHT_GRADIENT_CASES))
def test_direct_weight_gradient_matches_torch(case, dtype):
    import torch

    x_shape, w_shape, stride, padding, dilation, groups = WEIGHT_GRADIENT_CASES[case]
    config = (x_shape, w_shape, dict(stride=stride, padding=padding, dilation=dilation, groups=groups))
    on_cpu, on_gpu, x, grad = _weight_gradients(config, 0, dtype)
    expected = torch.nn.grad.conv2d_weight(torch.from_numpy(x), w_shape, torch.from_numpy(grad), stride, padding, dilation, groups)
    np.testing.assert_allclose(on_gpu, expected.numpy(), rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype], err_msg=case)
    np.testing.assert_allclose(on_gpu, on_cpu, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype], err_msg=case)


def test_direct_weight_gradient_of_an_empty_batch_is_zero():
    config = ((0, 2, 4, 4), (3, 2, 2, 2), dict(stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1))
    on_cpu, on_gpu, *_ = _weight_gradients(config, 0, np.float32)
    np.testing.assert_array_equal(on_gpu, np.zeros((3, 2, 2, 2)))
    np.testing.assert_array_equal(on_cpu, on_gpu)


def _pool_case(config, seed, ties=False):
    from minidl.ops.window import pool_output_size

    x_shape, kernel, stride, padding, dilation, ceil_mode = config
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, x_shape).astype(float) if ties else rng.standard_normal(x_shape)
    out_size = tuple(pool_output_size(n, k, s, p, d, ceil_mode) for n, k, s, p, d in zip(x_shape[2:], kernel, stride, padding, dilation))
    return x, x_shape[:2] + out_size, (kernel, stride, padding, dilation)


@SMALL
@given(config=pool_configs(max_size=5), ties=st.booleans(), seed=st.integers(0, 2**31))
def test_max_pool(config, ties, seed):
    x, out_shape, rule = _pool_case(config, seed, ties)
    on_cpu, on_gpu = _both("max_pool_forward", lambda: [np.empty(out_shape), np.empty(out_shape, np.int64)], x, extra=rule)
    np.testing.assert_array_equal(on_gpu[0], on_cpu[0])
    np.testing.assert_array_equal(on_gpu[1], on_cpu[1])
    grad = np.random.default_rng(seed).standard_normal(out_shape)
    on_cpu, on_gpu = _both("max_pool_backward", lambda: [np.zeros(x.shape)], grad, on_cpu[1])
    np.testing.assert_allclose(on_gpu[0], on_cpu[0], rtol=1e-12, atol=1e-12)


@SMALL
@given(config=pool_configs(max_size=5, dilated=False), count_include_pad=st.booleans(),
       divisor_override=st.sampled_from([0, 3]), seed=st.integers(0, 2**31))
def test_avg_pool(config, count_include_pad, divisor_override, seed):
    x, out_shape, rule = _pool_case(config, seed)
    rule = rule[:3] + (count_include_pad, divisor_override)
    on_cpu, on_gpu = _both("avg_pool_forward", lambda: [np.empty(out_shape)], x, extra=rule)
    np.testing.assert_allclose(on_gpu[0], on_cpu[0], rtol=1e-12, atol=1e-12)
    grad = np.random.default_rng(seed).standard_normal(out_shape)
    on_cpu, on_gpu = _both("avg_pool_backward", lambda: [np.zeros(x.shape)], grad, extra=rule)
    np.testing.assert_allclose(on_gpu[0], on_cpu[0], rtol=1e-12, atol=1e-12)
