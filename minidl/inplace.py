"""In-place operations (``x.add_(y)``, ``x += y``, ``x[i] = v``) with PyTorch's rules.

An in-place method is a thin twin of an out-of-place op: ``x.mul_(y)`` computes ``x * y`` with
the ordinary op, writes the result into x's own array and returns x itself.  The rules:

1. Not recording (inside ``no_grad``, as in an optimizer update, or nothing requires grad):
   that is all.  The array changes, every view of it sees the change, and the tensor's
   version counter goes up by one (see ``versions.py``).
2. Recording, a leaf that requires grad may not be changed in place (PyTorch's error): its
   ``.grad`` would no longer belong to the value it holds.
3. Otherwise the write is recorded: the op runs on a copy of the old value and x takes over
   the op's ``grad_fn``, so gradients flow back through the old value as they should.  On a
   view (``x[0].mul_(2)``) the write is also recorded into the view's base as an ``Overwrite``.
4. The result must fit x: broadcasting may not change x's shape, and a result whose dtype
   cannot be cast to x's (a float result into an int tensor) raises.
"""
import numpy as np

from minidl.grad_mode import is_grad_enabled
from minidl.ops import overwrite
from minidl.ops.shape import unwrap_index
from minidl.tensor import Tensor
from minidl.versions import bump, refresh_views


def is_recorded(tensor, *args, **kwargs):
    """True when an in-place op on ``tensor`` with these operands must go into the graph."""
    if not is_grad_enabled():
        return False
    operands = (tensor, *args, *kwargs.values())
    return any(isinstance(x, Tensor) and x.requires_grad for x in operands)


def apply_inplace(tensor, op_name, function, *args, **kwargs):
    """``function(tensor, *args, **kwargs)`` written into ``tensor``; returns ``tensor``."""
    if not is_recorded(tensor, *args, **kwargs):
        write(tensor, op_name, function(tensor, *args, **kwargs))
        return tensor
    _check_may_record(tensor, op_name)
    result = fit(tensor, op_name, function(_old_value(tensor), *args, **kwargs))
    base = tensor._base
    if base is not None:
        new_base = overwrite.overwrite_view(base, result, tensor._view_replay)
        _take_over_graph(base, new_base)
        tensor._view_grad_fn = base.grad_fn
    write(tensor, op_name, result)
    _take_over_graph(tensor, result)
    return tensor


def write(tensor, op_name, result):
    """Copy ``result`` (a Tensor, array or number of ``tensor``'s shape) into ``tensor``'s array
    and count the write."""
    if isinstance(result, Tensor):
        result = fit(tensor, op_name, result).array
    _write_at(tensor, op_name, ..., result)


def setitem(tensor, index, value):
    """``tensor[index] = value``: recorded as an ``Overwrite`` when it must be, else a plain write."""
    if is_recorded(tensor, value):
        return apply_inplace(tensor, "setitem", overwrite.setitem, index, value)
    _write_at(tensor, "setitem", unwrap_index(index), overwrite.value_like("setitem", tensor, value).array)
    return tensor


def _write_at(tensor, op_name, index, values):
    """``tensor.array[index] = values``, counted as one in-place write."""
    if not getattr(tensor.array.flags, "writeable", True):  # a NumPy broadcast (expand) view
        raise RuntimeError(
            f"{op_name}: cannot write into this tensor of shape {tuple(tensor.shape)} in place: "
            "several of its elements share one memory location (an expand() view?); clone() it first"
        )
    try:
        tensor.array[index] = values
    except (IndexError, ValueError) as error:
        raise type(error)(f"{op_name}: cannot write into a tensor of shape {tuple(tensor.shape)}: {error}") from None
    bump(tensor)


def fit(tensor, op_name, result):
    """Check that ``result`` can be written into ``tensor``; cast it (differentiably) to its dtype."""
    if tuple(result.shape) != tuple(tensor.shape):
        raise RuntimeError(
            f"{op_name}: output with shape {tuple(tensor.shape)} doesn't match the broadcast shape "
            f"{tuple(result.shape)}"
        )
    if not np.can_cast(result.dtype, tensor.dtype, casting="same_kind"):
        raise RuntimeError(
            f"{op_name}: result type {result.dtype} can't be cast to the desired output type {tensor.dtype}"
        )
    return result if result.dtype == tensor.dtype else result.to(tensor.dtype)


def _check_may_record(tensor, op_name):
    base = tensor if tensor._base is None else tensor._base
    if base.is_leaf and base.requires_grad:
        what = "a leaf tensor" if base is tensor else "a view of a leaf tensor"
        raise RuntimeError(
            f"{op_name}: {what} that requires grad (shape {tuple(base.shape)}) is being used in an "
            "in-place operation; change parameters inside `with md.no_grad():` (as an optimizer "
            "does), or use an out-of-place op (w = w + 1)"
        )
    refresh_views((tensor,))


def _old_value(tensor):
    """A stand-in for the value before the write: a copy of the array, in the same place of the
    graph (the op may save it for backward, and the original is about to be overwritten)."""
    old = Tensor._from_op(tensor.array.copy(), tensor.grad_fn, tensor.output_index)
    old._requires_grad = tensor._requires_grad
    return old


def _take_over_graph(tensor, result):
    """From now on ``tensor`` is ``result`` in the graph (a ``retain_grad`` request moves along)."""
    node = tensor.grad_fn
    retained = node is not None and node.retained.get(tensor.output_index) is tensor
    if retained:
        del node.retained[tensor.output_index]
    tensor.grad_fn, tensor.output_index = result.grad_fn, result.output_index
    if retained:
        tensor.retain_grad()
