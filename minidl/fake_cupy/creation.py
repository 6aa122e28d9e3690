"""Copies between host and device: ``cupy.asarray``, ``cupy.array``, ``cupy.asnumpy``."""
import numpy as np

from minidl.fake_cupy.device_array import ndarray
from minidl.fake_cupy.transfers import record_to_device


def asarray(a, dtype=None, order=None):
    """``a`` as a device array: stand-in arrays as they are (cast if ``dtype``), host data copied."""
    if isinstance(a, ndarray):
        return a if dtype is None else a.astype(dtype, copy=False)
    record_to_device()
    return ndarray._from_host(np.array(a, dtype=dtype, order=order or "K"))


def array(obj, dtype=None, copy=True, order="K", ndmin=0):
    """A new device array from a device array (copied on the device) or host data (copied over)."""
    if isinstance(obj, ndarray):
        return ndarray._from_host(np.array(obj._host, dtype=dtype, copy=copy, order=order, ndmin=ndmin))
    record_to_device()
    return ndarray._from_host(np.array(obj, dtype=dtype, order=order, ndmin=ndmin))


def asnumpy(a, stream=None, order="C", out=None):
    """A host copy of a device array (other data as ``numpy.asarray`` gives it)."""
    if isinstance(a, ndarray):
        return a.get(order=order, out=out)
    return np.asarray(a, order=order)
