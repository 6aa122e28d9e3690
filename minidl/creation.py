"""Tensor factories: zeros ones empty full arange linspace eye rand randn randint randperm and
their ``_like`` forms; tensors from existing data: from_numpy as_tensor."""
import numbers

import numpy as np

from minidl import backend
from minidl.tensor import Tensor, as_array


def _shape(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(size[0])
    return tuple(size)


def _make(array, dtype, device, requires_grad):
    dtype = backend.get_default_dtype() if dtype is None else np.dtype(dtype)
    return Tensor(backend.to_device(array.astype(dtype, copy=False), device or "cpu"), requires_grad=requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of zeros: ``md.zeros(2, 3)`` or ``md.zeros((2, 3))``."""
    return _make(np.zeros(_shape(size)), dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of ones."""
    return _make(np.ones(_shape(size)), dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of ``size`` whose values you are about to overwrite (torch leaves them
    uninitialised; here they are zeros)."""
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor of ``size`` filled with ``fill_value``."""
    return _make(np.full(tuple(size), fill_value), dtype, device, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False):
    """Samples of the standard normal distribution, from minidl's generator."""
    return _make(backend.get_rng().standard_normal(_shape(size)), dtype, device, requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False):
    """Samples of the uniform distribution on [0, 1), from minidl's generator."""
    return _make(backend.get_rng().random(_shape(size)), dtype, device, requires_grad)


def randint(low=0, high=None, size=None, *, dtype=None, device=None, requires_grad=False):
    """Random integers drawn uniformly from [low, high), int64 by default:
    ``md.randint(10, (3,))`` or ``md.randint(5, 10, (3,))``."""
    if size is None:  # randint(high, size)
        low, high, size = 0, low, high
    if size is None or high is None:
        raise TypeError("randint: expected randint(high, size) or randint(low, high, size)")
    if low >= high:
        raise ValueError(f"randint: low must be less than high, got low={low} and high={high}")
    values = backend.get_rng().integers(low, high, size=tuple(size))
    return _make(values, np.int64 if dtype is None else dtype, device, requires_grad)


def randperm(n, *, dtype=np.int64, device=None, requires_grad=False):
    """A random permutation of 0, 1, ..., n - 1 (int64 by default)."""
    if not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"randperm: n must be a non-negative int, got {n!r}")
    return _make(backend.get_rng().permutation(n), dtype, device, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Evenly spaced values in [start, end); integers give int64, as in PyTorch."""
    values = np.arange(start, end, step) if end is not None else np.arange(start)
    if dtype is None:
        dtype = np.int64 if values.dtype.kind in "iu" else backend.get_default_dtype()
    return _make(values, dtype, device, requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end``, both included.  As torch: the
    step is (end - start) / (steps - 1) in the result's dtype (float64 for integer results,
    which are then truncated); the first half counts up from start, the second half down from
    end, so both ends are exact."""
    if not isinstance(steps, numbers.Integral) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative int, got {steps!r}")
    dtype = backend.get_default_dtype() if dtype is None else np.dtype(dtype)
    if dtype.kind not in "iuf":
        raise TypeError(f"linspace: dtype must be an integer or floating dtype, got {dtype}")
    step_dtype = dtype if dtype.kind == "f" else np.dtype(np.float64)
    start, end = (step_dtype.type(dtype.type(float(v))) for v in (start, end))
    if steps == 1:
        return _make(np.array([start]), dtype, device, requires_grad)
    step = (end - start) / step_dtype.type(steps - 1)
    i = np.arange(steps, dtype=step_dtype)
    values = np.where(i < steps // 2, start + step * i, end - step * (steps - 1 - i))
    return _make(values, dtype, device, requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    """The identity matrix: ``n`` x ``m`` (``m`` = ``n`` by default), ones on the diagonal."""
    for name, size in (("n", n), ("m", n if m is None else m)):
        if not isinstance(size, numbers.Integral):
            raise TypeError(f"eye: {name} must be an int, got {type(size).__name__}")
        if size < 0:
            raise ValueError(f"eye: {name} must be greater than or equal to 0, got {size}")
    return _make(np.eye(n, m), dtype, device, requires_grad)


def from_numpy(ndarray):
    """A tensor sharing memory with the NumPy array ``ndarray`` (writes show in both) and keeping
    its dtype."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(ndarray).__name__}")
    if ndarray.dtype.kind not in "biuf":
        raise TypeError(f"from_numpy: unsupported dtype {ndarray.dtype}; expected booleans, integers or floats")
    return Tensor(ndarray)


def as_tensor(data, *, dtype=None, device=None):
    """``data`` as a tensor, without copying when it can: a Tensor of the asked dtype and device
    comes back as it is (else converted with ``.to``, on the graph), an array of that dtype is
    shared; lists and numbers are copied (Python floats become the default dtype)."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    return Tensor(as_array(data, dtype, device))


def zeros_like(t, dtype=None, requires_grad=False):
    return zeros(t.shape, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    return ones(t.shape, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, requires_grad=False):
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)
