"""Conversions that stay on the graph: dtype casts, moves between devices and copies."""
import numpy as np

from minidl import backend
from minidl.autograd import Function


class Cast(Function):
    """out = a converted to ``dtype``;  da = g converted back (by the engine)."""

    @staticmethod
    def forward(ctx, a, dtype=None):
        ctx.source = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad

    @staticmethod
    def graph_backward(ctx, grad):
        """On Tensors the cast back is an op of its own (a Cast), so it is recorded."""
        return Cast.apply(grad, dtype=ctx.source)


class ToDevice(Function):
    """out = a copied to ``device``;  da = g copied back to a's device."""

    @staticmethod
    def forward(ctx, a, device="cpu"):
        ctx.source = backend.device_of(a)
        return backend.to_device(a, device)

    @staticmethod
    def backward(ctx, grad):
        return backend.to_device(grad, ctx.source)

    @staticmethod
    def graph_backward(ctx, grad):
        """The same move on Tensors (a ToDevice of its own, so it is recorded)."""
        return ToDevice.apply(grad, device=ctx.source)


class Copy(Function):
    """out = a fresh C-contiguous copy of a;  da = g."""

    differentiable_backward = True  # its backward runs on Tensors too (higher_order.py)

    @staticmethod
    def forward(ctx, a):
        return backend.get_array_module(a).array(a, order="C", copy=True)

    @staticmethod
    def backward(ctx, grad):
        return grad


def clone(input):
    """A copy with its own memory, still on the graph: gradients flow back to ``input``."""
    return Copy.apply(input)


def contiguous(input):
    """``input`` itself if its array is laid out row by row (C order), else a contiguous copy."""
    return input if input.array.flags.c_contiguous else Copy.apply(input)


def cast(a, dtype):
    """``a`` as ``dtype`` (differentiable between floating dtypes)."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "biuf":
        raise TypeError(f"cast: unsupported dtype {dtype}")
    return Cast.apply(a, dtype=dtype)


def to_device(a, device):
    """``a`` copied to ``"cpu"`` or ``"cuda"`` (differentiable)."""
    return ToDevice.apply(a, device=backend.check_device(device))
