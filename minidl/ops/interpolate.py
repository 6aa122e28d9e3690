"""Upsampling and resizing: ``F.interpolate`` with PyTorch's "nearest", "linear" and "bilinear".

Resizing is separable: each spatial axis is resampled on its own.  Along one axis the output is a
weighted sum of a few *taps*, each an array of input positions and an array of weights, one per
output position:

    out[..., i] = sum over taps (index, weight) of weight[i] * x[..., index[i]]

"nearest" has one tap of weight 1; "linear" has two, the neighbours left and right of the point
the output position maps to, weighted by closeness.  "bilinear" is "linear" along W, then along H.
The backward pass is the same map transposed: each output's gradient goes back to the positions it
read, times the same weights, added up where several outputs read one input (a scatter-add).
"""
import math
import numbers

import numpy as np

from minidl import backend
from minidl.autograd import Function
from minidl.ops.common import as_floating_tensor

SPATIAL_DIMS = {"nearest": (1, 2), "linear": (1,), "bilinear": (2,)}
LAYOUTS = {1: "(N, C, L)", 2: "(N, C, H, W)"}


def _along(axis, index):
    """``x[_along(axis, index)]`` picks ``index`` along ``axis`` (a negative axis)."""
    return (Ellipsis, index) + (slice(None),) * (-axis - 1)


def _weights_along(axis, weight):
    """``weight`` (one per output position) shaped to broadcast along ``axis`` (negative)."""
    return weight.reshape((-1,) + (1,) * (-axis - 1))


class Resample(Function):
    """out = sum_k weight_k * x[index_k] along each resampled axis (last axes first);
    dx = sum_k scatter_add(weight_k * g at index_k), axis by axis in the reverse order.
    The op is linear; its backward as an op of its own (``ResampleBackward``, for gradients of
    gradients) has this resampling as its backward.

    ``plan``: one ``(axis, in_size, taps)`` per resampled axis, axis negative, taps a tuple of
    ``(index, weight)`` arrays (weight None: 1)."""

    @staticmethod
    def forward(ctx, x, plan=()):
        ctx.plan = plan
        return resampled(x, plan)

    @staticmethod
    def backward(ctx, grad):
        return resampled_back(grad, ctx.plan)

    @staticmethod
    def graph_backward(ctx, grad):
        return ResampleBackward.apply(grad, plan=ctx.plan)


class ResampleBackward(Function):
    """Resample's backward as an op: out = each output's gradient added back at the positions it
    read, times the same weights (linear in g); its backward is the resampling again."""

    @staticmethod
    def forward(ctx, grad, plan=()):
        ctx.plan = plan
        return resampled_back(grad, plan)

    @staticmethod
    def backward(ctx, grad):
        return resampled(grad, ctx.plan)

    @staticmethod
    def graph_backward(ctx, grad):
        return Resample.apply(grad, plan=ctx.plan)


def resampled(x, plan):
    """x resampled along each axis of ``plan`` in turn: the weighted sum of the taps."""
    for axis, _, taps in plan:
        out = None
        for index, weight in taps:
            picked = x[_along(axis, index)]
            term = picked if weight is None else picked * _weights_along(axis, weight)
            out = term if out is None else out + term
        x = out
    return x


def resampled_back(grad, plan):
    """The adjoint of ``resampled``: axis by axis in the reverse order, each tap's weighted
    gradient added back at the positions it read (a scatter-add)."""
    xp = backend.get_array_module(grad)
    for axis, in_size, taps in reversed(plan):
        shape = list(grad.shape)
        shape[axis] = in_size
        dx = xp.zeros(shape, dtype=grad.dtype)
        for index, weight in taps:
            values = grad if weight is None else grad * _weights_along(axis, weight)
            backend.scatter_add(dx, _along(axis, index), values)
        grad = dx
    return grad


# ----------------------------------------------------------------------------- where each output reads
def nearest_taps(in_size, out_size, scale, dtype):
    """PyTorch's "nearest" (its legacy rule): index = min(floor(i * s), in_size - 1), with the step
    s = 1 / scale_factor if given, else in_size / out_size, computed in the input's dtype as
    PyTorch does (float32 rounding picks another pixel now and then); the identity when the sizes
    are equal."""
    if in_size == out_size:
        return ((np.arange(out_size), None),)
    index = np.floor(np.arange(out_size, dtype=dtype) * _step(in_size, out_size, scale, dtype)).astype(np.int64)
    return ((np.minimum(index, in_size - 1), None),)


def _step(in_size, out_size, scale, dtype):
    """The distance between the source points of neighbouring outputs (align_corners=False)."""
    return dtype.type(1.0 / scale) if scale else dtype.type(in_size) / dtype.type(out_size)


def linear_taps(in_size, out_size, scale, align_corners, dtype):
    """PyTorch's "linear": output i maps to the source point

        align_corners=True:   src = i * (in_size - 1) / (out_size - 1)    (the corner pixels' centres align)
        align_corners=False:  src = max((i + 0.5) * s - 0.5, 0)           (s as in ``nearest_taps``)

    and reads its neighbours i0 = floor(src) and i1 = min(i0 + 1, in_size - 1) with weights
    1 - t and t, t = src - i0; computed in the input's dtype, as PyTorch does."""
    positions = np.arange(out_size, dtype=dtype)
    if align_corners:
        step = dtype.type(in_size - 1) / dtype.type(out_size - 1) if out_size > 1 else dtype.type(0)
        source = positions * step
    else:
        step = _step(in_size, out_size, scale, dtype)
        source = np.maximum((positions + dtype.type(0.5)) * step - dtype.type(0.5), 0)
    left = np.minimum(source.astype(np.int64), in_size - 1)
    right = np.minimum(left + 1, in_size - 1)
    t = np.clip(source - left, 0, 1).astype(dtype)
    return (left, 1 - t), (right, t)


# ----------------------------------------------------------------------------- arguments
def _per_axis(op, name, value, spatial, convert):
    """``value`` (one number or one per spatial axis) as a tuple of ``len(spatial)`` numbers."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * len(spatial)
    if len(values) != len(spatial):
        raise ValueError(
            f"{op}: {name} must be one number or {len(spatial)} (one per spatial axis of the input, "
            f"sizes {list(spatial)}), got {value!r}"
        )
    return tuple(convert(v) for v in values)


def _output_sizes(op, spatial, size, scale_factor):
    if (size is None) == (scale_factor is None):
        raise ValueError(
            f"{op}: give exactly one of size and scale_factor, got "
            + ("both" if size is not None else "neither")
        )
    if size is not None:
        sizes, scales = _per_axis(op, "size", size, spatial, _as_int(op, "size")), (None,) * len(spatial)
    else:
        scales = _per_axis(op, "scale_factor", scale_factor, spatial, float)
        sizes = tuple(math.floor(n * s) for n, s in zip(spatial, scales))
    if min(sizes) < 1:
        raise ValueError(f"{op}: the output size must be positive, got {sizes} from an input of spatial size {tuple(spatial)}")
    return sizes, scales


def _as_int(op, name):
    def convert(value):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool):
            raise TypeError(f"{op}: {name} must hold ints, got {value!r}")
        return int(value)

    return convert


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None):
    """Resize the spatial axes of ``input`` (N, C, L) or (N, C, H, W), as
    ``torch.nn.functional.interpolate``: to ``size`` or by ``scale_factor`` (output size
    floor(input size * scale_factor)), with ``mode`` "nearest" (1-D and 2-D), "linear" (1-D) or
    "bilinear" (2-D).  ``align_corners`` (only for the linear modes, default False) maps the
    corner pixels' centres onto each other.  A given ``scale_factor`` also sets the step between
    source points (1 / scale_factor), unless ``recompute_scale_factor=True``, as in PyTorch."""
    op = "interpolate"
    x = as_floating_tensor(op, input)
    if mode not in SPATIAL_DIMS:
        raise ValueError(f"{op}: mode must be one of {', '.join(map(repr, SPATIAL_DIMS))}, got {mode!r}")
    spatial = x.shape[2:]
    if x.ndim < 3 or len(spatial) not in SPATIAL_DIMS[mode]:
        layouts = " or ".join(LAYOUTS[d] for d in SPATIAL_DIMS[mode])
        raise ValueError(f"{op}: mode {mode!r} needs an input of shape {layouts}, got shape {x.shape}")
    if mode == "nearest" and align_corners is not None:
        raise ValueError(f"{op}: align_corners can only be set with the modes 'linear' and 'bilinear', got mode {mode!r}")
    sizes, scales = _output_sizes(op, spatial, size, scale_factor)
    if recompute_scale_factor:
        scales = (None,) * len(spatial)
    to_device = x.xp.asarray
    plan = []
    for axis, in_size, out_size, scale in zip(range(-len(spatial), 0), spatial, sizes, scales):
        if mode == "nearest":
            taps = nearest_taps(in_size, out_size, scale, np.dtype(x.dtype))
        else:
            taps = linear_taps(in_size, out_size, scale, bool(align_corners), np.dtype(x.dtype))
        taps = tuple((to_device(index), None if weight is None else to_device(weight)) for index, weight in taps)
        plan.append((axis, in_size, taps))
    return Resample.apply(x, plan=tuple(reversed(plan)))
