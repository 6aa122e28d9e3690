"""Version counters and views: how minidl notices in-place changes that would spoil a gradient.

An op often saves an input or its output for backward (``Mul`` keeps ``a`` and ``b``, ``Exp``
keeps ``e^a``).  If that array is overwritten in place before ``backward()``, the gradient
would be computed from the wrong numbers.  So, as in PyTorch:

- every Tensor has a ``VersionCounter``; each in-place write adds 1 to it;
- a tensor that shares its array with another (a view such as ``x[0]``, ``x.T``,
  ``x.reshape(...)``, or ``x.detach()``) shares its counter too;
- when an op is recorded it notes the version of every tensor whose array it saved, and
  backward compares: a different version raises, naming the op and the tensor's shape.

A view also remembers which tensor it looks into (``_base``) and how it was taken from it
(``_view_replay``): an in-place op on the view is recorded as a write into the base, and a view
whose base was rewritten in place has its graph rebuilt before it is used again.
"""
import types

from minidl import backend


class VersionCounter:
    """The number of in-place writes into one array (shared by every tensor viewing it)."""

    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


def bump(tensor):
    """Count one in-place write into ``tensor``'s array (and so into every view of it)."""
    tensor._version_counter.value += 1


class SavedVersion:
    """The version a saved tensor had when an op saved it, to compare at backward."""

    __slots__ = ("counter", "version", "shape")

    def __init__(self, tensor):
        self.counter = tensor._version_counter
        self.version = tensor._version_counter.value
        self.shape = tuple(tensor.shape)

    def check(self, op_name):
        if self.counter.value != self.version:
            raise RuntimeError(
                f"{op_name}: one of the variables needed for gradient computation has been "
                f"modified by an inplace operation: the tensor of shape {self.shape} that "
                f"{op_name} saved is at version {self.counter.value}; expected version "
                f"{self.version} instead. Modify a copy (y = x + 1 instead of x += 1, or "
                "x.clone()) so the saved values stay as they were."
            )


def _holds(saved_array, data):
    """True when ``saved_array`` is ``data`` or a view into the same memory."""
    if saved_array is data:
        return True
    if getattr(saved_array, "base", None) is None:
        return False
    return backend.get_array_module(data).may_share_memory(saved_array, data)


def saved_versions(saved_arrays, tensors):
    """A ``SavedVersion`` for every tensor (an op's inputs and outputs) whose array was saved."""
    saved_arrays = [a for a in saved_arrays if a is not None]
    return tuple(
        SavedVersion(t) for t in tensors if any(_holds(array, t.array) for array in saved_arrays)
    )


class ViewReplay:
    """How a view was taken from its base: ``replay(array)`` takes the same view of ``array``
    by running the view op's forward again (after the replays of the views it was taken from)."""

    def __init__(self, function, options, parent):
        self.function, self.options, self.parent = function, options, parent

    def __call__(self, array):
        if self.parent is not None:
            array = self.parent(array)
        return self.function.forward(types.SimpleNamespace(), array, **self.options)  # a scratch ctx

    def on(self, base):
        """The same view taken of the tensor ``base`` through the view ops, so it is recorded."""
        source = base if self.parent is None else self.parent.on(base)
        return self.function.apply(source, **self.options)


def mark_view(out, source, function, options):
    """Record that ``out`` (made by the view op ``function`` from ``source``) looks into
    ``source``'s array, when it really does (NumPy copies for some reshapes and indexes)."""
    xp = backend.get_array_module(out.array)
    if not xp.may_share_memory(out.array, source.array):
        return
    out._base = source if source._base is None else source._base
    out._version_counter = source._version_counter
    out._view_replay = ViewReplay(function, options, source._view_replay)
    out._view_grad_fn = out._base.grad_fn


def refresh_views(tensors):
    """Rebuild the graph of every view whose base was rewritten in place by a recorded op since
    the view was taken (as PyTorch does): the view already shows the new numbers, and now its
    gradient flows to the new base too."""
    for tensor in tensors:
        base = tensor._base
        if base is not None and base.grad_fn is not tensor._view_grad_fn:
            fresh = tensor._view_replay.on(base)
            tensor.grad_fn, tensor.output_index = fresh.grad_fn, fresh.output_index
            tensor._view_grad_fn = base.grad_fn
