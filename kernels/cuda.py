"""CUDA kernels: the CPU kernels' arithmetic with one GPU thread per output element.

The launchers take the same arguments as the functions in ``kernels.cpu`` and accept CuPy
arrays (or, under Numba's CUDA simulator, NumPy arrays).  Where several threads add into the
same input element (col2im, pooling backward, the direct conv's input gradient), they use
``cuda.atomic.add``.
"""
import math

from numba import cuda

from kernels import window

_window = window.compile_all(cuda.jit(device=True))
tap, window_max, window_sum = _window.tap, _window.window_max, _window.window_sum
average_divisor, conv_at = _window.average_divisor, _window.conv_at

THREADS_PER_BLOCK = 128


def _launch(kernel, count, *args):
    """Run ``kernel`` with at least ``count`` threads (each thread checks its index)."""
    if count:
        kernel[math.ceil(count / THREADS_PER_BLOCK), THREADS_PER_BLOCK](*args)


@cuda.jit(device=True)
def cols_source(cols, index, out_size, kernel, stride, padding, dilation):
    """Flat ``index`` into ``cols`` as (row, column) and the input position (n, c, h, w) that this
    entry copies (h, w may lie outside the input): row (c, i, j), column (n, oh, ow)."""
    out_h, out_w = out_size
    kh, kw = kernel
    row, column = index // cols.shape[1], index % cols.shape[1]
    c, i, j = row // (kh * kw), (row // kw) % kh, row % kw
    n, oh, ow = column // (out_h * out_w), (column // out_w) % out_h, column % out_w
    h = tap(oh, i, stride[0], padding[0], dilation[0])
    w = tap(ow, j, stride[1], padding[1], dilation[1])
    return row, column, n, c, h, w


@cuda.jit
def _im2col(x, cols, out_size, kernel, stride, padding, dilation):
    index = cuda.grid(1)
    if index >= cols.size:
        return
    height, width = x.shape[2], x.shape[3]
    row, column, n, c, h, w = cols_source(cols, index, out_size, kernel, stride, padding, dilation)
    cols[row, column] = x[n, c, h, w] if 0 <= h < height and 0 <= w < width else 0


@cuda.jit
def _col2im(cols, dx, out_size, kernel, stride, padding, dilation):
    index = cuda.grid(1)
    if index >= cols.size:
        return
    height, width = dx.shape[2], dx.shape[3]
    row, column, n, c, h, w = cols_source(cols, index, out_size, kernel, stride, padding, dilation)
    if 0 <= h < height and 0 <= w < width:
        cuda.atomic.add(dx, (n, c, h, w), cols[row, column])


@cuda.jit(device=True)
def output_position(index, out):
    """The 4-D position ``(n, c, h, w)`` of flat ``index`` in the C-ordered array ``out``."""
    _, channels, out_h, out_w = out.shape
    return index // (channels * out_h * out_w), (index // (out_h * out_w)) % channels, (index // out_w) % out_h, index % out_w


@cuda.jit
def _max_pool_forward(x, out, argmax, kernel, stride, padding, dilation):
    index = cuda.grid(1)
    if index >= out.size:
        return
    n, c, oh, ow = output_position(index, out)
    top = tap(oh, 0, stride[0], padding[0], 1)
    left = tap(ow, 0, stride[1], padding[1], 1)
    value, best = window_max(x[n, c], top, left, kernel[0], kernel[1], dilation[0], dilation[1])
    out[n, c, oh, ow] = value
    argmax[n, c, oh, ow] = best


@cuda.jit
def _max_pool_backward(grad_out, argmax, dx):
    index = cuda.grid(1)
    if index >= grad_out.size:
        return
    n, c, oh, ow = output_position(index, grad_out)
    height, width = dx.shape[2], dx.shape[3]
    best = argmax[n, c, oh, ow]
    if best < height * width:
        cuda.atomic.add(dx, (n, c, best // width, best % width), grad_out[n, c, oh, ow])


@cuda.jit
def _avg_pool_forward(x, out, kernel, stride, padding, count_include_pad, divisor_override):
    index = cuda.grid(1)
    if index >= out.size:
        return
    n, c, oh, ow = output_position(index, out)
    height, width = x.shape[2], x.shape[3]
    top = tap(oh, 0, stride[0], padding[0], 1)
    left = tap(ow, 0, stride[1], padding[1], 1)
    divisor = average_divisor(top, left, kernel[0], kernel[1], height, width,
                              padding[0], padding[1], count_include_pad, divisor_override)
    out[n, c, oh, ow] = window_sum(x[n, c], top, left, kernel[0], kernel[1]) / divisor


@cuda.jit
def _avg_pool_backward(grad_out, dx, kernel, stride, padding, count_include_pad, divisor_override):
    index = cuda.grid(1)
    if index >= grad_out.size:
        return
    n, c, oh, ow = output_position(index, grad_out)
    height, width = dx.shape[2], dx.shape[3]
    top = tap(oh, 0, stride[0], padding[0], 1)
    left = tap(ow, 0, stride[1], padding[1], 1)
    divisor = average_divisor(top, left, kernel[0], kernel[1], height, width,
                              padding[0], padding[1], count_include_pad, divisor_override)
    share = grad_out[n, c, oh, ow] / divisor
    for h in range(max(top, 0), min(top + kernel[0], height)):
        for w in range(max(left, 0), min(left + kernel[1], width)):
            cuda.atomic.add(dx, (n, c, h, w), share)


@cuda.jit
def _conv_forward_direct(x, weight, out, stride, padding, dilation, groups):
    index = cuda.grid(1)
    if index >= out.size:
        return
    n, o, oh, ow = output_position(index, out)
    first_channel = (o // (out.shape[1] // groups)) * weight.shape[1]
    top = tap(oh, 0, stride[0], padding[0], 1)
    left = tap(ow, 0, stride[1], padding[1], 1)
    out[n, o, oh, ow] = conv_at(x, weight, n, o, first_channel, top, left, dilation[0], dilation[1])


@cuda.jit
def _conv_backward_input_direct(grad_out, weight, dx, stride, padding, dilation, groups):
    index = cuda.grid(1)
    if index >= grad_out.size:
        return
    n, o, oh, ow = output_position(index, grad_out)
    _, group_in, kh, kw = weight.shape
    height, width = dx.shape[2], dx.shape[3]
    first_channel = (o // (grad_out.shape[1] // groups)) * group_in
    g = grad_out[n, o, oh, ow]
    for c in range(group_in):
        for i in range(kh):
            h = tap(oh, i, stride[0], padding[0], dilation[0])
            for j in range(kw):
                w = tap(ow, j, stride[1], padding[1], dilation[1])
                if 0 <= h < height and 0 <= w < width:
                    cuda.atomic.add(dx, (n, first_channel + c, h, w), g * weight[o, c, i, j])


@cuda.jit
def _conv_backward_weight_direct(grad_out, x, dweight, stride, padding, dilation, groups):
    index = cuda.grid(1)
    if index >= dweight.size:
        return
    o, c, i, j = output_position(index, dweight)
    n_batch, out_channels, out_h, out_w = grad_out.shape
    height, width = x.shape[2], x.shape[3]
    first_channel = (o // (out_channels // groups)) * dweight.shape[1]
    total = 0.0
    for n in range(n_batch):
        for oh in range(out_h):
            h = tap(oh, i, stride[0], padding[0], dilation[0])
            for ow in range(out_w):
                w = tap(ow, j, stride[1], padding[1], dilation[1])
                if 0 <= h < height and 0 <= w < width:
                    total += grad_out[n, o, oh, ow] * x[n, first_channel + c, h, w]
    dweight[o, c, i, j] = total


def im2col(x, cols, out_size, kernel, stride, padding, dilation):
    """See ``kernels.cpu.im2col``; one thread per element of ``cols``."""
    _launch(_im2col, cols.size, x, cols, out_size, kernel, stride, padding, dilation)


def col2im(cols, dx, out_size, kernel, stride, padding, dilation):
    """See ``kernels.cpu.col2im``; one thread per element of ``cols``, atomic adds into ``dx``."""
    _launch(_col2im, cols.size, cols, dx, out_size, kernel, stride, padding, dilation)


def max_pool_forward(x, out, argmax, kernel, stride, padding, dilation):
    """See ``kernels.cpu.max_pool_forward``; one thread per output element."""
    _launch(_max_pool_forward, out.size, x, out, argmax, kernel, stride, padding, dilation)


def max_pool_backward(grad_out, argmax, dx):
    """See ``kernels.cpu.max_pool_backward``; one thread per output element."""
    _launch(_max_pool_backward, grad_out.size, grad_out, argmax, dx)


def avg_pool_forward(x, out, kernel, stride, padding, count_include_pad, divisor_override):
    """See ``kernels.cpu.avg_pool_forward``; one thread per output element."""
    _launch(_avg_pool_forward, out.size, x, out, kernel, stride, padding, count_include_pad, divisor_override)


def avg_pool_backward(grad_out, dx, kernel, stride, padding, count_include_pad, divisor_override):
    """See ``kernels.cpu.avg_pool_backward``; one thread per output element."""
    _launch(_avg_pool_backward, grad_out.size, grad_out, dx, kernel, stride, padding, count_include_pad, divisor_override)


def conv_forward_direct(x, weight, out, stride, padding, dilation, groups):
    """See ``kernels.cpu.conv_forward_direct``; one thread per output element."""
    _launch(_conv_forward_direct, out.size, x, weight, out, stride, padding, dilation, groups)


def conv_backward_input_direct(grad_out, weight, dx, stride, padding, dilation, groups):
    """See ``kernels.cpu.conv_backward_input_direct``; one thread per output element."""
    _launch(_conv_backward_input_direct, grad_out.size, grad_out, weight, dx, stride, padding, dilation, groups)


def conv_backward_weight_direct(grad_out, x, dweight, stride, padding, dilation, groups):
    """See ``kernels.cpu.conv_backward_weight_direct``; one thread per weight element."""
    _launch(_conv_backward_weight_direct, dweight.size, grad_out, x, dweight, stride, padding, dilation, groups)
