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


def synchronize():
    """Wait until the GPU has finished all work queued so far (time GPU code with it: a call
    returns before its kernels have run).  Raises DeviceError without a usable GPU, as torch does."""
    backend.check_device("cuda")
    backend._import_cupy().cuda.Device().synchronize()
