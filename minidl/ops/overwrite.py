"""Writing into part of a tensor, out of place: the op behind ``x[index] = value`` and behind
in-place changes of a view (``x[0].mul_(2)`` writes into ``x``).

``Overwrite`` returns a copy of ``a`` whose elements at a *place* are replaced by ``value``.
A place knows how to read and write those elements in any array of ``a``'s shape:
``IndexPlace`` for ``array[index]``, ``ViewPlace`` for the elements a view looks at.
"""
from minidl import backend
from minidl.autograd import Function
from minidl.ops.shape import GetItem, advanced_parts_to_integers, unwrap_index
from minidl.tensor import Tensor, as_array


class IndexPlace:
    """The elements ``array[index]`` (slices, ints, integer arrays)."""

    def __init__(self, index):
        self.index = index

    def read(self, array):
        return array[self.index]

    def read_recorded(self, tensor):
        """The same elements of a Tensor, as a recorded op."""
        return GetItem.apply(tensor, index=self.index)

    def write(self, array, values):
        array[self.index] = values


class ViewPlace:
    """The elements a view looks at: ``replay(array)`` takes the same view of another array."""

    def __init__(self, replay):
        self.replay = replay

    def read(self, array):
        return self.replay(array)

    def read_recorded(self, tensor):
        """The same elements of a Tensor, through the recorded view ops."""
        return self.replay.on(tensor)

    def write(self, array, values):
        self.replay(array)[...] = values


class Overwrite(Function):
    """out = a with the elements at ``place`` replaced by ``value`` (broadcast);
    da = g with those elements set to 0,  dvalue = g at those elements (summed to value's shape)."""

    @staticmethod
    def forward(ctx, a, value, place=None):
        ctx.place, ctx.value_ndim = place, value.ndim
        out = a.copy()
        place.write(out, value)
        return out

    @staticmethod
    def backward(ctx, grad):
        grad_a = None
        if ctx.needs_input_grad[0]:
            grad_a = grad.copy()
            ctx.place.write(grad_a, 0)
        return grad_a, _value_shaped(ctx, ctx.place.read(grad))

    @staticmethod
    def graph_backward(ctx, grad):
        """The same on Tensors: da is g overwritten with 0 (an Overwrite itself), dvalue is g read
        at the place by recorded ops (for gradients of gradients)."""
        grad_a = None
        if ctx.needs_input_grad[0]:
            zero = Tensor(grad.xp.zeros((), dtype=grad.dtype))
            grad_a = Overwrite.apply(grad, zero, place=ctx.place)
        return grad_a, _value_shaped(ctx, ctx.place.read_recorded(grad))


def _value_shaped(ctx, grad_value):
    """The gradient read at the place with the value's number of dims: NumPy lets a value carry
    extra leading 1s (the engine sums the rest of the broadcast away)."""
    missing = ctx.value_ndim - grad_value.ndim
    return grad_value.reshape((1,) * missing + tuple(grad_value.shape)) if missing > 0 else grad_value


def value_like(op, a, value):
    """``value`` (a Tensor, array or number) as a Tensor of ``a``'s dtype on ``a``'s device;
    a Tensor is cast and moved differentiably."""
    if isinstance(value, Tensor):
        return value.to(a.dtype).to(a.device)
    try:
        return Tensor(as_array(value, dtype=a.dtype, device=a.device))
    except (TypeError, ValueError) as error:
        raise TypeError(f"{op}: expected a Tensor, array or number as the value, got {type(value).__name__}: {error}") from None


def setitem(a, index, value):
    """A copy of ``a`` with ``a[index] = value`` (``value`` broadcasts); differentiable in both.

    ``x[index] = value`` on a tensor is the in-place form (see ``minidl/inplace.py``).
    """
    value = value_like("setitem", a, value)
    index = advanced_parts_to_integers(unwrap_index(index), backend.get_array_module(a.array))
    try:
        return Overwrite.apply(a, value, place=IndexPlace(index))
    except (IndexError, ValueError) as error:
        raise type(error)(
            f"setitem: cannot assign a value of shape {tuple(value.shape)} at this index of a tensor of "
            f"shape {tuple(a.shape)}: {error}"
        ) from None


def overwrite_view(base, value, replay):
    """A copy of ``base`` with the elements that ``replay`` views replaced by ``value``."""
    return Overwrite.apply(base, value_like("overwrite_view", base, value), place=ViewPlace(replay))
