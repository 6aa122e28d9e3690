"""kernels/normalization.py, both builds (parallel and serial), against the formulas in NumPy.
Batch norm's results against torch are in test_normalization.py and op_cases.py."""
import numpy as np
import pytest

from kernels import normalization as kernels

BUILDS = ["parallel", "serial"]
DTYPES = [(np.float64, 1e-12), (np.float32, 1e-5)]


@pytest.fixture(params=DTYPES, ids=["float64", "float32"])
def arrays(request):
    dtype, tol = request.param
    rng = np.random.default_rng(0)
    x = (3 * rng.standard_normal((4, 5, 6)) + 2).astype(dtype)  # fewer channels than a block
    grad = rng.standard_normal(x.shape).astype(dtype)
    per_channel = [rng.uniform(0.5, 1.5, 5).astype(dtype) for _ in range(3)]
    return x, grad, per_channel, tol


@pytest.mark.parametrize("build", BUILDS)
def test_channel_moments(build, arrays):
    x, _, _, tol = arrays
    mean, var = np.empty(5, x.dtype), np.empty(5, x.dtype)
    getattr(kernels.channel_moments, build)(x, mean, var)
    np.testing.assert_allclose(mean, x.astype(np.float64).mean(axis=(0, 2)), rtol=tol)
    np.testing.assert_allclose(var, x.astype(np.float64).var(axis=(0, 2)), rtol=tol)


@pytest.mark.parametrize("build", BUILDS)
def test_channel_affine(build, arrays):
    x, _, (scale, shift, _), tol = arrays
    out = np.empty_like(x)
    getattr(kernels.channel_affine, build)(x, scale, shift, out)
    np.testing.assert_allclose(out, x * scale[:, None] + shift[:, None], rtol=tol, atol=tol)


@pytest.mark.parametrize("build", BUILDS)
def test_channel_grad_sums(build, arrays):
    x, grad, (mean, inv_std, _), tol = arrays
    sum_grad, sum_grad_x_hat = np.empty(5, x.dtype), np.empty(5, x.dtype)
    getattr(kernels.channel_grad_sums, build)(grad, x, mean, inv_std, sum_grad, sum_grad_x_hat)
    x_hat = (x - mean[:, None]) * inv_std[:, None]
    np.testing.assert_allclose(sum_grad, grad.sum(axis=(0, 2)), rtol=tol, atol=tol)
    np.testing.assert_allclose(sum_grad_x_hat, (grad * x_hat).sum(axis=(0, 2)), rtol=tol, atol=10 * tol)


@pytest.mark.parametrize("build", BUILDS)
def test_channel_input_grad(build, arrays):
    x, grad, (grad_scale, centered_scale, shift), tol = arrays
    mean = x.mean(axis=(0, 2))
    dx = np.empty_like(x)
    getattr(kernels.channel_input_grad, build)(grad, x, mean, grad_scale, centered_scale, shift, dx)
    expected = grad_scale[:, None] * grad + centered_scale[:, None] * (x - mean[:, None]) + shift[:, None]
    np.testing.assert_allclose(dx, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("build", BUILDS)
def test_row_normalize_and_its_backward(build, arrays):
    x3, grad3, _, tol = arrays
    x, grad = x3.reshape(-1, 6), grad3.reshape(-1, 6)  # 20 rows of 6
    rng = np.random.default_rng(1)
    weight, bias = (rng.uniform(0.5, 1.5, 6).astype(x.dtype) for _ in range(2))
    out, mean, inv_std = np.empty_like(x), np.empty(20), np.empty(20)
    getattr(kernels.row_normalize, build)(x, weight, bias, 1e-5, out, mean, inv_std)
    x64 = x.astype(np.float64)
    x_hat = (x64 - x64.mean(axis=1, keepdims=True)) / np.sqrt(x64.var(axis=1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(out, x_hat * weight + bias, rtol=tol, atol=tol)
    dx, partial_weight, partial_bias = np.empty_like(x), np.zeros((3, 6)), np.zeros((3, 6))
    getattr(kernels.row_normalize_backward, build)(grad, x, weight, mean, inv_std, dx, partial_weight, partial_bias)
    g_hat = grad * weight
    expected = (6 * g_hat - g_hat.sum(axis=1, keepdims=True) - x_hat * (g_hat * x_hat).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(dx, expected / 6 / np.sqrt(x64.var(axis=1, keepdims=True) + 1e-5), rtol=10 * tol, atol=10 * tol)
    np.testing.assert_allclose(partial_weight.sum(axis=0), (grad * x_hat).sum(axis=0), rtol=10 * tol, atol=10 * tol)
    np.testing.assert_allclose(partial_bias.sum(axis=0), grad.sum(axis=0), rtol=10 * tol, atol=10 * tol)
