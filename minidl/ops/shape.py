"""Shape ops: reshape expand repeat transpose permute squeeze unsqueeze flatten cat stack split
chunk, and indexing.

None of these changes a value, so every backward just moves the gradient back to where its
element came from.
"""
import math
import numbers

import numpy as np

from minidl import backend
from minidl.autograd import Function
from minidl.ops.common import normalize_dim, promote_operands
from minidl.tensor import Tensor


class Reshape(Function):
    """out = a viewed with a new shape;  da = g reshaped back."""

    differentiable_backward = True  # its backward runs on Tensors too (higher_order.py)

    is_view = True

    @staticmethod
    def forward(ctx, a, shape=()):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.shape)


class Expand(Function):
    """out = a broadcast to a larger shape;  da = g summed over the broadcast axes (by the engine)."""

    differentiable_backward = True  # its backward runs on Tensors too (higher_order.py)

    is_view = True

    @staticmethod
    def forward(ctx, a, shape=()):
        return backend.get_array_module(a).broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, grad):
        return grad


class Repeat(Function):
    """out = a tiled ``repeats[i]`` times along axis i (NumPy's ``tile``);
    da = g cut into its tiles, which are summed."""

    differentiable_backward = True  # its backward runs on Tensors too (higher_order.py)

    @staticmethod
    def forward(ctx, a, repeats=()):
        ctx.repeats, ctx.shape = repeats, a.shape
        return backend.get_array_module(a).tile(a, repeats)

    @staticmethod
    def backward(ctx, grad):
        tiles_and_sides = tuple(n for pair in zip(ctx.repeats, ctx.shape) for n in pair)
        return grad.reshape(tiles_and_sides).sum(axis=tuple(range(0, len(tiles_and_sides), 2)))


class Permute(Function):
    """out = a with its axes reordered;  da = g with the inverse order."""

    is_view = True

    @staticmethod
    def forward(ctx, a, dims=()):
        ctx.inverse = tuple(np.argsort(dims))
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, grad):
        return grad.transpose(ctx.inverse)

    @staticmethod
    def graph_backward(ctx, grad):
        """The same formula on Tensors (for gradients of gradients)."""
        return grad.permute(*ctx.inverse)


class Concatenate(Function):
    """out = the inputs joined along ``axis``;  each input gets its slice of g."""

    @staticmethod
    def forward(ctx, *arrays, axis=0):
        xp = backend.get_array_module(arrays[0])
        ctx.axis = axis
        ctx.bounds = np.cumsum([a.shape[axis] for a in arrays])[:-1]
        return xp.concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        xp = backend.get_array_module(grad)
        return tuple(xp.split(grad, ctx.bounds, axis=ctx.axis))

    @staticmethod
    def graph_backward(ctx, grad):
        """The same split on Tensors: each input's slice of g along the axis."""
        edges = [0, *ctx.bounds.tolist(), grad.shape[ctx.axis]]
        before = (slice(None),) * (ctx.axis % grad.ndim)
        return tuple(grad[before + (slice(start, stop),)] for start, stop in zip(edges[:-1], edges[1:]))


class GetItem(Function):
    """out = a[index] (slices, ints, None, ..., integer or boolean arrays);
    da = g added back at the indexed positions (repeated indices accumulate)."""

    is_view = True

    @staticmethod
    def forward(ctx, a, index=()):
        ctx.index, ctx.shape = index, a.shape
        return a[index]

    @staticmethod
    def backward(ctx, grad):
        return added_at(ctx.index, grad, ctx.shape)

    @staticmethod
    def graph_backward(ctx, grad):
        """The same on Tensors: the op ``ScatterAdd`` (for gradients of gradients)."""
        return ScatterAdd.apply(grad, index=ctx.index, shape=ctx.shape)


class ScatterAdd(Function):
    """out = zeros(shape) with ``values`` added at ``index`` (repeated positions accumulate): the
    backward of ``a[index]`` as an op of its own, so that it can be differentiated again;
    dvalues = g[index]."""

    differentiable_backward = True  # its backward runs on Tensors too (higher_order.py)

    @staticmethod
    def forward(ctx, values, index=(), shape=()):
        ctx.index = index
        return added_at(index, values, shape)

    @staticmethod
    def backward(ctx, grad):
        return grad[ctx.index]


def added_at(index, values, shape):
    """The array zeros(shape) with ``values`` added at ``index`` (repeated positions accumulate)."""
    total = backend.get_array_module(values).zeros(shape, dtype=values.dtype)
    backend.scatter_add(total, index, values)
    return total


def _check_tensor(op, a):
    if not isinstance(a, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(a).__name__}")


def reshape(a, shape):
    """The same elements in a new shape; one entry may be -1 (inferred)."""
    _check_tensor("reshape", a)
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    known = math.prod(n for n in shape if n != -1)
    inferred = shape.count(-1)
    valid = inferred <= 1 and all(isinstance(n, numbers.Integral) and n >= -1 for n in shape)
    if not valid or (inferred == 0 and known != a.numel()) or (inferred and (known == 0 or a.numel() % known)):
        raise ValueError(f"reshape: shape {shape} is invalid for a tensor of shape {a.shape} ({a.numel()} elements)")
    return Reshape.apply(a, shape=shape)


view = reshape


def expand(a, shape):
    """Broadcast to ``shape`` without copying (-1 keeps a size)."""
    _check_tensor("expand", a)
    shape = tuple(shape)
    lead = len(shape) - a.ndim
    target = tuple(a.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(shape))
    compatible = lead >= 0 and all(
        old in (1, new) for old, new in zip(a.shape, target[lead:])
    )
    if not compatible or any(n < 0 for n in target):
        raise ValueError(f"expand: cannot expand a tensor of shape {a.shape} to {shape}")
    return Expand.apply(a, shape=target)


def repeat(a, repeats):
    """Tile ``a``: ``repeats[i]`` copies along dim i; extra leading repeats add new leading dims
    (torch's ``Tensor.repeat``, NumPy's ``tile``)."""
    _check_tensor("repeat", a)
    repeats = tuple(repeats)
    if not repeats:
        raise TypeError("repeat: missing the repeat sizes (one int per dim)")
    if len(repeats) < a.ndim or not all(isinstance(n, numbers.Integral) and n >= 0 for n in repeats):
        raise ValueError(
            f"repeat: expected one non-negative int per dim (at least {a.ndim}) for a tensor of shape "
            f"{a.shape}, got {repeats}"
        )
    if len(repeats) > a.ndim:
        a = Reshape.apply(a, shape=(1,) * (len(repeats) - a.ndim) + a.shape)
    return Repeat.apply(a, repeats=repeats)


def permute(a, dims):
    """Reorder the axes: ``out.shape[i] == a.shape[dims[i]]``."""
    _check_tensor("permute", a)
    axes = [normalize_dim("permute", d, a.ndim) for d in dims]
    if sorted(axes) != list(range(a.ndim)):
        raise ValueError(f"permute: dims {tuple(dims)} are not a permutation of the {a.ndim} axes of shape {a.shape}")
    return Permute.apply(a, dims=tuple(axes))


def transpose(a, dim0, dim1):
    """Swap two axes."""
    _check_tensor("transpose", a)
    dims = list(range(a.ndim))
    d0, d1 = normalize_dim("transpose", dim0, a.ndim), normalize_dim("transpose", dim1, a.ndim)
    if a.ndim:
        dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute.apply(a, dims=tuple(dims))


def squeeze(a, dim=None):
    """Remove axes of size 1 (all of them, or only ``dim`` if it has size 1)."""
    _check_tensor("squeeze", a)
    if dim is None:
        shape = tuple(n for n in a.shape if n != 1)
    else:
        axis = normalize_dim("squeeze", dim, a.ndim)
        shape = tuple(n for i, n in enumerate(a.shape) if i != axis or n != 1)
    return Reshape.apply(a, shape=shape)


def unsqueeze(a, dim):
    """Insert an axis of size 1 at ``dim`` (``-1`` appends)."""
    _check_tensor("unsqueeze", a)
    axis = normalize_dim("unsqueeze", dim, a.ndim + 1)
    shape = a.shape[:axis] + (1,) + a.shape[axis:]
    return Reshape.apply(a, shape=shape)


def flatten(a, start_dim=0, end_dim=-1):
    """Merge the axes ``start_dim..end_dim`` into one."""
    _check_tensor("flatten", a)
    if a.ndim == 0:
        return Reshape.apply(a, shape=(1,))
    start, end = normalize_dim("flatten", start_dim, a.ndim), normalize_dim("flatten", end_dim, a.ndim)
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {a.shape}")
    shape = a.shape[:start] + (math.prod(a.shape[start : end + 1]),) + a.shape[end + 1 :]
    return Reshape.apply(a, shape=shape)


def cat(tensors, dim=0):
    """Join tensors along an existing axis; all other sizes must agree."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    tensors = promote_operands("cat", *tensors)
    first = tensors[0]
    axis = normalize_dim("cat", dim, first.ndim)
    for t in tensors[1:]:
        if t.ndim != first.ndim or any(n != m for i, (n, m) in enumerate(zip(t.shape, first.shape)) if i != axis):
            shapes = ", ".join(str(x.shape) for x in tensors)
            raise ValueError(f"cat: sizes must match except in dim {dim}, got shapes {shapes}")
    return Concatenate.apply(*tensors, axis=axis)


concatenate = cat


def stack(tensors, dim=0):
    """Join same-shaped tensors along a new axis."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    shapes = {t.shape for t in tensors if isinstance(t, Tensor)}
    if len(shapes) != 1 or len(tensors) != sum(isinstance(t, Tensor) for t in tensors):
        raise ValueError(f"stack: expects tensors of one shape, got shapes {[getattr(t, 'shape', type(t).__name__) for t in tensors]}")
    axis = normalize_dim("stack", dim, tensors[0].ndim + 1)
    return cat([unsqueeze(t, axis) for t in tensors], dim=axis)


def unwrap_index(index):
    """An index with every Tensor replaced by its array, and lists by integer arrays."""
    if isinstance(index, tuple):
        return tuple(unwrap_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.array
    if isinstance(index, list):
        return np.asarray(index)
    return index


def advanced_parts_to_integers(index, xp):
    """Boolean masks become integer arrays (``nonzero``), so the backward can scatter-add."""
    parts = index if isinstance(index, tuple) else (index,)
    converted = []
    for part in parts:
        is_array = isinstance(part, np.ndarray) or backend.is_cupy_array(part)
        if is_array and part.dtype == bool:
            converted.extend(xp.asarray(part).nonzero())
        elif is_array:
            converted.append(xp.asarray(part))
        else:
            converted.append(part)
    return tuple(converted)


def getitem(a, index):
    """``a[index]`` with NumPy's rules; differentiable, including integer-array indexing."""
    _check_tensor("getitem", a)
    index = advanced_parts_to_integers(unwrap_index(index), a.xp)
    try:
        return GetItem.apply(a, index=index)
    except IndexError as error:
        raise IndexError(f"getitem: invalid index for a tensor of shape {a.shape}: {error}") from None


def _slice_along(a, axis, start, stop):
    """The view ``a[..., start:stop, ...]`` with the slice at ``axis``."""
    return getitem(a, (slice(None),) * axis + (slice(int(start), int(stop)),))


def _check_not_0d(op, a):
    _check_tensor(op, a)
    if a.ndim == 0:
        raise ValueError(f"{op}: expects a tensor with at least 1 dimension, got a 0-d tensor")


def split(tensor, split_size_or_sections, dim=0):
    """Cut ``tensor`` along ``dim`` into views (differentiable): pieces of ``split_size_or_sections``
    elements, the last one smaller if need be, or, for a list, pieces of those sizes (they must
    add up to the size of ``dim``).  Returns a tuple."""
    _check_not_0d("split", tensor)
    axis = normalize_dim("split", dim, tensor.ndim)
    n = tensor.shape[axis]
    if isinstance(split_size_or_sections, numbers.Integral):
        size = split_size_or_sections
        if size < 0 or (size == 0 and n > 0):
            raise ValueError(
                f"split: split_size must be positive (0 only for an empty dim), got {size} for dim {dim} of size {n}"
            )
        pieces = max(math.ceil(n / size), 1) if size else 1
        sizes = [min(size, n - i * size) for i in range(pieces)]
    else:
        sizes = list(split_size_or_sections)
        if min(sizes, default=0) < 0 or sum(sizes) != n:
            raise ValueError(
                f"split: split sizes must be non-negative and add up to {n} (the size of dim {dim}), got {sizes}"
            )
    bounds = np.cumsum([0] + sizes)
    return tuple(_slice_along(tensor, axis, start, stop) for start, stop in zip(bounds[:-1], bounds[1:]))


def chunk(input, chunks, dim=0):
    """Cut ``input`` along ``dim`` into ``chunks`` views of ceil(n / chunks) elements each (the last
    may be smaller, and there may be fewer than ``chunks`` of them); differentiable."""
    _check_not_0d("chunk", input)
    if not isinstance(chunks, numbers.Integral) or chunks <= 0:
        raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
    n = input.shape[normalize_dim("chunk", dim, input.ndim)]
    return split(input, [0] * chunks if n == 0 else math.ceil(n / chunks), dim)
