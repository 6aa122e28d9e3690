"""Adaptive pooling: you give the output size, the windows follow from it (PyTorch's rule).

Along an axis of size n pooled to ``out`` positions, window i covers

    start_i = floor(i * n / out)   to   end_i = ceil((i + 1) * n / out)   (end excluded),

so the windows cover every input position, differ in length by at most one, and may overlap by one
(7 -> 3: [0, 3), [2, 5), [4, 7)).  A 2-D window is a row window times a column window.
"""
import numbers

import numpy as np

from minidl import backend
from minidl.ops.interpolate import Resample
from minidl.ops.pool import MaxPool2d
from minidl.ops.window import image_input


def window_bounds(in_size, out_size):
    """(start, end) arrays of the ``out_size`` windows over an axis of ``in_size``."""
    i = np.arange(out_size)
    return i * in_size // out_size, -(-(i + 1) * in_size // out_size)


def window_positions(in_size, out_size):
    """(positions, inside): an (out_size, longest window) array of each window's input positions,
    a short window's last position repeated to fill its row, and whether each is in the window."""
    start, end = window_bounds(in_size, out_size)
    longest = int((end - start).max(initial=1))
    positions = start[:, None] + np.arange(longest)
    return np.minimum(positions, end[:, None] - 1), positions < end[:, None]


def _output_size(op, x, output_size):
    """``output_size`` (an int, or a pair whose None entries keep the input's size) as two ints."""
    sizes = (output_size, output_size) if not isinstance(output_size, (tuple, list)) else tuple(output_size)
    if len(sizes) != 2:
        raise ValueError(f"{op}: output_size must be an int or a pair (H, W), got {output_size!r}")
    sizes = tuple(n if s is None else s for s, n in zip(sizes, x.shape[-2:]))
    if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 0 for s in sizes):
        raise ValueError(f"{op}: output_size must hold ints >= 0 (or None: keep the input's size), got {output_size!r}")
    if min(x.shape[-2:]) < 1:
        raise ValueError(f"{op}: the input's height and width must be at least 1, got shape {x.shape}")
    return tuple(int(s) for s in sizes)


def adaptive_avg_pool2d(input, output_size):
    """The mean of each adaptive window, as ``torch.nn.functional.adaptive_avg_pool2d``; input
    (N, C, H, W) or (C, H, W), output (..., out_h, out_w).  Averaging over a rectangle is
    averaging each row's window, then each column's, so it runs as a resampling (``Resample``)
    whose taps are the window's positions, each weighted 1 / (window length), 0 past its end."""
    op = "adaptive_avg_pool2d"
    x, unbatched = image_input(op, input)
    plan = []
    for axis, in_size, out_size in zip((-1, -2), x.shape[::-1], _output_size(op, x, output_size)[::-1]):
        positions, inside = window_positions(in_size, out_size)
        weights = inside / inside.sum(axis=1, keepdims=True)
        taps = tuple((x.xp.asarray(positions[:, k]), x.xp.asarray(weights[:, k].astype(x.dtype)))
                     for k in range(positions.shape[1]))  # fmt: skip
        plan.append((axis, in_size, taps))
    out = Resample.apply(x, plan=tuple(plan))
    return out.squeeze(0) if unbatched else out


class AdaptiveMaxPool2d(MaxPool2d):
    """out = max over each adaptive window, argmax = where it was (flat h * W + w; ties: the first
    in row-major order, as PyTorch); the backward is MaxPool2d's: g routed to each argmax."""

    @staticmethod
    def forward(ctx, x, rows=None, cols=None):
        xp = backend.get_array_module(x)
        n, c, _, width = x.shape
        patches = x[:, :, rows[:, :, None, None], cols[None, None, :, :]]  # (N, C, out_h, kh, out_w, kw)
        out_h, kh, out_w, kw = patches.shape[2:]
        patches = patches.transpose(0, 1, 2, 4, 3, 5).reshape(n, c, out_h, out_w, kh * kw)
        k = patches.argmax(axis=-1)  # the first maximum of each window
        row = rows[xp.arange(out_h)[:, None], k // kw]
        col = cols[xp.arange(out_w), k % kw]
        argmax = xp.ascontiguousarray(row * width + col)
        ctx.save_for_backward(argmax)
        ctx.x_shape = x.shape
        return patches.max(axis=-1), argmax


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """The max of each adaptive window, as ``torch.nn.functional.adaptive_max_pool2d``;
    ``return_indices`` also returns the flat position h * W + w of each maximum."""
    op = "adaptive_max_pool2d"
    x, unbatched = image_input(op, input)
    sizes = zip(x.shape[-2:], _output_size(op, x, output_size))
    rows, cols = (x.xp.asarray(window_positions(in_size, out_size)[0]) for in_size, out_size in sizes)
    out, indices = AdaptiveMaxPool2d.apply(x, rows=rows, cols=cols)
    if unbatched:
        out, indices = out.squeeze(0), indices.squeeze(0)
    return (out, indices) if return_indices else out

