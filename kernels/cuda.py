"""CUDA kernels: the CPU kernels' arithmetic, mostly with one GPU thread per output element.

The launchers take the same arguments as the functions in ``kernels.cpu`` and accept CuPy
arrays (or, under Numba's CUDA simulator, NumPy arrays).  Where several threads add into the
same input element (col2im, pooling backward, the direct conv's input gradient), they use
``cuda.atomic.add``.  The direct conv's weight gradient is a sum over the whole batch for each
of few weights, so it gives each weight a block of threads and adds their shares in shared memory.

Every launch goes through ``_launch``: it runs on the stream CuPy is working on, so the kernel
starts after CuPy's earlier work on these arrays and before its later work, and the host never
waits (see ``_launch``).  The kernels are cached on disk (``cache=True``) like the CPU ones; the
device helpers are compiled into each kernel and cached with it.
"""
import math

from numba import cuda

from kernels import window

_window = window.compile_all(cuda.jit(device=True))
tap, window_max, window_sum = _window.tap, _window.window_max, _window.window_sum
average_divisor, conv_at = _window.average_divisor, _window.conv_at

THREADS_PER_BLOCK = 128  # a power of two: the weight gradient's reduction halves it
TERMS_PER_THREAD = 8  # the weight gradient: terms each thread adds up before the shared-memory tree


def _numba_array(argument):
    """A CuPy array (anything with a CUDA Array Interface) as a Numba device array over the same
    memory, made with ``sync=False``; any other argument unchanged.  Numba's default conversion
    waits on the host until the stream named in the interface is idle, at every launch."""
    if hasattr(argument, "__cuda_array_interface__"):
        return cuda.as_cuda_array(argument, sync=False)
    return argument


def _stream(arguments):
    """The stream named by the first CuPy array's CUDA Array Interface (version 3): CuPy's current
    stream, where its work on these arrays is queued.  0, the default stream, where there is none
    (NumPy arrays under the simulator, or CuPy told to export version 2, which names no stream)."""
    for argument in arguments:
        if hasattr(argument, "__cuda_array_interface__"):
            pointer = argument.__cuda_array_interface__.get("stream")
            return 0 if pointer is None else cuda.external_stream(pointer)
    return 0


def _launch(kernel, blocks, threads, *args):
    """Run ``kernel`` on ``blocks`` blocks of ``threads`` threads, queued on CuPy's stream after
    the work that produced its arrays: ordered on the device, no host wait."""
    if blocks:
        kernel[blocks, threads, _stream(args)](*[_numba_array(a) for a in args])


def _launch_per_element(kernel, count, *args):
    """Run ``kernel`` with at least ``count`` threads (each thread checks its index)."""
    _launch(kernel, math.ceil(count / THREADS_PER_BLOCK), THREADS_PER_BLOCK, *args)


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


@cuda.jit(cache=True)
def _im2col(x, cols, out_size, kernel, stride, padding, dilation):
    index = cuda.grid(1)
    if index >= cols.size:
        return
    height, width = x.shape[2], x.shape[3]
    row, column, n, c, h, w = cols_source(cols, index, out_size, kernel, stride, padding, dilation)
    cols[row, column] = x[n, c, h, w] if 0 <= h < height and 0 <= w < width else 0


@cuda.jit(cache=True)
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


@cuda.jit(cache=True)
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


@cuda.jit(cache=True)
def _max_pool_backward(grad_out, argmax, dx):
    index = cuda.grid(1)
    if index >= grad_out.size:
        return
    n, c, oh, ow = output_position(index, grad_out)
    height, width = dx.shape[2], dx.shape[3]
    best = argmax[n, c, oh, ow]
    if best < height * width:
        cuda.atomic.add(dx, (n, c, best // width, best % width), grad_out[n, c, oh, ow])


@cuda.jit(cache=True)
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


@cuda.jit(cache=True)
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


@cuda.jit(cache=True)
def _conv_forward_direct(x, weight, out, stride, padding, dilation, groups):
    index = cuda.grid(1)
    if index >= out.size:
        return
    n, o, oh, ow = output_position(index, out)
    first_channel = (o // (out.shape[1] // groups)) * weight.shape[1]
    top = tap(oh, 0, stride[0], padding[0], 1)
    left = tap(ow, 0, stride[1], padding[1], 1)
    out[n, o, oh, ow] = conv_at(x, weight, n, o, first_channel, top, left, dilation[0], dilation[1])


@cuda.jit(cache=True)
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


@cuda.jit(cache=True)
def _conv_backward_weight_direct(grad_out, x, dweight, stride, padding, dilation, groups):
    """Block b computes weight b (flat): each thread sums the terms of every blockDim-th position
    (n, oh, ow) and puts its total in its slot of ``partial``; a tree reduction then adds the
    slots in log2(threads) halving steps, each followed by a barrier.  All sums are in the
    arrays' dtype."""
    o, c, i, j = output_position(cuda.blockIdx.x, dweight)
    n_batch, out_channels, out_h, out_w = grad_out.shape
    height, width = x.shape[2], x.shape[3]
    channel = (o // (out_channels // groups)) * dweight.shape[1] + c
    thread, threads = cuda.threadIdx.x, cuda.blockDim.x
    total = dweight.dtype.type(0)  # not 0.0: that literal would sum float32 arrays in float64
    for position in range(thread, n_batch * out_h * out_w, threads):
        n, oh, ow = position // (out_h * out_w), (position // out_w) % out_h, position % out_w
        h = tap(oh, i, stride[0], padding[0], dilation[0])
        w = tap(ow, j, stride[1], padding[1], dilation[1])
        if 0 <= h < height and 0 <= w < width:
            total += grad_out[n, o, oh, ow] * x[n, channel, h, w]
    partial = cuda.shared.array(THREADS_PER_BLOCK, dweight.dtype)
    partial[thread] = total
    cuda.syncthreads()
    step = threads // 2
    while step > 0:
        if thread < step:
            partial[thread] += partial[thread + step]
        cuda.syncthreads()
        step //= 2
    if thread == 0:
        dweight[o, c, i, j] = partial[0]


def reduction_threads(count):
    """Threads per block to sum ``count`` terms: enough for each to add about ``TERMS_PER_THREAD``
    of them before the tree (each tree step costs a barrier), as a power of two (the tree halves
    it), at most ``THREADS_PER_BLOCK``."""
    shares = -(-count // TERMS_PER_THREAD)  # ceil
    return min(THREADS_PER_BLOCK, 1 << max(shares - 1, 0).bit_length())


def im2col(x, cols, out_size, kernel, stride, padding, dilation):
    """See ``kernels.cpu.im2col``; one thread per element of ``cols``."""
    _launch_per_element(_im2col, cols.size, x, cols, out_size, kernel, stride, padding, dilation)


def col2im(cols, dx, out_size, kernel, stride, padding, dilation):
    """See ``kernels.cpu.col2im``; one thread per element of ``cols``, atomic adds into ``dx``."""
    _launch_per_element(_col2im, cols.size, cols, dx, out_size, kernel, stride, padding, dilation)


def max_pool_forward(x, out, argmax, kernel, stride, padding, dilation):
    """See ``kernels.cpu.max_pool_forward``; one thread per output element."""
    _launch_per_element(_max_pool_forward, out.size, x, out, argmax, kernel, stride, padding, dilation)


def max_pool_backward(grad_out, argmax, dx):
    """See ``kernels.cpu.max_pool_backward``; one thread per output element."""
    _launch_per_element(_max_pool_backward, grad_out.size, grad_out, argmax, dx)


def avg_pool_forward(x, out, kernel, stride, padding, count_include_pad, divisor_override):
    """See ``kernels.cpu.avg_pool_forward``; one thread per output element."""
    _launch_per_element(_avg_pool_forward, out.size, x, out, kernel, stride, padding, count_include_pad, divisor_override)


def avg_pool_backward(grad_out, dx, kernel, stride, padding, count_include_pad, divisor_override):
    """See ``kernels.cpu.avg_pool_backward``; one thread per output element."""
    _launch_per_element(_avg_pool_backward, grad_out.size, grad_out, dx, kernel, stride, padding, count_include_pad, divisor_override)


def conv_forward_direct(x, weight, out, stride, padding, dilation, groups):
    """See ``kernels.cpu.conv_forward_direct``; one thread per output element."""
    _launch_per_element(_conv_forward_direct, out.size, x, weight, out, stride, padding, dilation, groups)


def conv_backward_input_direct(grad_out, weight, dx, stride, padding, dilation, groups):
    """See ``kernels.cpu.conv_backward_input_direct``; one thread per output element."""
    _launch_per_element(_conv_backward_input_direct, grad_out.size, grad_out, weight, dx, stride, padding, dilation, groups)


def conv_backward_weight_direct(grad_out, x, dweight, stride, padding, dilation, groups):
    """See ``kernels.cpu.conv_backward_weight_direct``; a parallel reduction, one block per weight.

    Each weight sums N * OH * OW products (43264 for MNIST's first layer, batch 64) and there are
    few weights (288 there): one thread per weight would leave most of the GPU idle and run long
    serial sums.  A block per weight, with its threads striding over the positions, reads memory
    coalesced (neighbouring threads, neighbouring ``ow``) and needs no atomics or second pass; the
    sum's order is fixed, so the result is the same from run to run."""
    positions = grad_out.shape[0] * grad_out.shape[2] * grad_out.shape[3]
    _launch(_conv_backward_weight_direct, dweight.size, reduction_threads(positions),
            grad_out, x, dweight, stride, padding, dilation, groups)
