"""Per-window arithmetic shared by the CPU and CUDA kernels (compiled by each; plain Python here).

Conventions: an output position ``(oh, ow)`` looks at the input window whose top-left tap is at
``(oh * stride_h - pad_top, ow * stride_w - pad_left)``; tap ``(i, j)`` of the kernel reads the
input at ``(top + i * dilation_h, left + j * dilation_w)``.  Taps outside the input read zero
(convolution) or are skipped (pooling).
"""
import math


def tap(out_index, kernel_index, stride, pad, dilation):
    """Input coordinate read by kernel tap ``kernel_index`` for output coordinate ``out_index``."""
    return out_index * stride - pad + kernel_index * dilation


def window_max(plane, top, left, kh, kw, dh, dw):
    """(max, flat index h * W + w) over the window's in-bounds taps, as PyTorch picks it: the
    first maximum in row-major order, except that a NaN always wins (the last NaN).  A window
    with no tap inside the input gives (-inf, index of its first tap at or below/right of 0)."""
    height, width = plane.shape
    first_h, first_w = top, left
    while first_h < 0:
        first_h += dh
    while first_w < 0:
        first_w += dw
    best = -math.inf
    best_index = first_h * width + first_w
    for i in range(kh):
        h = top + i * dh
        if h < 0 or h >= height:
            continue
        for j in range(kw):
            w = left + j * dw
            if w < 0 or w >= width:
                continue
            value = plane[h, w]
            if value > best or math.isnan(value):
                best = value
                best_index = h * width + w
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
