"""CPU kernels: Numba-compiled loops over NumPy arrays.

Each kernel fills arrays the caller allocated; ``prange`` spreads the outermost loop over cores,
and every iteration of it writes its own part of the output, so no two threads write the same
element.  Shapes: images ``(N, C, H, W)``, ``cols`` ``(C * kh * kw, N * OH * OW)``.

im2col and col2im are serial and release the GIL (``@serial_kernel``): the convolution calls them
on chunks of the batch from several threads at once (``minidl.parallel``).

``@kernel`` compiles each function twice, with ``parallel=True`` and serially (where ``prange``
is a plain ``range``): waking the worker threads costs more than it saves on small arrays, so
arrays below ``PARALLEL_MIN_SIZE`` elements take the serial version.
"""
import types

from numba import config, njit, prange, uint64

from kernels import window

PARALLEL_MIN_SIZE = 1 << 16

# Numba's "workqueue" threads sleep between kernels; OpenMP's spin for a while, and on a 2-core
# machine they then fight the BLAS threads of the matrix products that follow (2-3x slower
# convolutions, measured).  This takes effect unless a parallel Numba function already ran.
if config.THREADING_LAYER == "default":
    config.THREADING_LAYER = "workqueue"

_jit = njit(cache=True, inline="always", error_model="numpy")
_window = window.compile_all(_jit)
tap, inside, window_max, window_sum = _window.tap, _window.inside, _window.window_max, _window.window_sum
average_divisor, conv_at = _window.average_divisor, _window.conv_at


def _renamed(fn, suffix):
    """A copy of ``fn`` under another name, so Numba's on-disk caches of the two builds differ."""
    copy = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + suffix, fn.__defaults__, fn.__closure__)
    copy.__qualname__ = fn.__qualname__ + suffix
    return copy


def kernel(fn=None, *, fastmath=False):
    """Compile ``fn`` as a parallel and a serial kernel; call the serial one for small arrays.
    ``fastmath``: Numba's flags (e.g. ``{"reassoc", "contract"}`` to vectorize sums)."""
    if fn is None:
        return lambda fn: kernel(fn, fastmath=fastmath)
    options = dict(cache=True, error_model="numpy", fastmath=fastmath)
    parallel = njit(parallel=True, **options)(fn)
    serial = njit(**options)(_renamed(fn, "_serial"))

    def run(*args):
        largest = max(a.size for a in args if hasattr(a, "size"))
        return (parallel if largest >= PARALLEL_MIN_SIZE else serial)(*args)

    run.__name__, run.__qualname__, run.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
    run.parallel, run.serial = parallel, serial
    return run


serial_kernel = njit(cache=True, nogil=True, error_model="numpy")

# Numba checks every signed array index for a negative value (Python's a[-1]); an unsigned index
# skips that test, which lets LLVM turn the row loops below into vector instructions (2x faster
# im2col, measured).  Each loop covers only the outputs whose tap is inside the input (``inside``),
# so no element needs a bounds test either.
_u = uint64


@_jit
def copy_row(pixels, first, step, row, start, count):
    """row[start + q] = pixels[first + q step] for q < count: taps of one input row into cols."""
    for q in range(_u(count)):
        row[_u(start) + q] = pixels[_u(first) + q * _u(step)]


@_jit
def add_row(row, start, count, pixels, first, step):
    """pixels[first + q step] += row[start + q] for q < count: the adjoint of ``copy_row``."""
    for q in range(_u(count)):
        pixels[_u(first) + q * _u(step)] += row[_u(start) + q]


@serial_kernel
def im2col(x, cols, out_size, kernel, stride, padding, dilation):
    """cols[(c, i, j), (n, oh, ow)] = x[n, c, tap(oh, i), tap(ow, j)], zero outside the input.

    Row (c, i, j) is ``(c * kh + i) * kw + j``; column (n, oh, ow) is ``(n * OH + oh) * OW + ow``.
    Then a convolution is one matrix product: weight (O, C*kh*kw) @ cols.
    """
    n_batch, channels, height, width = x.shape
    out_h, out_w = out_size
    kh, kw = kernel
    pixels = x.reshape(-1)  # one flat view read at offsets: a slice per row costs 2x (measured)
    zero = cols.dtype.type(0)
    for n in range(n_batch):
        for c in range(channels):
            plane = (n * channels + c) * height * width
            for i in range(kh):
                oh_first, oh_stop = inside(out_h, i, stride[0], padding[0], dilation[0], height)
                for j in range(kw):
                    ow_first, ow_stop = inside(out_w, j, stride[1], padding[1], dilation[1], width)
                    w_first = tap(ow_first, j, stride[1], padding[1], dilation[1])
                    row = cols[(c * kh + i) * kw + j]
                    start = n * out_h * out_w
                    if oh_stop - oh_first < out_h or ow_stop - ow_first < out_w:  # taps in the padding
                        row[start : start + out_h * out_w] = zero
                    for oh in range(oh_first, oh_stop):
                        first = plane + tap(oh, i, stride[0], padding[0], dilation[0]) * width + w_first
                        copy_row(pixels, first, stride[1], row, start + oh * out_w + ow_first, ow_stop - ow_first)


@serial_kernel
def rows_into_samples(product, bias, out):
    """out[n, o, p] = product[o, n P + p] + bias[o]: a convolution's product, one row per output
    channel o and one column per sample n and position p, laid out as PyTorch's (N, O, P), with
    the bias added in the same pass."""
    n_batch, channels, positions = out.shape
    for o in range(channels):
        row, shift = product[o], bias[o]
        for n in range(n_batch):
            source, plane = row[n * positions : (n + 1) * positions], out[n, o]
            for p in range(positions):
                plane[p] = source[p] + shift


@serial_kernel
def col2im(cols, dx, out_size, kernel, stride, padding, dilation):
    """The adjoint of im2col: dx[n, c, tap(oh, i), tap(ow, j)] += cols[(c, i, j), (n, oh, ow)].

    ``dx`` must start at zero.  Pixels read by several windows collect several contributions.
    """
    n_batch, channels, height, width = dx.shape
    out_h, out_w = out_size
    kh, kw = kernel
    pixels = dx.reshape(-1)
    for n in range(n_batch):
        for c in range(channels):
            plane = (n * channels + c) * height * width
            for i in range(kh):
                oh_first, oh_stop = inside(out_h, i, stride[0], padding[0], dilation[0], height)
                for j in range(kw):
                    ow_first, ow_stop = inside(out_w, j, stride[1], padding[1], dilation[1], width)
                    w_first = tap(ow_first, j, stride[1], padding[1], dilation[1])
                    row = cols[(c * kh + i) * kw + j]
                    for oh in range(oh_first, oh_stop):
                        first = plane + tap(oh, i, stride[0], padding[0], dilation[0]) * width + w_first
                        add_row(row, (n * out_h + oh) * out_w + ow_first, ow_stop - ow_first, pixels, first, stride[1])


@_jit
def max_pool_plane(plane, out, argmax, kernel, stride, padding, dilation):
    """Max pooling of one (n, c) plane: out[oh, ow] = the max of window (oh, ow), argmax[oh, ow]
    = its flat index h * W + w in the plane."""
    out_h, out_w = out.shape
    for oh in range(out_h):
        top = tap(oh, 0, stride[0], padding[0], 1)
        for ow in range(out_w):
            left = tap(ow, 0, stride[1], padding[1], 1)
            out[oh, ow], argmax[oh, ow] = window_max(plane, top, left, kernel[0], kernel[1], dilation[0], dilation[1])


@_jit
def is_2x2(kernel, stride, padding):
    """The 2x2 window at stride 2 without padding that most CNNs pool with.  Where every window
    lies wholly inside the plane (``windows_inside``), max pooling runs it through
    ``max_pool_plane_2x2`` and average pooling through ``avg_pool_plane_2x2``; with a partial
    window at the edge (ceil_mode), average pooling runs a copy of its plane loop with the
    geometry a constant, which the compiler unrolls (about 2x faster than the general one, measured)."""
    return kernel[0] == 2 and kernel[1] == 2 and stride[0] == 2 and stride[1] == 2 and padding[0] == 0 and padding[1] == 0


@_jit
def windows_inside(out_h, out_w, height, width):
    """Whether the 2x2 windows at stride 2 of an (out_h, out_w) output all lie inside the plane."""
    return 2 * out_h <= height and 2 * out_w <= width


@_jit
def larger_tap(pixels, candidate, best, index):
    """(value, candidate) if tap ``candidate`` beats ``best`` by PyTorch's rule (larger, or NaN),
    else (best, index); with selects, which vectorize."""
    value = pixels[candidate]
    take = (value > best) | (value != value)
    return (value if take else best), (candidate if take else index)


@_jit
def max_pool_plane_2x2(pixels, out, argmax, width, out_h, out_w):
    """``max_pool_plane`` for 2x2 windows at stride 2 wholly inside a plane of ``width`` columns
    (flat arrays): the four taps in row-major order, so the first maximum wins and a NaN wins over
    what came before, as in ``window_max``, without its bounds and NaN passes (2x faster, measured)."""
    for oh in range(_u(out_h)):
        top = _u(2) * oh * _u(width)
        below = top + _u(width)
        for ow in range(_u(out_w)):
            left = top + _u(2) * ow
            best, index = pixels[left], left
            best, index = larger_tap(pixels, left + _u(1), best, index)
            best, index = larger_tap(pixels, below + _u(2) * ow, best, index)
            best, index = larger_tap(pixels, below + _u(2) * ow + _u(1), best, index)
            out[oh * _u(out_w) + ow], argmax[oh * _u(out_w) + ow] = best, index


@kernel
def max_pool_forward(x, out, argmax, kernel, stride, padding, dilation):
    """out = the max of each window; argmax = its flat index h * W + w in the input plane."""
    n_batch, channels, height, width = x.shape
    out_h, out_w = out.shape[2:]
    two_by_two = (is_2x2(kernel, stride, padding) and dilation[0] == 1 and dilation[1] == 1
                  and windows_inside(out_h, out_w, height, width))  # fmt: skip
    for item in prange(n_batch * channels):
        n, c = item // channels, item % channels
        if two_by_two:
            max_pool_plane_2x2(x[n, c].reshape(-1), out[n, c].reshape(-1), argmax[n, c].reshape(-1), width, out_h, out_w)
        else:
            max_pool_plane(x[n, c], out[n, c], argmax[n, c], kernel, stride, padding, dilation)


@kernel
def max_pool_backward(grad_out, argmax, dx):
    """dx[n, c, argmax] += grad_out: each window's gradient goes to its maximum. ``dx`` starts at 0.
    A window that lies wholly in the padding has no maximum inside the input and passes nothing."""
    n_batch, channels = dx.shape[:2]
    for plane in prange(n_batch * channels):
        n, c = plane // channels, plane % channels
        pixels, grads, indices = dx[n, c].reshape(-1), grad_out[n, c].reshape(-1), argmax[n, c].reshape(-1)
        for k in range(_u(grads.size)):  # flat indices: no division per element (3x faster, measured)
            if indices[k] < pixels.size:
                pixels[indices[k]] += grads[k]


@_jit
def avg_window(oh, ow, height, width, kernel, stride, padding, count_include_pad, divisor_override):
    """Pooling window (oh, ow) of an average pool: its top row, its left column, its divisor."""
    top = tap(oh, 0, stride[0], padding[0], 1)
    left = tap(ow, 0, stride[1], padding[1], 1)
    divisor = average_divisor(top, left, kernel[0], kernel[1], height, width, padding[0], padding[1], count_include_pad, divisor_override)
    return top, left, divisor


@_jit
def avg_pool_plane(plane, out, kernel, stride, padding, count_include_pad, divisor_override):
    """Average pooling of one (n, c) plane: out[oh, ow] = the sum of window (oh, ow) /
    average_divisor (PyTorch's rules for padding and ceil_mode)."""
    height, width = plane.shape
    for oh in range(out.shape[0]):
        for ow in range(out.shape[1]):
            top, left, divisor = avg_window(oh, ow, height, width, kernel, stride, padding, count_include_pad, divisor_override)
            out[oh, ow] = window_sum(plane, top, left, kernel[0], kernel[1]) / divisor


@_jit
def avg_pool_plane_backward(grad_out, dx, kernel, stride, padding, count_include_pad, divisor_override):
    """The adjoint of ``avg_pool_plane``: dx[window] += grad_out / divisor for every in-bounds
    element of every window of one plane."""
    height, width = dx.shape
    for oh in range(grad_out.shape[0]):
        for ow in range(grad_out.shape[1]):
            top, left, divisor = avg_window(oh, ow, height, width, kernel, stride, padding, count_include_pad, divisor_override)
            share = grad_out[oh, ow] / divisor
            for h in range(max(top, 0), min(top + kernel[0], height)):
                for w in range(max(left, 0), min(left + kernel[1], width)):
                    dx[h, w] += share


@_jit
def avg_pool_plane_2x2(pixels, out, width, out_h, out_w, divisor):
    """``avg_pool_plane`` for 2x2 windows at stride 2 wholly inside a plane of ``width`` columns
    (flat arrays): the four taps summed in ``window_sum``'s order and precision (float64), then
    divided by ``divisor``, without the per-window bounds and divisor rules (~2x faster, measured)."""
    for oh in range(_u(out_h)):
        top = _u(2) * oh * _u(width)
        below = top + _u(width)
        for ow in range(_u(out_w)):
            left = _u(2) * ow
            total = 0.0
            total += pixels[top + left]
            total += pixels[top + left + _u(1)]
            total += pixels[below + left]
            total += pixels[below + left + _u(1)]
            out[oh * _u(out_w) + ow] = total / divisor


@_jit
def avg_pool_plane_2x2_backward(grad_out, dx, width, out_h, out_w, divisor):
    """The adjoint of ``avg_pool_plane_2x2``: each of a window's four pixels gets grad / divisor
    (added, as in ``avg_pool_plane_backward``; the windows do not overlap)."""
    for oh in range(_u(out_h)):
        top = _u(2) * oh * _u(width)
        below = top + _u(width)
        for ow in range(_u(out_w)):
            left = _u(2) * ow
            share = grad_out[oh * _u(out_w) + ow] / divisor
            dx[top + left] += share
            dx[top + left + _u(1)] += share
            dx[below + left] += share
            dx[below + left + _u(1)] += share


@_jit
def divisor_2x2(divisor_override):
    """What a 2x2 window wholly inside the input is divided by: its 4 pixels, or the override."""
    return divisor_override if divisor_override > 0 else 4


@kernel
def avg_pool_forward(x, out, kernel, stride, padding, count_include_pad, divisor_override):
    """out = sum of each window / average_divisor (PyTorch's rules for padding and ceil_mode)."""
    n_batch, channels, height, width = x.shape
    out_h, out_w = out.shape[2:]
    two_by_two = is_2x2(kernel, stride, padding)
    inside = two_by_two and windows_inside(out_h, out_w, height, width)
    for item in prange(n_batch * channels):
        n, c = item // channels, item % channels
        if inside:
            avg_pool_plane_2x2(x[n, c].reshape(-1), out[n, c].reshape(-1), width, out_h, out_w, divisor_2x2(divisor_override))
        elif two_by_two:
            avg_pool_plane(x[n, c], out[n, c], (2, 2), (2, 2), (0, 0), count_include_pad, divisor_override)
        else:
            avg_pool_plane(x[n, c], out[n, c], kernel, stride, padding, count_include_pad, divisor_override)


@kernel
def avg_pool_backward(grad_out, dx, kernel, stride, padding, count_include_pad, divisor_override):
    """dx[window] += grad_out / divisor for every in-bounds element of every window. ``dx`` starts at 0."""
    n_batch, channels, height, width = dx.shape
    out_h, out_w = grad_out.shape[2:]
    two_by_two = is_2x2(kernel, stride, padding)
    inside = two_by_two and windows_inside(out_h, out_w, height, width)
    for item in prange(n_batch * channels):
        n, c = item // channels, item % channels
        if inside:
            avg_pool_plane_2x2_backward(grad_out[n, c].reshape(-1), dx[n, c].reshape(-1), width, out_h, out_w,
                                        divisor_2x2(divisor_override))
        elif two_by_two:
            avg_pool_plane_backward(grad_out[n, c], dx[n, c], (2, 2), (2, 2), (0, 0), count_include_pad, divisor_override)
        else:
            avg_pool_plane_backward(grad_out[n, c], dx[n, c], kernel, stride, padding, count_include_pad, divisor_override)


@serial_kernel
def select(mask, a, b, out):
    """out[k] = a[k] where mask[k], else b[k], over flat arrays of one size: NumPy's ``where``
    compiled, because NumPy's branches per element and ran 14x slower than a multiply on a random
    mask (measured).  Serial: it is bound by memory, and a second thread made it slower."""
    for k in range(out.size):
        out[k] = a[k] if mask[k] else b[k]


@serial_kernel
def select_or_value(mask, a, value, out):
    """``select`` with one number ``value`` (of out's dtype) in place of the array b."""
    for k in range(out.size):
        out[k] = a[k] if mask[k] else value


# ----------------------------------------------------------------------------- direct convolution
# Plain loops over every output, kept beside im2col for teaching and comparison.


@kernel
def conv_forward_direct(x, weight, out, stride, padding, dilation, groups):
    """out[n, o, oh, ow] = sum_{c in o's group, i, j} x[n, c, tap(oh, i), tap(ow, j)] * weight[o, c, i, j]."""
    n_batch, out_channels, out_h, out_w = out.shape
    group_in = weight.shape[1]
    group_out = out_channels // groups
    for item in prange(n_batch * out_channels):
        n, o = item // out_channels, item % out_channels
        first_channel = (o // group_out) * group_in
        for oh in range(out_h):
            top = tap(oh, 0, stride[0], padding[0], 1)
            for ow in range(out_w):
                left = tap(ow, 0, stride[1], padding[1], 1)
                out[n, o, oh, ow] = conv_at(x, weight, n, o, first_channel, top, left, dilation[0], dilation[1])


@kernel
def conv_backward_input_direct(grad_out, weight, dx, stride, padding, dilation, groups):
    """dx[n, c, tap(oh, i), tap(ow, j)] += grad_out[n, o, oh, ow] * weight[o, c, i, j]. ``dx`` starts at 0."""
    n_batch, out_channels, out_h, out_w = grad_out.shape
    _, group_in, kh, kw = weight.shape
    _, _, height, width = dx.shape
    group_out = out_channels // groups
    for n in prange(n_batch):
        for o in range(out_channels):
            first_channel = (o // group_out) * group_in
            for oh in range(out_h):
                for ow in range(out_w):
                    g = grad_out[n, o, oh, ow]
                    for c in range(group_in):
                        for i in range(kh):
                            h = tap(oh, i, stride[0], padding[0], dilation[0])
                            if h < 0 or h >= height:
                                continue
                            for j in range(kw):
                                w = tap(ow, j, stride[1], padding[1], dilation[1])
                                if 0 <= w < width:
                                    dx[n, first_channel + c, h, w] += g * weight[o, c, i, j]


@kernel
def conv_backward_weight_direct(grad_out, x, dweight, stride, padding, dilation, groups):
    """dweight[o, c, i, j] = sum_{n, oh, ow} grad_out[n, o, oh, ow] * x[n, c, tap(oh, i), tap(ow, j)]."""
    n_batch, out_channels, out_h, out_w = grad_out.shape
    _, group_in, kh, kw = dweight.shape
    _, _, height, width = x.shape
    group_out = out_channels // groups
    for o in prange(out_channels):
        first_channel = (o // group_out) * group_in
        for c in range(group_in):
            for i in range(kh):
                for j in range(kw):
                    total = 0.0
                    for n in range(n_batch):
                        for oh in range(out_h):
                            h = tap(oh, i, stride[0], padding[0], dilation[0])
                            if h < 0 or h >= height:
                                continue
                            for ow in range(out_w):
                                w = tap(ow, j, stride[1], padding[1], dilation[1])
                                if 0 <= w < width:
                                    total += grad_out[n, o, oh, ow] * x[n, first_channel + c, h, w]
                    dweight[o, c, i, j] = total
