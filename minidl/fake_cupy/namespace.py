"""The stand-ins for the rest of CuPy's top-level names, made from NumPy's namesakes."""
import numpy as np

from minidl.fake_cupy.device_array import device_function, ufunc
from minidl.fake_cupy.names import cupy_names


def stand_in_for(name):
    """``cupy.<name>``: NumPy's ufunc or function on device arrays, or NumPy's own object for
    dtypes, ``finfo`` and constants (CuPy uses those too).  AttributeError for a name CuPy lacks."""
    if f"cupy.{name}" not in cupy_names():
        raise AttributeError(f"module 'cupy' has no attribute {name!r}")
    if not hasattr(np, name):
        raise AttributeError(f"the CuPy stand-in does not provide cupy.{name}")
    numpy_value = getattr(np, name)
    if isinstance(numpy_value, np.ufunc):
        return ufunc(numpy_value)
    if callable(numpy_value) and not isinstance(numpy_value, type):
        return device_function(numpy_value)
    return numpy_value
