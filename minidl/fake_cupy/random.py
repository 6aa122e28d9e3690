"""``cupy.random`` stand-in: what minidl uses, ``default_rng(seed).random(size)``, drawn "on the
device" (NumPy's generator behind it; no copy to the device is counted, as CuPy draws there)."""
import numpy as np

from minidl.fake_cupy.device_array import ndarray


class Generator:
    """CuPy's ``Generator``: uniform floats in [0, 1) as device arrays."""

    def __init__(self, seed=None):
        self._numpy = np.random.default_rng(seed)

    def random(self, size=None, dtype=np.float64, out=None):
        values = self._numpy.random(size, dtype=dtype)
        if out is None:
            return ndarray._from_host(np.asarray(values))
        out._host[...] = values
        return out


def default_rng(seed=None):
    """A new ``Generator`` seeded with ``seed``, as ``cupy.random.default_rng``."""
    return Generator(seed)
