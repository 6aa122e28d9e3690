"""Sorting: sort, argsort, topk.

The order is found on the array, and is not differentiable; the values are then
``gather(input, dim, indices)``, so their gradient goes back to the positions they came from.
"""
import collections
import numbers

import numpy as np

from minidl import backend
from minidl.ops.common import normalize_dim
from minidl.ops.indexing import gather
from minidl.tensor import Tensor

ValuesIndices = collections.namedtuple("ValuesIndices", ["values", "indices"])


def _check_tensor(op, input):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")


def _order(keys, axis, descending):
    """The indices that sort ``keys`` along ``axis``, stably (equal elements keep their order) and
    with NaN counted as the largest value, as torch.  Descending: sort the reversed keys
    ascending and read the result backwards, which keeps ties in their order."""
    xp = backend.get_array_module(keys)
    if not descending:
        return xp.argsort(keys, axis=axis, kind="stable")
    ascending_of_reversed = xp.argsort(xp.flip(keys, axis), axis=axis, kind="stable")
    return keys.shape[axis] - 1 - xp.flip(ascending_of_reversed, axis)


def _indices(op, input, dim, descending):
    """(axis, the int64 array of the sorting order of ``input`` along ``dim``); a 0-d tensor: 0."""
    _check_tensor(op, input)
    axis = normalize_dim(op, dim, input.ndim)
    keys = input.array.reshape(input.shape or (1,))
    return axis, _order(keys, axis, descending).astype(np.int64).reshape(input.shape)


def argsort(input, dim=-1, descending=False, stable=False):
    """The indices that sort ``input`` along ``dim`` (always stably here)."""
    return Tensor(_indices("argsort", input, dim, descending)[1])


def sort(input, dim=-1, descending=False, stable=False):
    """``(values, indices)``: ``input`` sorted along ``dim`` and where each value came from.  The
    sort is always stable here (``stable=False`` lets torch order ties either way); the values
    are differentiable."""
    indices = Tensor(_indices("sort", input, dim, descending)[1])
    return ValuesIndices(gather(input, dim, indices), indices)


def topk(input, k, dim=-1, largest=True, sorted=True):
    """``(values, indices)`` of the ``k`` largest (``largest=False``: smallest) elements along
    ``dim``, in order (always sorted here: largest, or smallest, first); the values are
    differentiable."""
    axis, order = _indices("topk", input, dim, descending=largest)
    n = input.shape[axis] if input.ndim else 1
    if not isinstance(k, numbers.Integral) or not 0 <= k <= n:
        raise ValueError(f"topk: k must be an int in [0, {n}] (the size of dim {dim}), got {k!r}")
    if input.ndim:
        order = order[(slice(None),) * axis + (slice(0, k),)]
    indices = Tensor(order)
    return ValuesIndices(gather(input, dim, indices), indices)
