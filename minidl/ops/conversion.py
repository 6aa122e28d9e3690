"""Conversions that stay on the graph: dtype casts and moves between devices."""
import numpy as np

from minidl import backend
from minidl.autograd import Function


class Cast(Function):
    """out = a converted to ``dtype``;  da = g converted back (by the engine)."""

    @staticmethod
    def forward(ctx, a, dtype=None):
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad


class ToDevice(Function):
    """out = a copied to ``device``;  da = g copied back to a's device."""

    @staticmethod
    def forward(ctx, a, device="cpu"):
        ctx.source = backend.device_of(a)
        return backend.to_device(a, device)

    @staticmethod
    def backward(ctx, grad):
        return backend.to_device(grad, ctx.source)


def cast(a, dtype):
    """``a`` as ``dtype`` (differentiable between floating dtypes)."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "biuf":
        raise TypeError(f"cast: unsupported dtype {dtype}")
    return Cast.apply(a, dtype=dtype)


def to_device(a, device):
    """``a`` copied to ``"cpu"`` or ``"cuda"`` (differentiable)."""
    return ToDevice.apply(a, device=backend.check_device(device))
