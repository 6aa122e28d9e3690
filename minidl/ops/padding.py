"""Padding: ``pad(input, pad, mode, value)`` with torch's modes constant reflect replicate circular.

Every mode is one rule per padded dim: for each output position, the input position it copies
(or none: the constant).  The forward picks those positions dim by dim; the backward adds the
gradient back to them (reflect, replicate and circular copy some input positions several times).
Negative pads crop.
"""
import numbers

import numpy as np

from minidl import backend
from minidl.autograd import Function
from minidl.ops.shape import ScatterAdd
from minidl.tensor import Tensor

MODES = ("constant", "reflect", "replicate", "circular")


def source_positions(mode, size, left, right):
    """For each of the ``size + left + right`` output positions along one dim, the input position
    it copies, or -1 for the constant.  ``i = j - left`` is the output position j in input
    coordinates; circular crops first, then wraps around what is left, as torch does."""
    i = np.arange(size + left + right) - left
    if mode == "constant":
        return np.where((i >= 0) & (i < size), i, -1)
    if mode == "replicate":
        return np.clip(i, 0, size - 1)
    if mode == "reflect":  # mirror at 0 and at size - 1, without repeating the edge
        return (size - 1) - np.abs((size - 1) - np.abs(i))
    cropped_left, cropped_right = max(-left, 0), max(-right, 0)
    kept = size - cropped_left - cropped_right
    return cropped_left + (i - cropped_left) % kept


def _index_along(axis, ndim, positions):
    return (slice(None),) * axis + (positions,) + (slice(None),) * (ndim - axis - 1)


class Pad(Function):
    """out = the input positions ``sources[axis]`` picked along each padded axis, ``value`` where
    a position is -1;  da = g added back to the positions it was picked from."""

    @staticmethod
    def forward(ctx, a, sources=(), value=0):
        xp = backend.get_array_module(a)
        ctx.shape, ctx.sources = a.shape, sources
        out = a
        for axis, positions in sources:
            positions = np.asarray(positions, dtype=np.intp)
            inside = positions >= 0
            picked = xp.take(out, xp.asarray(positions[inside]), axis=axis)
            if inside.all():
                out = picked
                continue
            shape = list(out.shape)
            shape[axis] = len(positions)
            out = xp.full(shape, value, dtype=a.dtype)
            out[_index_along(axis, a.ndim, xp.asarray(np.flatnonzero(inside)))] = picked
        return out

    @staticmethod
    def backward(ctx, grad):
        xp = backend.get_array_module(grad)
        for picked, targets, shape, once in _gradient_steps(ctx, grad.shape, xp):
            summed = xp.zeros(shape, dtype=grad.dtype)
            if once:
                summed[targets] = grad[picked]  # every input position copied once: a plain assignment
            else:
                backend.scatter_add(summed, targets, grad[picked])
            grad = summed
        return grad

    @staticmethod
    def graph_backward(ctx, grad):
        """The same on Tensors: each step a recorded read and ``ScatterAdd`` (for gradients of
        gradients)."""
        for picked, targets, shape, _ in _gradient_steps(ctx, grad.shape, grad.xp):
            grad = ScatterAdd.apply(grad[picked], index=targets, shape=shape)
        return grad


def _gradient_steps(ctx, grad_shape, xp):
    """The backward, one padded axis at a time (the last padded first): the index of the output
    positions that copy an input position, the index of the positions they copy, the shape after
    the step, and whether each input position is copied at most once."""
    shape = list(grad_shape)
    for axis, positions in reversed(ctx.sources):
        positions = np.asarray(positions, dtype=np.intp)
        inside = positions >= 0
        shape[axis] = ctx.shape[axis]
        picked = _index_along(axis, len(shape), xp.asarray(np.flatnonzero(inside)))
        targets = _index_along(axis, len(shape), xp.asarray(positions[inside]))
        yield picked, targets, tuple(shape), len(np.unique(positions[inside])) == inside.sum()


def _check_pad(input, pad, mode, value):
    if mode not in MODES:
        raise NotImplementedError(f"pad: unrecognised padding mode {mode!r}; expected one of {MODES}")
    if not all(isinstance(n, numbers.Integral) for n in pad):
        raise TypeError(f"pad: pad must be a tuple of ints, got {pad}")
    if len(pad) % 2:
        raise ValueError(f"pad: pad must have an even length (a left and a right size per dim), got {pad}")
    if len(pad) > 2 * input.ndim:
        raise ValueError(
            f"pad: pad {pad} pads {len(pad) // 2} dims, but the input has only {input.ndim} (shape {input.shape})"
        )
    if mode == "constant":
        return
    if value not in (None, 0):
        raise ValueError(f"pad: mode {mode!r} does not take a value, got value={value}")
    padded = len(pad) // 2
    if padded not in (1, 2, 3) or input.ndim not in (padded + 1, padded + 2):
        raise NotImplementedError(
            f"pad: mode {mode!r} pads the last 1, 2 or 3 dims of a ({padded + 1})-D or (batched) "
            f"({padded + 2})-D input; got pad {pad} for input shape {input.shape}"
        )


def _check_sizes(input, mode, axis, size, left, right):
    if size + left + right < 0:
        raise ValueError(
            f"pad: padding ({left}, {right}) of dim {axis} leaves a negative size for input shape {input.shape}"
        )
    if mode == "constant":
        return
    if size == 0 or size + left + right == 0:
        raise ValueError(
            f"pad: mode {mode!r} needs a non-empty dim {axis} before and after padding ({left}, {right}) "
            f"(input shape {input.shape})"
        )
    if mode == "reflect" and max(left, right) >= size:
        raise ValueError(
            f"pad: reflect padding ({left}, {right}) must be less than the size {size} of dim {axis} "
            f"(input shape {input.shape})"
        )
    kept = size - max(-left, 0) - max(-right, 0)  # what is left after cropping
    if mode == "circular" and (kept <= 0 or max(left, right) > kept):
        raise ValueError(
            f"pad: circular padding ({left}, {right}) of dim {axis} must wrap around at most once: "
            f"pads up to the {max(kept, 0)} elements left after cropping (input shape {input.shape})"
        )


def pad(input, pad, mode="constant", value=None):
    """Pad (or, with negative sizes, crop) the last dims of ``input``.

    ``pad = (left_last, right_last, left_second_last, right_second_last, ...)``: the last dim
    first, as torch.  ``mode``: 'constant' (``value``, default 0; any number of dims),
    'reflect' (mirror without repeating the edge), 'replicate' (repeat the edge) or 'circular'
    (wrap around); those three pad the last 1-3 dims of a batched or unbatched input.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"pad: expected a Tensor input, got {type(input).__name__}")
    pad = tuple(pad)
    _check_pad(input, pad, mode, value)
    sources = []
    for k in range(len(pad) // 2):
        axis = input.ndim - 1 - k
        left, right, size = pad[2 * k], pad[2 * k + 1], input.shape[axis]
        _check_sizes(input, mode, axis, size, left, right)
        if (left, right) != (0, 0):
            # host geometry, like a convolution's: plain ints, read on the host, never device values
            sources.append((axis, tuple(source_positions(mode, size, left, right).tolist())))
    return Pad.apply(input, sources=tuple(sources), value=0 if value is None else value)
