"""Selecting with index tensors and masks: index_select gather masked_fill.

Each is a checked call of a Function that already exists: ``index_select`` and ``gather`` are
integer-array indexing (``GetItem``: the backward adds the gradient back at the picked positions),
``masked_fill`` is ``where(mask, value, input)``.
"""
import numbers

import numpy as np

from minidl.ops.arithmetic import Where
from minidl.ops.common import normalize_dim, to_tensor
from minidl.ops.shape import GetItem, reshape
from minidl.tensor import Tensor

_INDEX_DTYPES = ("int32", "int64")


def _check_input(op, input):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(input).__name__}")


def _check_index_dtype(op, index):
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}: index must be a Tensor of int64 (or int32), got {type(index).__name__}")
    if index.dtype.name not in _INDEX_DTYPES:
        raise TypeError(f"{op}: index must have dtype int64 or int32, got {index.dtype}")


def _check_index_range(op, index, size, dim):
    outside = (index.array < 0) | (index.array >= size)
    if outside.any():
        value = int(index.array[outside].reshape(-1)[0])
        raise IndexError(f"{op}: index {value} is out of bounds for dim {dim} with size {size}")


def index_select(input, dim, index):
    """The entries of ``input`` at positions ``index`` (a 1-D or 0-D int tensor) along ``dim``:
    ``out.shape[dim] == index.numel()``, other dims unchanged."""
    _check_input("index_select", input)
    _check_index_dtype("index_select", index)
    if index.ndim > 1:
        raise IndexError(f"index_select: index must be a vector (1-D or 0-D), got shape {index.shape}")
    if input.ndim == 0:  # a 0-d tensor is one element along dim 0
        if index.numel() != 1:
            raise IndexError(f"index_select: a 0-d input takes an index with one value, got {index.numel()}")
        return reshape(index_select(reshape(input, (1,)), dim, index), ())
    axis = normalize_dim("index_select", dim, input.ndim)
    _check_index_range("index_select", index, input.shape[axis], dim)
    return GetItem.apply(input, index=(slice(None),) * axis + (index.array.reshape(-1),))


def gather(input, dim, index):
    """out[i][j][k] = input[i][index[i][j][k]][k] for dim=1 (likewise for other dims):
    ``out`` has ``index``'s shape; ``index`` has input's number of dims and is no larger in
    any dim but ``dim``."""
    _check_input("gather", input)
    _check_index_dtype("gather", index)
    if max(index.ndim, 1) != max(input.ndim, 1):
        raise ValueError(
            f"gather: index must have as many dims as the input, got index shape {index.shape} "
            f"for input shape {input.shape}"
        )
    if input.ndim == 0 or index.ndim == 0:  # a 0-d tensor is one element along dim 0
        normalize_dim("gather", dim, 1)
        return reshape(gather(reshape(input, (-1,)), dim, reshape(index, (-1,))), index.shape)
    axis = normalize_dim("gather", dim, input.ndim)
    _check_index_range("gather", index, input.shape[axis], dim)
    if any(n > m for d, (n, m) in enumerate(zip(index.shape, input.shape)) if d != axis):
        raise ValueError(
            f"gather: index shape {index.shape} must be no larger than the input shape {input.shape} "
            f"in every dim but dim {dim}"
        )
    xp = input.xp
    positions = [  # along ``axis`` the index, along every other dim the element's own coordinate
        index.array if d == axis else xp.arange(n).reshape((-1,) + (1,) * (index.ndim - d - 1))
        for d, n in enumerate(index.shape)
    ]
    return GetItem.apply(input, index=tuple(positions))


def masked_fill(input, mask, value):
    """``value`` where the bool ``mask`` is True, ``input`` elsewhere; ``mask`` broadcasts with
    ``input``.  ``value``, a number or a 0-d tensor (differentiable), is cast to input's dtype."""
    _check_input("masked_fill", input)
    if not isinstance(mask, Tensor) or mask.dtype != bool:
        got = f"dtype {mask.dtype}" if isinstance(mask, Tensor) else type(mask).__name__
        raise TypeError(f"masked_fill: mask must be a bool Tensor, got {got}")
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(
                f"masked_fill: value must be a number or a 0-d tensor, got a tensor of shape {value.shape}"
            )
        value = value if value.dtype == input.dtype else value.to(input.dtype)
    elif isinstance(value, numbers.Real):
        value = to_tensor(value, input.dtype, input.device)  # made on the device, no host copy
    else:
        raise TypeError(f"masked_fill: value must be a number or a 0-d tensor, got {type(value).__name__}")
    try:
        np.broadcast_shapes(input.shape, mask.shape)
    except ValueError:
        raise ValueError(
            f"masked_fill: mask of shape {mask.shape} does not broadcast with input of shape {input.shape}"
        ) from None
    return Where.apply(value, input, condition=mask.array)
