"""Convolution kernels for few taps (C kh kw <= ``MAX_TAPS``: a network's first layer), CPU.

im2col + one matrix product suits layers with many taps, whose product has a long inner
dimension C kh kw.  A first layer has few (9 for one channel and a 3x3 kernel): the product then
computes little per value it moves, and the batched product's output, laid out (O, N OH OW), has
to be copied again into (N, O, OH, OW).  These kernels take one sample at a time: its columns
(``kernels.cpu.im2col``, any stride, padding and dilation), then each output plane written in
place, the taps' weights held in registers:

    out[n, o, p] = b[o] + sum_t W[o, t] cols[t, p]              (t = (c, i, j), p = (oh, ow))
    dW[o, t] = sum_{n, p} g[n, o, p] cols[t, p],    db[o] = sum_{n, p} g[n, o, p]

The compiler turns the loop over p into vector instructions only when it can unroll the sum
over t, so each kernel is built for one tap count (Numba caches each build on disk).  Serial
kernels that release the GIL: ``minidl.ops.conv`` runs them on chunks of the batch at once.
"""
import functools

import numpy as np
from numba import njit, uint64
from numba.np.unsafe.ndarray import to_fixed_tuple

from kernels.cpu import im2col

MAX_TAPS = 9  # up to here the tap loop unrolls (at 25 and 27 taps it did not: 10-40x slower, measured)
CHANNEL_BLOCK = 4  # output channels summed in one pass over a column row (``block_dots``)

_u = uint64  # unsigned indices: no negative-index test, so the loops over p vectorize


@functools.lru_cache(maxsize=None)
def forward_kernel(taps):
    """forward(x, weight, bias, out, kernel, stride, padding, dilation): out (N, O, OH, OW) = the
    convolution of x (N, C, H, W) by weight (O, C, kh, kw), C kh kw = ``taps``, plus bias (O,)."""

    @njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
    def forward(x, weight, bias, out, kernel, stride, padding, dilation):
        out_size = (out.shape[2], out.shape[3])
        positions = out_size[0] * out_size[1]
        cols = np.empty((taps, positions), dtype=out.dtype)
        for n in range(x.shape[0]):
            im2col(x[n : n + 1], cols, out_size, kernel, stride, padding, dilation)
            for o in range(weight.shape[0]):
                w = to_fixed_tuple(weight[o].reshape(-1), taps)  # loaded once per plane
                dst, b = out[n, o].reshape(-1), bias[o]
                for p in range(_u(positions)):
                    total = b
                    for t in range(taps):
                        total += w[t] * cols[t, p]
                    dst[p] = total

    return forward


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy", inline="always")
def block_dots(rows, first_row, planes, first):
    """The dot products of rows[first_row] and rows[first_row + 1] with planes[first], ...,
    planes[first + 3] (fastmath: the sums run in vector lanes, added up at the end)."""
    zero = rows.dtype.type(0)
    s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = zero
    r0, r1 = rows[first_row], rows[first_row + 1]
    a, b, c, d = planes[first], planes[first + 1], planes[first + 2], planes[first + 3]
    for p in range(_u(r0.size)):
        u0, u1 = r0[p], r1[p]
        s00 += u0 * a[p]
        s01 += u0 * b[p]
        s02 += u0 * c[p]
        s03 += u0 * d[p]
        s10 += u1 * a[p]
        s11 += u1 * b[p]
        s12 += u1 * c[p]
        s13 += u1 * d[p]
    return (s00, s01, s02, s03), (s10, s11, s12, s13)


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy", inline="always")
def dot(row, plane):
    """sum_p row[p] plane[p], for the planes and rows ``block_dots`` leaves over."""
    total = row.dtype.type(0)
    for p in range(_u(row.size)):
        total += row[p] * plane[p]
    return total


@functools.lru_cache(maxsize=None)
def weight_gradient_kernel(taps):
    """weight_gradient(x, grad, dweight, dbias, kernel, stride, padding, dilation): dweight
    (O, C kh kw) += the weight gradient of the convolution of x (N, C, H, W) whose output has the
    gradient grad (N, O, OH, OW), and dbias (O,) += grad summed over n, oh, ow.  The bias's
    gradient is a weight's whose input is 1: a row of ones below the columns."""

    @njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
    def weight_gradient(x, grad, dweight, dbias, kernel, stride, padding, dilation):
        out_size = (grad.shape[2], grad.shape[3])
        channels_out = grad.shape[1]
        blocked = channels_out - channels_out % CHANNEL_BLOCK
        cols = np.empty((taps + 1, out_size[0] * out_size[1]), dtype=grad.dtype)
        cols[taps] = 1
        sums = np.zeros((channels_out, taps + 1), dtype=grad.dtype)
        for n in range(x.shape[0]):
            im2col(x[n : n + 1], cols, out_size, kernel, stride, padding, dilation)
            planes = grad[n].reshape(channels_out, -1)
            for o in range(0, blocked, CHANNEL_BLOCK):  # the block's planes stay in cache over t
                for t in range(0, taps, 2):  # rows t and t + 1; with an odd tap count the last pair ends on the ones
                    for k, block in enumerate(block_dots(cols, t, planes, o)):
                        for m in range(CHANNEL_BLOCK):
                            sums[o + m, t + k] += block[m]
                if taps % 2 == 0:
                    for m in range(CHANNEL_BLOCK):
                        sums[o + m, taps] += dot(cols[taps], planes[o + m])
            for o in range(blocked, channels_out):
                for t in range(taps + 1):
                    sums[o, t] += dot(cols[t], planes[o])
        dweight += sums[:, :taps]
        dbias += sums[:, taps]

    return weight_gradient
