"""``md.cuda``: torch's questions about the GPU, answered through CuPy (see ``backend.py``)."""
from minidl import backend


def is_available():
    """True when CuPy is installed and a kernel really runs on a GPU."""
    return backend.cupy_usable()


def device_count():
    """How many GPUs CuPy sees (0 without a usable one)."""
    if not is_available():
        return 0
    return backend._import_cupy().cuda.runtime.getDeviceCount()
