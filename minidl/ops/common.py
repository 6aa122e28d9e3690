"""Helpers shared by the op families: operand conversion, dtype promotion, dim checking, and the
few places where NumPy and CuPy differ (floating-point warnings, reading values on the device)."""
import contextlib
import functools
import inspect
import numbers

import numpy as np

from minidl import backend
from minidl.config import config
from minidl.tensor import Tensor


def _scalar_dtype(value):
    """The dtype PyTorch gives a Python number taking part in an op with tensors."""
    if isinstance(value, bool):
        return np.dtype(np.bool_)
    if isinstance(value, numbers.Integral):
        return np.dtype(np.int64)
    return backend.get_default_dtype()


def _combine_categories(higher, lower):
    """PyTorch's rule: a lower-priority operand only matters if it is of a higher category
    (bool < integer < floating)."""
    if higher is None:
        return lower
    if lower is None or backend.is_floating(higher):
        return higher
    if higher == np.bool_ or backend.is_floating(lower):
        return backend.promote_types(higher, lower)
    return higher


def result_type(*operands):
    """The dtype of an op's result, as ``torch.result_type``.

    Tensors with dimensions decide first, then 0-d tensors, then Python numbers; a lower tier
    only changes the result when it brings a higher category: ``float32 tensor * 2.5`` stays
    float32, ``int64 tensor * 2.5`` becomes the default float dtype.
    """
    tiers = {"dim": [], "zero": [], "scalar": []}
    for x in operands:
        if isinstance(x, Tensor):
            tiers["dim" if x.ndim > 0 else "zero"].append(x.dtype)
        else:
            tiers["scalar"].append(_scalar_dtype(x))
    dim, zero, scalar = (backend.promote_types(*d) if d else None for d in tiers.values())
    return _combine_categories(dim, _combine_categories(zero, scalar))


def check_operand(op, value):
    if isinstance(value, Tensor):
        return
    if isinstance(value, (np.ndarray, np.generic)) or backend.is_cupy_array(value):
        return
    if not isinstance(value, (numbers.Number, list, tuple)) or isinstance(value, complex):
        raise TypeError(f"{op}: expected a Tensor, array or real number, got {type(value).__name__}")


def to_tensor(value, dtype, device):
    """``value`` (a Tensor or a number) as a Tensor of ``dtype`` on ``device``; a Tensor of another
    dtype is cast differentiably, so its gradient comes back in its own dtype."""
    if isinstance(value, Tensor):
        return value if value.dtype == dtype else value.to(dtype)
    return Tensor(_scalar_array(value, dtype, device))


def _scalar_array(number, dtype, device):
    """A number as a 0-d array of ``dtype`` on ``device``.  On the GPU a fill kernel writes it there
    (the number travels as a kernel argument): building the array on the host and copying it over
    would cost one host->device copy for every ``x * 2``."""
    host = np.asarray(number, dtype=dtype)  # refuses a number the dtype cannot hold (300 as uint8)
    if device == "cpu":
        return host
    return backend.array_module_for(device).full((), number, dtype=dtype)


def promote_operands(op, *values):
    """Turn numbers and arrays into Tensors and cast all operands to their result type."""
    if all(isinstance(v, Tensor) for v in values) and len({v.dtype for v in values}) == 1:
        return list(values)  # the common case: nothing to convert
    for value in values:
        check_operand(op, value)
    values = [v if isinstance(v, (Tensor, numbers.Number)) else Tensor(v) for v in values]
    tensors = [v for v in values if isinstance(v, Tensor)]
    device = tensors[0].device if tensors else "cpu"
    dtype = result_type(*values)
    return [to_tensor(v, dtype, device) for v in values]


def elementwise_operands(op, *values):
    """``promote_operands`` plus a check that the shapes broadcast, with a message naming ``op``."""
    tensors = promote_operands(op, *values)
    if len({t.shape for t in tensors}) == 1:
        return tensors
    try:
        np.broadcast_shapes(*(t.shape for t in tensors))
    except ValueError:
        shapes = " and ".join(str(t.shape) for t in tensors)
        raise ValueError(f"{op}: shapes {shapes} do not broadcast (sizes must match or be 1)") from None
    return tensors


def option_array(op, name, value, like):
    """An array option of ``op`` (a class weight, a condition, indices) as an array on the device of
    the tensor ``like``.  A Tensor or array must already be there, as the op's inputs must
    (``Function.apply`` checks only those); a list or number is copied there."""
    array = value.array if isinstance(value, Tensor) else value
    if not backend.is_array(array):
        return like.xp.asarray(array)
    if backend.device_of(array) != like.device:
        raise backend.DeviceError(
            f"{op}: expected {name} on {like.device}, the device of the other tensors, got it on "
            f"{backend.device_of(array)}; move it with .to({like.device!r}) first"
        )
    return array


def float_errors_ignored(xp, **errors):
    """``with float_errors_ignored(xp, divide="ignore"):`` silences NumPy's warnings for the
    floating-point errors an op expects and handles (log(0) = -inf, the masked branch of a
    ``where``).  CuPy has no ``errstate`` and never warns, so for CuPy arrays this does nothing."""
    return np.errstate(**errors) if xp is np else contextlib.nullcontext()


def checks_values(array):
    """Whether to run a check that reads the values of ``array`` (an index in range, a probability
    in [0, 1]): always for NumPy arrays; for CuPy arrays only with ``md.config.check_device_values``,
    since reading a GPU value waits for the device and copies it to the host."""
    return not backend.is_cupy_array(array) or config.check_device_values


def floating(x):
    """Integer and bool tensors become the default float dtype (``exp`` of an int tensor)."""
    return x if backend.is_floating(x.dtype) else x.to(backend.get_default_dtype())


def as_floating_tensor(op, x):
    """Check that ``x`` is a Tensor and make it floating."""
    if not isinstance(x, Tensor):
        check_operand(op, x)
        x = Tensor(x)
    return floating(x)


def normalize_dims(op, dim, ndim):
    """``dim`` (None, int or sequence, negatives allowed) as a tuple of axes; None means all."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
    bound = max(ndim, 1)
    axes = []
    for d in dims:
        if not isinstance(d, numbers.Integral) or not -bound <= d < bound:
            raise IndexError(
                f"{op}: dim {d!r} is out of range for a tensor with {ndim} dimensions "
                f"(expected an int in [{-bound}, {bound - 1}])"
            )
        axes.append(d % bound)
    if ndim == 0:
        return ()
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: dim {dim} repeats an axis")
    return tuple(sorted(axes))


def normalize_dim(op, dim, ndim):
    """A single ``dim`` as a non-negative axis."""
    if not isinstance(dim, numbers.Integral):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    axes = normalize_dims(op, dim, ndim)
    return axes[0] if axes else 0


def restore_reduced(grad, axes, keepdim):
    """Re-insert the reduced axes (size 1) into a gradient so it broadcasts against the input."""
    xp = backend.get_array_module(grad)
    return grad if keepdim else xp.expand_dims(grad, axes)


def accepts_numpy_names(reduction):
    """Let a reduction also take NumPy's ``axis=`` and ``keepdims=`` for ``dim=`` and ``keepdim=``,
    as torch does (``x.sum(axis=0, keepdims=True)``); giving both spellings is an error."""
    signature = inspect.signature(reduction)

    @functools.wraps(reduction)
    def with_numpy_names(*args, axis=None, keepdims=None, **kwargs):
        if axis is None and keepdims is None:
            return reduction(*args, **kwargs)
        arguments = signature.bind_partial(*args, **kwargs).arguments
        for name, alias, value, unset in (("dim", "axis", axis, None), ("keepdim", "keepdims", keepdims, False)):
            if value is None:
                continue
            if arguments.get(name, unset) is not unset:
                raise TypeError(f"{reduction.__name__}: got both {name}= and its NumPy alias {alias}=; pass only one")
            arguments[name] = value
        return reduction(**arguments)

    return with_numpy_names
