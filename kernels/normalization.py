"""CPU kernels for batch normalisation, x seen as (A, C, B) with one statistic per channel c taken
over a and b (batch norm's (N, C, H, W) is A = N, B = H W), and for layer normalisation, x seen
as rows (R, D) with one statistic per row.

NumPy needs about ten passes over x (and as many temporaries) for the forward and backward of a
normalisation; these need two to three each: statistics, then one pass that writes the result.
``prange`` gives each thread whole channels (or rows), so no two threads write the same element; arrays
below ``kernels.cpu.PARALLEL_MIN_SIZE`` take a serial build (waking threads costs more).  Sums are
taken in float64 whatever the dtype; ``fastmath={"reassoc", "contract"}`` lets LLVM reorder the
sums into vector lanes and fuse a * b + c (changes results only by rounding).
``minidl.ops.normalization`` uses these on NumPy arrays and its array-module code (the readable
twin, ``Normalize``) on CuPy arrays, for (N, C) inputs (B = 1: a channel's values lie C apart in
memory, and the loops below would read them one cache line each) and for group norm.
"""
import numpy as np
from numba import prange

from kernels.cpu import kernel

_compile = kernel(fastmath={"reassoc", "contract"})


@_compile
def channel_moments(x, mean, var):
    """mean[c] and the biased var[c] of x[:, c, :], two passes per channel (mean, then squares)."""
    count = x.shape[0] * x.shape[2]
    for c in prange(x.shape[1]):
        total = 0.0
        for a in range(x.shape[0]):
            for b in range(x.shape[2]):
                total += x[a, c, b]
        m = total / count
        squares = 0.0
        for a in range(x.shape[0]):
            for b in range(x.shape[2]):
                d = x[a, c, b] - m
                squares += d * d
        mean[c] = m
        var[c] = squares / count


@_compile
def channel_affine(x, scale, shift, out):
    """out[a, c, b] = x[a, c, b] * scale[c] + shift[c]."""
    for c in prange(x.shape[1]):
        s, t = scale[c], shift[c]
        for a in range(x.shape[0]):
            for b in range(x.shape[2]):
                out[a, c, b] = x[a, c, b] * s + t


@_compile
def channel_grad_sums(grad, x, mean, inv_std, sum_grad, sum_grad_x_hat):
    """sum_grad[c] = sum of grad[:, c, :];  sum_grad_x_hat[c] = sum of grad * x_hat over channel c,
    with x_hat = (x - mean[c]) * inv_std[c]."""
    for c in prange(x.shape[1]):
        m = mean[c]
        total = 0.0
        total_x = 0.0
        for a in range(x.shape[0]):
            for b in range(x.shape[2]):
                g = grad[a, c, b]
                total += g
                total_x += g * (x[a, c, b] - m)
        sum_grad[c] = total
        sum_grad_x_hat[c] = total_x * inv_std[c]


@_compile
def channel_input_grad(grad, x, mean, grad_scale, centered_scale, shift, dx):
    """dx[a, c, b] = grad_scale[c] grad[a, c, b] + centered_scale[c] (x[a, c, b] - mean[c]) + shift[c]."""
    for c in prange(x.shape[1]):
        g_s, x_s, m, t = grad_scale[c], centered_scale[c], mean[c], shift[c]
        for a in range(x.shape[0]):
            for b in range(x.shape[2]):
                dx[a, c, b] = g_s * grad[a, c, b] + x_s * (x[a, c, b] - m) + t


# Layer norm: x seen as rows (R, D), one statistic per row, gamma and beta per column.
@_compile
def row_normalize(x, weight, bias, eps, out, mean, inv_std):
    """Per row r: mean[r] and inv_std[r] = 1 / sqrt(var + eps) over the row (two passes), then
    out[r, d] = (x[r, d] - mean[r]) inv_std[r] weight[d] + bias[d]."""
    width = x.shape[1]
    for r in prange(x.shape[0]):
        total = 0.0
        for d in range(width):
            total += x[r, d]
        m = total / width
        squares = 0.0
        for d in range(width):
            deviation = x[r, d] - m
            squares += deviation * deviation
        s = 1.0 / np.sqrt(squares / width + eps)
        mean[r], inv_std[r] = m, s
        for d in range(width):
            out[r, d] = (x[r, d] - m) * s * weight[d] + bias[d]


@_compile
def row_normalize_backward(grad, x, weight, mean, inv_std, dx, partial_weight, partial_bias):
    """With g_hat = grad * weight and x_hat = (x - mean) inv_std, per row:
    dx = inv_std / D (D g_hat - sum(g_hat) - x_hat sum(g_hat x_hat)); and the column sums of
    grad * x_hat and of grad, one partial row per chunk of rows (``partial_*[chunk]``: each
    thread owns its chunks, so no two threads add into the same place; the caller sums them)."""
    rows, width = x.shape
    chunks = partial_weight.shape[0]
    for chunk in prange(chunks):
        for r in range(chunk * rows // chunks, (chunk + 1) * rows // chunks):
            m, s = mean[r], inv_std[r]
            sum_g_hat, sum_g_hat_x_hat = 0.0, 0.0
            for d in range(width):
                x_hat = (x[r, d] - m) * s
                g_hat = grad[r, d] * weight[d]
                sum_g_hat += g_hat
                sum_g_hat_x_hat += g_hat * x_hat
                partial_weight[chunk, d] += grad[r, d] * x_hat
                partial_bias[chunk, d] += grad[r, d]
            for d in range(width):
                x_hat = (x[r, d] - m) * s
                dx[r, d] = s / width * (width * grad[r, d] * weight[d] - sum_g_hat - x_hat * sum_g_hat_x_hat)
