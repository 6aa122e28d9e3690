"""Where arrays live: NumPy on the CPU or CuPy on a CUDA device.

This is the only module that imports CuPy, and it does so lazily: ``import minidl`` never
touches the GPU.  Everything above this file asks ``get_array_module(array)`` for the array
module (called ``xp`` by convention) and writes its code once against it.

It also keeps the two pieces of global state a user may change: the default floating dtype
(``set_default_dtype`` / ``default_dtype``) and the random generator (``manual_seed``).
"""
import contextlib
import numbers
import os

import numpy as np

DEVICES = ("cpu", "cuda")

# MINIDL_FAKE_CUDA=1: device "cuda" is backed by ``minidl.fake_cupy``, a NumPy-based CuPy
# stand-in for tests on machines without a GPU (read once, here)
FAKE_CUDA = os.environ.get("MINIDL_FAKE_CUDA") == "1"
# the modules whose array types live on a device
_DEVICE_ARRAY_MODULES = ("cupy", "minidl.fake_cupy") if FAKE_CUDA else ("cupy",)

_cupy = None
_cupy_unusable_reason = None  # None: not checked yet; "": usable; else why not


class DeviceError(ValueError):
    """Raised for an unknown device or for tensors on different devices in one op."""


def _import_cupy():
    """Return the cupy module (or its stand-in under MINIDL_FAKE_CUDA=1), or None when it is
    not installed."""
    global _cupy
    if _cupy is None:
        try:
            if FAKE_CUDA:
                from minidl import fake_cupy as cupy
            else:
                import cupy
        except ImportError:
            _cupy = False
        else:
            _cupy = cupy
    return _cupy or None


def cupy_unusable_reason():
    """Why device "cuda" cannot be used ("" when it can): CuPy missing, or the error raised by
    a tiny kernel launch (importing cupy succeeds on machines without a GPU, so we launch one
    and synchronize).  The answer is cached."""
    global _cupy_unusable_reason
    if _cupy_unusable_reason is None:
        try:
            cupy = _import_cupy()
            if cupy is None:
                import cupy  # noqa: F401  (fails again, with the ImportError that says why)
            if int(cupy.arange(3).sum()) != 3:
                raise RuntimeError("a test kernel (arange(3).sum()) gave a wrong result")
            cupy.cuda.Device().synchronize()
        except Exception as error:  # any import/CUDA/driver error means the device is not usable
            _cupy_unusable_reason = f"{type(error).__name__}: {error}"
        else:
            _cupy_unusable_reason = ""
    return _cupy_unusable_reason


def cupy_usable():
    """True when CuPy is installed *and* a kernel really runs on a device (see
    ``cupy_unusable_reason``)."""
    return cupy_unusable_reason() == ""


def is_array(value):
    """True for a NumPy or CuPy array (not for Python numbers or lists)."""
    return isinstance(value, np.ndarray) or is_cupy_array(value)


def is_cupy_array(array):
    """True for a CuPy array (or, under MINIDL_FAKE_CUDA=1, a stand-in device array)."""
    return type(array).__module__.startswith(_DEVICE_ARRAY_MODULES)


def get_array_module(array):
    """The array module of ``array``: ``cupy`` for CuPy arrays, ``numpy`` for everything else."""
    return _import_cupy() if is_cupy_array(array) else np


def device_of(array):
    """``"cuda"`` for a CuPy array, ``"cpu"`` otherwise."""
    return "cuda" if is_cupy_array(array) else "cpu"


def check_device(device):
    """Normalise a device (``"cpu"``, ``"cuda"``, ``"cuda:N"`` or an ``md.device``, read by its
    ``str()``) to ``"cpu"`` or ``"cuda"``.

    minidl computes on CuPy's current device, so ``"cuda:N"`` is accepted only for the current
    device's N (select another GPU with ``cupy.cuda.Device(N).use()``), never silently ignored.
    """
    name, _, index = str(device).partition(":")
    if name not in DEVICES or (index and not index.isdigit()):
        raise DeviceError(f"unknown device {device!r}: expected 'cpu', 'cuda' or 'cuda:N'")
    if name == "cuda" and not cupy_usable():
        reason = cupy_unusable_reason()
        raise DeviceError(f"device 'cuda' requested but CuPy is not installed or no GPU is usable: {reason}")
    if name == "cuda" and index:
        current = _import_cupy().cuda.Device().id
        if int(index) != current:
            raise DeviceError(
                f"device {str(device)!r}: minidl computes on the current CUDA device (cuda:{current}); "
                f"select GPU {index} first with cupy.cuda.Device({index}).use()"
            )
    return name


def split_device_and_dtype(args, device=None, dtype=None):
    """Sort the positional arguments of ``.to(...)`` into a device (a name or an ``md.device``,
    whose ``str()`` is its name) and a dtype."""
    for arg in args:
        if str(arg).split(":")[0] in DEVICES:
            device = arg
        else:
            dtype = arg
    return device, dtype


def array_module_for(device):
    """The array module that stores arrays on ``device``."""
    return _import_cupy() if check_device(device) == "cuda" else np


def to_device(array, device):
    """Copy ``array`` to ``device`` (no copy when it is already there)."""
    device = check_device(device)
    if device_of(array) == device:
        return array
    if device == "cuda":
        return _import_cupy().asarray(array)
    return array.get()


def scatter_add(target, index, values):
    """``target[index] += values`` where repeated indices accumulate (in place).  A basic index
    (ints, slices, None, ...) names every position once, so plain ``+=`` is exact there, and far
    faster than ``add.at``, which only integer and boolean arrays need."""
    if is_basic_index(index):
        target[index] += values
    else:
        get_array_module(target).add.at(target, index, values)


def is_basic_index(index):
    """Whether ``index`` is made of ints, slices, None and Ellipsis only (each position once)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(
        part is None or part is Ellipsis or isinstance(part, slice)
        or (isinstance(part, numbers.Integral) and not isinstance(part, bool))
        for part in parts
    )


def erf(array):
    """The error function, elementwise (SciPy on the CPU, CuPy's SciPy twin on the GPU)."""
    if is_cupy_array(array):
        cupyx = _import_cupyx()
        return cupyx.scipy.special.erf(array)
    import scipy.special

    return scipy.special.erf(array)


def _import_cupyx():
    """The cupyx module with ``cupyx.scipy.special`` loaded (its stand-in under MINIDL_FAKE_CUDA=1)."""
    if FAKE_CUDA:
        from minidl.fake_cupy import cupyx
    else:
        import cupyx.scipy.special
    return cupyx


# ----------------------------------------------------------------------------- dtypes
_default_dtype = np.dtype(np.float32)


def get_default_dtype():
    """The dtype given to tensors made from Python floats (float32 unless changed)."""
    return _default_dtype


def set_default_dtype(dtype):
    """Set the default floating dtype: ``float32`` or ``float64``."""
    global _default_dtype
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"set_default_dtype: expected float32 or float64, got {dtype}")
    _default_dtype = dtype


@contextlib.contextmanager
def default_dtype(dtype):
    """Context manager: ``with md.default_dtype("float64"): ...``."""
    previous = get_default_dtype()
    set_default_dtype(dtype)
    try:
        yield
    finally:
        set_default_dtype(previous)


def is_floating(dtype):
    return np.dtype(dtype).kind == "f"


def promote_types(*dtypes):
    """The result dtype of an op on these dtypes, following PyTorch.

    Unlike NumPy, mixing an integer or bool tensor with a floating one keeps the floating
    dtype (int64 + float32 -> float32, where NumPy says float64).
    """
    floats = [np.dtype(d) for d in dtypes if is_floating(d)]
    if floats:
        return np.result_type(*floats)
    return np.result_type(*dtypes)


# ----------------------------------------------------------------------------- random
_rng = np.random.default_rng()


def manual_seed(seed):
    """Seed minidl's random generator (initialisation, dropout, ``randn`` ...)."""
    global _rng
    _rng = np.random.default_rng(seed)


def get_rng():
    """minidl's random generator: a ``numpy.random.Generator``.

    Random numbers are drawn on the CPU and then moved, so a seed gives the same numbers
    on every device; the exception is dropout's mask on a GPU, drawn there by a CuPy generator
    seeded from this one (see ``ops/dropout.py``), so a seed repeats runs but not the CPU's masks.
    """
    return _rng
