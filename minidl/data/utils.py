"""Two small helpers every ``md.data`` module needs: NumPy arrays from what users pass in, and
random generators from seeds."""
import numpy as np

from minidl import backend
from minidl.tensor import Tensor


def as_numpy(value):
    """``value`` (a Tensor, NumPy/CuPy array, number or nested list) as a NumPy array, on the CPU."""
    if isinstance(value, Tensor):
        return value.numpy()
    if backend.is_cupy_array(value):
        return value.get()
    return np.asarray(value)


def generator(seed):
    """A ``numpy.random.Generator``: ``np.random.default_rng(seed)`` for an int (or a Generator,
    returned as it is), and minidl's global generator (``md.manual_seed``) for None."""
    return backend.get_rng() if seed is None else np.random.default_rng(seed)
