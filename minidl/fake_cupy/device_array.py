"""The stand-in's device array: a NumPy array kept behind a type of its own, so that host and
"device" arrays refuse to mix the way CuPy's do.

Every operation unwraps the stand-in arrays among its arguments, calls NumPy, and wraps the
array results again.  A NumPy array given where CuPy would need a device array raises CuPy's
TypeError; the explicit copies (``.get()``, ``.item()``, ``float()``, ``cupy.asarray(host)``,
a host index array) are counted by ``transfers``.
"""
import numbers

import numpy as np

from minidl.fake_cupy.names import cupy_names
from minidl.fake_cupy.transfers import record_to_device, record_to_host

IMPLICIT_CONVERSION = (
    "Implicit conversion to a NumPy array is not allowed. "
    "Please use `.get()` to construct a NumPy array explicitly."
)
# ndarray attributes NumPy has but that would hand out host memory (CuPy's are device objects)
NOT_PROVIDED = {"data", "flat", "cstruct", "mdspan", "reduced_view", "toDlpack", "dump", "dumps"}
# ndarray methods that copy the data to the host
HOST_COPY_METHODS = {"item", "tolist", "tobytes", "tofile"}


def unsupported(value):
    return TypeError(f"Unsupported type {type(value)}")


def is_scalar(value):
    """A Python or NumPy scalar: what CuPy's kernels take besides device arrays."""
    return isinstance(value, (numbers.Number, np.generic))


def device_value(value):
    """The NumPy array behind a stand-in array; scalars, dtypes, axes ... unchanged; sequences
    item by item.  A NumPy array is refused: CuPy never copies one to the device implicitly."""
    if isinstance(value, ndarray):
        return value._host
    if isinstance(value, np.ndarray):
        raise unsupported(value)
    if isinstance(value, (list, tuple)):
        return type(value)(device_value(v) for v in value)
    return value


def index_value(index):
    """An index for the NumPy array behind: CuPy copies host index arrays and lists to the device
    (counted here) and takes device arrays, slices, ints, None and Ellipsis as they are."""
    if isinstance(index, tuple):
        return tuple(index_value(part) for part in index)
    if isinstance(index, ndarray):
        return index._host
    if isinstance(index, (np.ndarray, list)):
        record_to_device()
        return np.asarray(index)
    return index


def host_array(value):
    """The NumPy array behind a stand-in array (other values unchanged), without a copy: for
    Numba's CUDA simulator, which takes NumPy arrays as device arrays."""
    return value._host if isinstance(value, ndarray) else value


def is_advanced(index):
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, (ndarray, np.ndarray, list, bool, np.bool_)) for p in parts)


def wrap(result):
    """NumPy's result as CuPy gives it: arrays and NumPy scalars become device arrays (CuPy's
    reductions return 0-d arrays, not scalars); tuples and lists item by item."""
    if isinstance(result, (np.ndarray, np.generic)):
        return ndarray._from_host(np.asarray(result))
    if isinstance(result, (list, tuple)):
        return type(result)(wrap(r) for r in result)
    return result


# parameters that CuPy reads on the host, where a NumPy array is fine: (position, keyword)
HOST_PARAMETERS = {"split": (1, "indices_or_sections"), "array_split": (1, "indices_or_sections")}
# functions that give a Python number in NumPy but a 0-d device array in CuPy
DEVICE_SCALAR_RESULTS = {"count_nonzero"}


def device_function(numpy_function):
    """``numpy_function`` taking and returning stand-in arrays."""
    name = getattr(numpy_function, "__name__", "")
    host_position, host_keyword = HOST_PARAMETERS.get(name, (None, None))

    def call(*args, **kwargs):
        args = [arg if i == host_position else device_value(arg) for i, arg in enumerate(args)]
        kwargs = {key: arg if key == host_keyword else device_value(arg) for key, arg in kwargs.items()}
        with np.errstate(all="ignore"):  # CuPy never warns about floating-point errors
            result = numpy_function(*args, **kwargs)
        return wrap(np.asarray(result) if name in DEVICE_SCALAR_RESULTS else result)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"CuPy stand-in for numpy.{name}."
    return call


class ndarray:
    """A CuPy array stand-in: ``cupy.ndarray(shape, dtype)`` allocates one (uninitialised)."""

    __slots__ = ("_host",)

    def __init__(self, shape, dtype=float):
        self._host = np.empty(shape, dtype)

    @classmethod
    def _from_host(cls, array):
        self = object.__new__(cls)
        self._host = array
        return self

    def __getattr__(self, name):
        if f"cupy.ndarray.{name}" not in cupy_names():
            raise AttributeError(f"'cupy.ndarray' object has no attribute {name!r}")
        if name in NOT_PROVIDED or not hasattr(self._host, name):
            raise AttributeError(f"the CuPy stand-in does not provide cupy.ndarray.{name}")
        if name in HOST_COPY_METHODS:
            record_to_host()
        value = getattr(self._host, name)
        return device_function(value) if callable(value) else wrap(value)

    # ------------------------------------------------------------------ explicit copies to host
    def get(self, stream=None, order="C", out=None, blocking=True):
        """A host (NumPy) copy, as ``cupy.ndarray.get``."""
        record_to_host()
        if out is None:
            return np.array(self._host, order=order)
        out[...] = self._host
        return out

    def __bool__(self):
        record_to_host()
        return bool(self._host)

    def __float__(self):
        record_to_host()
        return float(self._host)

    def __int__(self):
        record_to_host()
        return int(self._host)

    def __complex__(self):
        record_to_host()
        return complex(self._host)

    def __repr__(self):
        record_to_host()
        return repr(self._host)

    def __str__(self):
        record_to_host()
        return str(self._host)

    def __format__(self, spec):
        record_to_host()
        return format(self._host, spec)

    # ------------------------------------------------------------------ what CuPy refuses
    def __array__(self, dtype=None, copy=None):
        raise TypeError(IMPLICIT_CONVERSION)

    def __array_ufunc__(self, numpy_ufunc, method, *inputs, **kwargs):
        """``numpy.add(x, y)`` with a stand-in array: CuPy's ufunc of the same name, which
        refuses NumPy array operands."""
        from minidl import fake_cupy

        own = getattr(fake_cupy, numpy_ufunc.__name__, None)
        if not isinstance(own, ufunc):
            return NotImplemented
        if "out" in kwargs:
            (kwargs["out"],) = kwargs["out"]
        return getattr(own, method)(*inputs, **kwargs)

    def __array_function__(self, numpy_function, types, args, kwargs):
        """``numpy.concatenate(...)`` with a stand-in array: CuPy's function of the same name."""
        from minidl import fake_cupy

        own = getattr(fake_cupy, numpy_function.__name__, None)
        if own is None or numpy_function.__module__ != "numpy":
            return NotImplemented
        return own(*args, **kwargs)

    # ------------------------------------------------------------------ container protocol
    @property
    def device(self):
        from minidl.fake_cupy.cuda import Device

        return Device(0)

    def __len__(self):
        return len(self._host)

    def __iter__(self):
        if self._host.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self._host)))

    def __getitem__(self, index):
        return wrap(self._host[index_value(index)])

    def __setitem__(self, index, value):
        if isinstance(value, (np.ndarray, list)):
            if is_advanced(index):  # CuPy copies the values to the device
                record_to_device()
            elif np.ndim(value):  # basic indexing fills with a scalar only
                raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
            value = np.asarray(value)
        elif not is_scalar(value):
            value = device_value(value)
        self._host[index_value(index)] = value


def _operator(ufunc_name, swap=False, in_place=False):
    """The method behind an operator: the stand-in's ufunc on (self, other)."""

    def method(self, *other):
        from minidl import fake_cupy

        function = getattr(fake_cupy, ufunc_name)
        if in_place:
            function(self, *other, out=self)
            return self
        return function(*other, self) if swap else function(self, *other)

    method.__name__ = ufunc_name
    return method


BINARY_OPERATORS = {
    "add": "add", "sub": "subtract", "mul": "multiply", "truediv": "true_divide", "floordiv": "floor_divide",
    "mod": "remainder", "pow": "power", "matmul": "matmul", "and": "bitwise_and", "or": "bitwise_or",
    "xor": "bitwise_xor", "lshift": "left_shift", "rshift": "right_shift", "divmod": "divmod",
}
for _short, _name in BINARY_OPERATORS.items():
    setattr(ndarray, f"__{_short}__", _operator(_name))
    setattr(ndarray, f"__r{_short}__", _operator(_name, swap=True))
    if _short != "divmod":
        setattr(ndarray, f"__i{_short}__", _operator(_name, in_place=True))
for _short, _name in {"eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal", "gt": "greater",
                      "ge": "greater_equal", "neg": "negative", "pos": "positive", "abs": "absolute",
                      "invert": "invert"}.items():
    setattr(ndarray, f"__{_short}__", _operator(_name))
ndarray.__hash__ = None


class ufunc:
    """A CuPy ufunc stand-in around a NumPy ufunc: operands must be device arrays or scalars."""

    SCATTER_DTYPES = {  # the dtypes CuPy's atomic scatter kernels take (ufunc.at)
        "add": ("int32", "float16", "float32", "float64", "uint32", "uint64"),
        "subtract": ("int32", "float16", "float32", "float64", "uint32", "uint64"),
        "maximum": ("int32", "float32", "float64", "uint32", "uint64"),
        "minimum": ("int32", "float32", "float64", "uint32", "uint64"),
    }

    def __init__(self, numpy_ufunc):
        self._numpy = numpy_ufunc
        self.__name__ = numpy_ufunc.__name__
        self.name = f"cupy_{numpy_ufunc.__name__}"
        self.nin, self.nout, self.nargs = numpy_ufunc.nin, numpy_ufunc.nout, numpy_ufunc.nargs

    def __repr__(self):
        return f"<ufunc '{self.name}'>"

    def __call__(self, *operands, out=None, **kwargs):
        for operand in operands:
            if not (isinstance(operand, ndarray) or is_scalar(operand)):
                raise unsupported(operand)
        if out is not None and not isinstance(out, ndarray):
            raise unsupported(out)
        kwargs = {name: device_value(value) for name, value in kwargs.items()}
        if out is not None:
            kwargs["out"] = out._host
        with np.errstate(all="ignore"):  # CuPy never warns about floating-point errors
            result = self._numpy(*device_value(operands), **kwargs)
        return out if out is not None else wrap(result)

    def at(self, a, indices, b=None):
        """``a[indices] op= b`` with repeated indices accumulated, as CuPy's scatter kernels."""
        if self.__name__ not in self.SCATTER_DTYPES:
            raise NotImplementedError(f"`{self.name}.at` is not supported yet")
        if a.dtype.name not in self.SCATTER_DTYPES[self.__name__]:
            raise TypeError(f"scatter_{self.__name__}: dtype {a.dtype} is not supported by CuPy's atomic kernels")
        if isinstance(b, (np.ndarray, list)):  # copied to the device, as CuPy does
            record_to_device()
        else:
            b = device_value(b)
        self._numpy.at(a._host, index_value(indices), b)

    def reduce(self, array, axis=0, dtype=None, out=None, keepdims=False):
        if self.__name__ not in ("add", "multiply"):
            raise NotImplementedError(f"`{self.name}.reduce` is not supported yet")
        return wrap(self._numpy.reduce(device_value(array), axis=axis, dtype=dtype, keepdims=keepdims))

    def accumulate(self, array, axis=0, dtype=None, out=None):
        if self.__name__ not in ("add", "multiply"):
            raise NotImplementedError(f"`{self.name}.accumulate` is not supported yet")
        return wrap(self._numpy.accumulate(device_value(array), axis=axis, dtype=dtype))

    def outer(self, a, b, **kwargs):
        return wrap(self._numpy.outer(device_value(a), device_value(b), **kwargs))
