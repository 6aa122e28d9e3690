"""Reductions: sum mean prod max min amax amin var std logsumexp, argmax/argmin and all/any;
the running sum cumsum.

``dim`` is None (all axes), an int or a tuple; ``keepdim`` keeps reduced axes with size 1.
Each also takes NumPy's names ``axis=`` and ``keepdims=``, as torch does.
"""
import collections
import math

from minidl import backend
from minidl.autograd import Function
from minidl.higher_order import recorded_vjp
from minidl.ops.arithmetic import exp, sqrt
from minidl.ops.shape import cat, reshape
from minidl.ops.common import (
    accepts_numpy_names,
    as_floating_tensor,
    normalize_dim,
    normalize_dims,
    promote_operands,
    restore_reduced,
)
from minidl.tensor import Tensor

MaxMin = collections.namedtuple("MaxMin", ["values", "indices"])


def _count(shape, axes):
    """How many elements each reduction over ``axes`` combines."""
    return math.prod(shape[axis] for axis in axes)


def _broadcast_back(grad, axes, keepdim, shape):
    """The gradient of a reduction, spread back over the input's shape."""
    xp = backend.get_array_module(grad)
    return xp.broadcast_to(restore_reduced(grad, axes, keepdim), shape)


def kept_dims(grad, axes, shape):
    """A reduction's gradient with the reduced ``axes`` of ``shape`` put back with size 1, so that
    it broadcasts against the input (``restore_reduced``, by a reshape: for arrays and Tensors)."""
    return grad.reshape(tuple(1 if axis in axes else n for axis, n in enumerate(shape)))


def _broadcast_back_tensor(grad, axes, shape):
    """``_broadcast_back`` with Tensor ops: the reduced axes put back with size 1, then expanded."""
    return kept_dims(grad, axes, shape).expand(*shape)


class Sum(Function):
    """out = sum of a over axes;  da = g copied to every summed element."""

    @staticmethod
    def forward(ctx, a, axes=(), keepdim=False):
        ctx.axes, ctx.keepdim, ctx.shape = axes, keepdim, a.shape
        return a.sum(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        return _broadcast_back(grad, ctx.axes, ctx.keepdim, ctx.shape)

    @staticmethod
    def graph_backward(ctx, grad):
        """The same formula on Tensors (for gradients of gradients)."""
        return _broadcast_back_tensor(grad, ctx.axes, ctx.shape)


class Mean(Function):
    """out = sum(a) / n over axes;  da = g / n."""

    @staticmethod
    def forward(ctx, a, axes=(), keepdim=False):
        ctx.axes, ctx.keepdim, ctx.shape = axes, keepdim, a.shape
        ctx.count = _count(a.shape, axes)
        return a.mean(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        return _broadcast_back(grad / ctx.count, ctx.axes, ctx.keepdim, ctx.shape)

    @staticmethod
    def graph_backward(ctx, grad):
        """The same formula on Tensors (for gradients of gradients)."""
        return _broadcast_back_tensor(grad / ctx.count, ctx.axes, ctx.shape)


class Prod(Function):
    """out = a_0 * a_1 * ... * a_(n-1) along one axis;
    da_i = g * (a_0 ... a_(i-1)) * (a_(i+1) ... a_(n-1)): the product of the others, taken as the
    product before i times the product after i, so a zero needs no division (as torch)."""

    @staticmethod
    def forward(ctx, a, axis=0, keepdim=False):
        ctx.save_for_backward(a)
        ctx.axis, ctx.keepdim = axis, keepdim
        return a.prod(axis=axis, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved
        after = _reversed(_product_before(_reversed(a, ctx.axis), ctx.axis), ctx.axis)
        return restore_reduced(grad, (ctx.axis,), ctx.keepdim) * _product_before(a, ctx.axis) * after

    @staticmethod
    def graph_backward(ctx, grad):
        """The vector-Jacobian product of the product written with Tensor ops (``_product_by_halving``),
        recorded: no division, so zeros are no special case at any order."""
        def product(a):
            out = _product_by_halving(a, ctx.axis)
            return out if ctx.keepdim else out.squeeze(ctx.axis)

        return recorded_vjp(product, ctx.saved, (grad,))


def _product_by_halving(a, axis):
    """The product along ``axis`` (kept, size 1) with differentiable Tensor ops: multiply the first
    half by the second half (an odd last element waits for the next round) until one is left."""
    while a.shape[axis] > 1:
        half, length = a.shape[axis] // 2, a.shape[axis]
        pairs = _along(a, axis, 0, half) * _along(a, axis, half, 2 * half)
        a = pairs if length % 2 == 0 else cat([pairs, _along(a, axis, 2 * half, length)], dim=axis)
    return a


def _along(a, axis, start, stop):
    """a[start:stop] along ``axis``."""
    return a[(slice(None),) * axis + (slice(start, stop),)]


def _reversed(a, axis):
    """``a`` in reverse order along ``axis`` (a view of an array, or a Tensor op)."""
    return a[(slice(None),) * axis + (slice(None, None, -1),)]


def _product_before(a, axis):
    """out[i] = a[0] * ... * a[i-1] along ``axis`` (1 for i = 0): an exclusive cumulative product."""
    xp = backend.get_array_module(a)
    a = xp.moveaxis(a, axis, -1)
    shifted = xp.concatenate([xp.ones_like(a[..., :1]), a[..., :-1]], axis=-1)
    return xp.moveaxis(xp.cumprod(shifted, axis=-1), -1, axis)


class CumSum(Function):
    """out[i] = a[0] + ... + a[i] along one axis;  da[i] = g[i] + ... + g[n-1] (g summed from the end)."""

    @staticmethod
    def forward(ctx, a, axis=0):
        ctx.axis = axis
        return backend.get_array_module(a).cumsum(a, axis=axis, dtype=a.dtype)

    @staticmethod
    def backward(ctx, grad):
        return _summed_from_the_end(grad, ctx.axis, backend.get_array_module(grad).cumsum)

    @staticmethod
    def graph_backward(ctx, grad):
        """The same formula on Tensors: this op itself, on the reversed g (for gradients of gradients)."""
        return _summed_from_the_end(grad, ctx.axis, cumsum)


def _summed_from_the_end(grad, axis, running_sum):
    """out[i] = g[i] + ... + g[n-1] along ``axis``: ``running_sum`` (NumPy's cumsum for arrays,
    minidl's for Tensors) of the reversed g, reversed back."""
    return _reversed(running_sum(_reversed(grad, axis), axis), axis)


class Extreme(Function):
    """out = max (or min) over axes;  the gradient is shared evenly among tied extreme elements,
    as ``torch.amax`` does: da = g * [a == out] / (number of ties)."""

    @staticmethod
    def forward(ctx, a, axes=(), keepdim=False, largest=True):
        out = a.max(axis=axes, keepdims=True) if largest else a.min(axis=axes, keepdims=True)
        ctx.save_for_backward(a == out)
        ctx.axes = axes
        return out if keepdim else out.squeeze(axis=axes)

    @staticmethod
    def backward(ctx, grad):
        (is_extreme,) = ctx.saved
        return _shared_among_ties(grad, is_extreme, ctx.axes)

    @staticmethod
    def graph_backward(ctx, grad):
        """The same formula on Tensors; the mask of extremes is piecewise constant: a constant."""
        (is_extreme,) = ctx.constants
        return _shared_among_ties(grad, is_extreme, ctx.axes)


def _shared_among_ties(grad, is_extreme, axes):
    """g * [a == out] / (number of ties), on arrays or Tensors."""
    ties = is_extreme.sum(axis=axes, keepdims=True)
    return is_extreme * (kept_dims(grad, axes, is_extreme.shape) / ties)


class ExtremeAlongDim(Function):
    """(values, indices) of the max (or min) along one dim; da = g at the chosen index (the first
    extreme element, as PyTorch), 0 elsewhere."""

    @staticmethod
    def forward(ctx, a, axis=0, keepdim=False, largest=True):
        xp = backend.get_array_module(a)
        index = (a.argmax if largest else a.argmin)(axis=axis, keepdims=True)
        ctx.axis, ctx.length = axis, a.shape[axis]
        ctx.save_for_backward(index)
        values = xp.take_along_axis(a, index, axis=axis)
        if not keepdim:
            values, index = values.squeeze(axis), index.squeeze(axis)
        return values, index.astype(xp.int64)

    @staticmethod
    def backward(ctx, grad, grad_index):
        (index,) = ctx.saved
        return _at_index(grad, index, ctx)

    @staticmethod
    def graph_backward(ctx, grad, grad_index):
        """The same formula on Tensors; the chosen index is a constant."""
        (index,) = ctx.constants
        return _at_index(grad, index.array, ctx)


def _at_index(grad, index, ctx):
    """g (an array or a Tensor) placed at the chosen ``index`` along ``ctx.axis``, 0 elsewhere."""
    xp = backend.get_array_module(index)
    shape = [1] * index.ndim
    shape[ctx.axis] = ctx.length
    chosen = xp.arange(ctx.length).reshape(shape) == index
    return chosen * kept_dims(grad, (ctx.axis,), chosen.shape)


class Var(Function):
    """out = sum((a - mean)^2) / (n - correction);  da = g * 2 (a - mean) / (n - correction)
    (a - mean recomputed in backward, as torch, so that only the input is saved)."""

    differentiable_backward = True  # its backward runs on Tensors too (higher_order.py)

    @staticmethod
    def forward(ctx, a, axes=(), correction=1, keepdim=False):
        centered = a - a.mean(axis=axes, keepdims=True)
        ctx.divisor = _count(a.shape, axes) - correction
        ctx.axes = axes
        ctx.save_for_backward(a)
        return (centered * centered).sum(axis=axes, keepdims=keepdim) / ctx.divisor

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved
        centered = a - a.mean(axis=ctx.axes, keepdims=True)
        return (2.0 / ctx.divisor) * kept_dims(grad, ctx.axes, a.shape) * centered


class LogSumExp(Function):
    """out = log(sum(exp(a))) computed as m + log(sum(exp(a - m))), m = max(a);
    da = g * exp(a - out)  (the softmax of a)."""

    @staticmethod
    def forward(ctx, a, axes=(), keepdim=False):
        xp = backend.get_array_module(a)
        shift = a.max(axis=axes, keepdims=True)
        shift = xp.where(xp.isfinite(shift), shift, 0)
        out = xp.log(xp.exp(a - shift).sum(axis=axes, keepdims=True)) + shift
        out = out if keepdim else out.squeeze(axis=axes)
        ctx.save_for_backward(a, out)
        ctx.axes = axes
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved
        xp = backend.get_array_module(a)
        return kept_dims(grad, ctx.axes, a.shape) * xp.exp(a - kept_dims(out, ctx.axes, a.shape))

    @staticmethod
    def graph_backward(ctx, grad):
        """The same formula on Tensors (for gradients of gradients)."""
        a, out = ctx.saved
        return kept_dims(grad, ctx.axes, a.shape) * exp(a - kept_dims(out, ctx.axes, a.shape))


def _check_nonempty(op, a, axes):
    if 0 in (a.shape[axis] for axis in axes) or (a.ndim == 0 and a.numel() == 0):
        raise ValueError(f"{op}: cannot reduce an empty dimension, got shape {a.shape}")


def _summable(op, a, dtype):
    """``a`` cast to ``dtype`` if given, else bool and integers as int64 (torch's sum, prod, cumsum)."""
    (a,) = promote_operands(op, a)
    if dtype is not None:
        return a.to(dtype)
    return a if backend.is_floating(a.dtype) else a.to("int64")


@accepts_numpy_names
def sum(a, dim=None, keepdim=False):
    """Sum over ``dim`` (all by default).  Bool and int tensors sum to int64, as in PyTorch."""
    a = _summable("sum", a, None)
    return Sum.apply(a, axes=normalize_dims("sum", dim, a.ndim), keepdim=keepdim)


def _along_one_element(fn, a, dim, *args, **kwargs):
    """``fn`` along ``dim`` of a 0-d tensor: it is one element along dim 0, as in torch."""
    normalize_dim(fn.__name__, dim, 0)
    return reshape(fn(reshape(a, (1,)), 0, *args, **kwargs), ())


@accepts_numpy_names
def prod(a, dim=None, keepdim=False, *, dtype=None):
    """Product of all elements, or along one ``dim``; bool and int tensors give int64."""
    a = _summable("prod", a, dtype)
    if dim is None:
        return Prod.apply(reshape(a, (-1,)), axis=0)
    if a.ndim == 0:
        return _along_one_element(prod, a, dim)
    return Prod.apply(a, axis=normalize_dim("prod", dim, a.ndim), keepdim=keepdim)


@accepts_numpy_names
def cumsum(a, dim=None, *, dtype=None):
    """Running sum along ``dim`` (required, as torch): out[i] = a[0] + ... + a[i]; bool and int
    tensors give int64."""
    if dim is None:
        raise TypeError("cumsum: dim is required (an int)")
    a = _summable("cumsum", a, dtype)
    if a.ndim == 0:
        return _along_one_element(cumsum, a, dim)
    return CumSum.apply(a, axis=normalize_dim("cumsum", dim, a.ndim))


def _logical_reduction(op, a, dim, keepdim):
    """numpy's ``all`` or ``any`` (``op``) over ``dim``."""
    (a,) = promote_operands(op, a)
    out = getattr(a.xp, op)(a.array, axis=normalize_dims(op, dim, a.ndim), keepdims=keepdim)
    return Tensor(out.astype(a.dtype if a.dtype == "uint8" else bool))


@accepts_numpy_names
def all(a, dim=None, keepdim=False):
    """True where every element (over ``dim``, all by default) is non-zero; a bool tensor
    (uint8 for uint8 input, as torch)."""
    return _logical_reduction("all", a, dim, keepdim)


@accepts_numpy_names
def any(a, dim=None, keepdim=False):
    """True where some element (over ``dim``, all by default) is non-zero; a bool tensor
    (uint8 for uint8 input, as torch)."""
    return _logical_reduction("any", a, dim, keepdim)


@accepts_numpy_names
def mean(a, dim=None, keepdim=False):
    """Arithmetic mean over ``dim`` (all by default)."""
    a = as_floating_tensor("mean", a)
    return Mean.apply(a, axes=normalize_dims("mean", dim, a.ndim), keepdim=keepdim)


def _extreme(op, a, dim, keepdim, largest):
    (a,) = promote_operands(op, a)
    if dim is None:
        axes = normalize_dims(op, None, a.ndim)
        _check_nonempty(op, a, axes)
        return Extreme.apply(a, axes=axes, keepdim=False, largest=largest)
    axis = normalize_dim(op, dim, a.ndim)
    if a.ndim == 0:  # a 0-d tensor is its own extreme, at index 0
        values, indices = _extreme(op, reshape(a, (1,)), 0, False, largest)
        return MaxMin(reshape(values, ()), indices)
    _check_nonempty(op, a, (axis,))
    values, indices = ExtremeAlongDim.apply(a, axis=axis, keepdim=keepdim, largest=largest)
    return MaxMin(values, indices)


@accepts_numpy_names
def max(a, dim=None, keepdim=False):
    """The largest element; with ``dim``, the named tuple ``(values, indices)`` along it."""
    return _extreme("max", a, dim, keepdim, largest=True)


@accepts_numpy_names
def min(a, dim=None, keepdim=False):
    """The smallest element; with ``dim``, the named tuple ``(values, indices)`` along it."""
    return _extreme("min", a, dim, keepdim, largest=False)


def _extreme_values(op, a, dim, keepdim, largest):
    (a,) = promote_operands(op, a)
    axes = normalize_dims(op, dim, a.ndim)
    _check_nonempty(op, a, axes)
    return Extreme.apply(a, axes=axes, keepdim=keepdim, largest=largest)


@accepts_numpy_names
def amax(a, dim=None, keepdim=False):
    """Largest values over ``dim`` (one or several axes); ties share the gradient evenly."""
    return _extreme_values("amax", a, dim, keepdim, largest=True)


@accepts_numpy_names
def amin(a, dim=None, keepdim=False):
    """Smallest values over ``dim`` (one or several axes); ties share the gradient evenly."""
    return _extreme_values("amin", a, dim, keepdim, largest=False)


def _arg_extreme(op, a, dim, keepdim, largest):
    (a,) = promote_operands(op, a)
    data = a.array
    if dim is None:
        data, axis = data.reshape(-1), 0
    else:
        axis = normalize_dim(op, dim, a.ndim)
    _check_nonempty(op, Tensor(data), (axis,) if data.ndim else ())
    find = data.argmax if largest else data.argmin
    return Tensor(find(axis=axis, keepdims=keepdim and dim is not None).astype("int64"))


@accepts_numpy_names
def argmax(a, dim=None, keepdim=False):
    """Index of the largest element (over the flattened tensor when ``dim`` is None)."""
    return _arg_extreme("argmax", a, dim, keepdim, largest=True)


@accepts_numpy_names
def argmin(a, dim=None, keepdim=False):
    """Index of the smallest element (over the flattened tensor when ``dim`` is None)."""
    return _arg_extreme("argmin", a, dim, keepdim, largest=False)


def _correction(op, dim, correction, unbiased):
    """(dim, correction) from torch's two spellings: ``correction=`` (n - correction divides) or
    the older ``unbiased=`` (True: n - 1, False: n), also as the only positional argument."""
    if isinstance(dim, bool):  # x.var(False): torch's var(input, unbiased) overload
        dim, unbiased = None, dim if unbiased is None else unbiased
    if correction is not None and unbiased is not None:
        raise TypeError(f"{op}: got both correction= and unbiased=; pass only one")
    if correction is None:
        correction = 1 if unbiased is None else int(unbiased)
    return dim, correction


@accepts_numpy_names
def var(a, dim=None, correction=None, keepdim=False, *, unbiased=None):
    """Variance over ``dim``; ``correction=1`` (the default, or ``unbiased=True``) divides by
    n - 1 (Bessel), 0 (``unbiased=False``) by n."""
    a = as_floating_tensor("var", a)
    dim, correction = _correction("var", dim, correction, unbiased)
    return Var.apply(a, axes=normalize_dims("var", dim, a.ndim), correction=correction, keepdim=keepdim)


@accepts_numpy_names
def std(a, dim=None, correction=None, keepdim=False, *, unbiased=None):
    """Standard deviation: sqrt(var)."""
    return sqrt(var(a, dim, correction, keepdim, unbiased=unbiased))


@accepts_numpy_names
def logsumexp(a, dim, keepdim=False):
    """log(sum(exp(a))) over ``dim`` (required, as torch), without overflow."""
    if dim is None:
        raise TypeError("logsumexp: dim is required (an int or a tuple of ints)")
    a = as_floating_tensor("logsumexp", a)
    return LogSumExp.apply(a, axes=normalize_dims("logsumexp", dim, a.ndim), keepdim=keepdim)
