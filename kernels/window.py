"""Per-window arithmetic shared by the CPU and CUDA kernels (compiled by each; plain Python here).

Conventions: an output position ``(oh, ow)`` looks at the input window whose top-left tap is at
``(oh * stride_h - pad_top, ow * stride_w - pad_left)``; tap ``(i, j)`` of the kernel reads the
input at ``(top + i * dilation_h, left + j * dilation_w)``.  Taps outside the input read zero
(convolution) or are skipped (pooling).

``compile_all(decorator)`` compiles every helper for one target; a helper that calls another
(``window_max`` calls ``span_inside``) then calls the compiled one.
"""
import math
import types


def tap(out_index, kernel_index, stride, pad, dilation):
    """Input coordinate read by kernel tap ``kernel_index`` for output coordinate ``out_index``."""
    return out_index * stride - pad + kernel_index * dilation


def span_inside(start, step, count, size):
    """(first, stop): the q in range(count) with 0 <= start + q * step < size are exactly those
    with first <= q < stop (none when first >= stop)."""
    if start >= 0 and start + (count - 1) * step < size:  # the usual case, without a division
        return 0, count
    first = (step - 1 - start) // step if start < 0 else 0
    stop = min(count, (size - start + step - 1) // step) if size > start else 0
    return first, stop


def inside(out_size, kernel_index, stride, pad, dilation, size):
    """(first, stop), first <= stop: the outputs ``first <= o < stop`` whose tap ``kernel_index``
    reads inside the input, 0 <= tap(o, kernel_index, ...) < size."""
    first, stop = span_inside(kernel_index * dilation - pad, stride, out_size, size)
    return min(first, stop), stop


def window_max(plane, top, left, kh, kw, dh, dw):
    """(max, flat index h * W + w) over the window's in-bounds taps, as PyTorch picks it: the
    first maximum in row-major order, except that a NaN always wins (the last NaN).  A window
    with no tap inside the input gives (-inf, index of its first tap at or below/right of 0).

    The loop visits only taps inside the input and picks with selects, not branches (random data
    would mispredict them); NaNs are rare, so it only notes one and a second pass finds the last."""
    height, width = plane.shape
    i_first, i_stop = span_inside(top, dh, kh, height)
    j_first, j_stop = span_inside(left, dw, kw, width)
    best = -math.inf
    best_index = (top + i_first * dh) * width + left + j_first * dw
    nan_seen = False
    for i in range(i_first, i_stop):
        h = top + i * dh
        for j in range(j_first, j_stop):
            w = left + j * dw
            value = plane[h, w]
            larger = value > best
            best = value if larger else best
            best_index = h * width + w if larger else best_index
            nan_seen |= value != value
    if nan_seen:
        for i in range(i_first, i_stop):
            h = top + i * dh
            for j in range(j_first, j_stop):
                w = left + j * dw
                if math.isnan(plane[h, w]):
                    best, best_index = plane[h, w], h * width + w
    return best, best_index


def average_divisor(top, left, kh, kw, height, width, pad_h, pad_w, count_include_pad, divisor_override):
    """What PyTorch divides a pooling window's sum by: ``divisor_override`` if > 0; else the window
    size clipped to the padded input (``count_include_pad``) or to the input itself."""
    if divisor_override > 0:
        return divisor_override
    bottom = min(top + kh, height + pad_h)
    right = min(left + kw, width + pad_w)
    if count_include_pad:
        return (bottom - top) * (right - left)
    return (min(bottom, height) - max(top, 0)) * (min(right, width) - max(left, 0))


def window_sum(plane, top, left, kh, kw):
    """Sum of the window's in-bounds elements (pooling windows have dilation 1)."""
    height, width = plane.shape
    total = 0.0
    for h in range(max(top, 0), min(top + kh, height)):
        for w in range(max(left, 0), min(left + kw, width)):
            total += plane[h, w]
    return total


def conv_at(x, weight, n, o, first_channel, top, left, dh, dw):
    """One output of a direct convolution: sum over channels c and taps (i, j) of
    x[n, first_channel + c, top + i*dh, left + j*dw] * weight[o, c, i, j] (zero padding)."""
    _, _, height, width = x.shape
    _, channels, kh, kw = weight.shape
    total = 0.0
    for c in range(channels):
        for i in range(kh):
            h = top + i * dh
            if h < 0 or h >= height:
                continue
            for j in range(kw):
                w = left + j * dw
                if 0 <= w < width:
                    total += x[n, first_channel + c, h, w] * weight[o, c, i, j]
    return total


HELPERS = ("tap", "span_inside", "inside", "window_max", "window_sum", "average_divisor", "conv_at")


def compile_all(decorator):
    """Every helper in ``HELPERS`` compiled with ``decorator`` (``njit(...)`` for the CPU,
    ``cuda.jit(device=True)`` for CUDA), as a namespace.  Each is compiled from a copy of the
    function whose global names are the compiled helpers, so calls between them stay compiled."""
    namespace = {"math": math}
    for name in HELPERS:
        fn = globals()[name]
        namespace[name] = decorator(types.FunctionType(fn.__code__, namespace, name, fn.__defaults__))
    return types.SimpleNamespace(**{name: namespace[name] for name in HELPERS})
