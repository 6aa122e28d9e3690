"""A CuPy stand-in for tests: NumPy arrays behind a "device" array type of their own.

With ``MINIDL_FAKE_CUDA=1`` set before ``import minidl``, ``backend`` uses this module as CuPy,
so device ``"cuda"`` works on a machine without a GPU.  It exposes only names CuPy has (see
``names``; ``count_transfers`` is its one addition), keeps device arrays apart from NumPy's as
CuPy does (``device_array``), and counts the copies between host and device::

    with fake_cupy.count_transfers() as copies:
        loss.backward()
    assert copies.to_host == 0

What it cannot show: speed, streams and asynchrony, memory limits, CUDA compilation, dtype
corner cases where CuPy and NumPy differ, and CuPy functions that NumPy lacks.
"""
from minidl.fake_cupy import cuda, cupyx, namespace, random
from minidl.fake_cupy.creation import array, asarray, asnumpy
from minidl.fake_cupy.device_array import ndarray, ufunc
from minidl.fake_cupy.transfers import count_transfers


def __getattr__(name):
    """``cupy.<name>`` for the other names CuPy has (made on first use, then kept)."""
    value = namespace.stand_in_for(name)
    globals()[name] = value
    return value
