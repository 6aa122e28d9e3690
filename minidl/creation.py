"""Tensor factories: zeros ones full arange rand randn and their ``_like`` forms."""
import numpy as np

from minidl import backend
from minidl.tensor import Tensor


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


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor of ``size`` filled with ``fill_value``."""
    return _make(np.full(tuple(size), fill_value), dtype, device, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False):
    """Samples of the standard normal distribution, from minidl's generator."""
    return _make(backend.get_rng().standard_normal(_shape(size)), dtype, device, requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False):
    """Samples of the uniform distribution on [0, 1), from minidl's generator."""
    return _make(backend.get_rng().random(_shape(size)), dtype, device, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Evenly spaced values in [start, end); integers give int64, as in PyTorch."""
    values = np.arange(start, end, step) if end is not None else np.arange(start)
    if dtype is None:
        dtype = np.int64 if values.dtype.kind in "iu" else backend.get_default_dtype()
    return _make(values, dtype, device, requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    return zeros(t.shape, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    return ones(t.shape, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, requires_grad=False):
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)
