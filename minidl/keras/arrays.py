"""NumPy arrays in, batches out: how ``fit``, ``evaluate`` and ``predict`` read Keras-style data."""
import numpy as np

from minidl import backend
from minidl.data import DataLoader, TensorDataset


def as_inputs(caller, x, dtype):
    """``x`` as an array the first layer can read: the default float dtype, or int64 token ids
    (``dtype="int"``)."""
    given, x = type(x).__name__, np.asarray(x)
    if x.dtype.hasobject or x.ndim == 0:
        raise TypeError(
            f"{caller}: x must be a NumPy array (samples on the first axis), a generator or a keras.utils.Sequence, "
            f"got {given} of dtype {x.dtype}"
        )
    return x.astype(np.int64 if dtype == "int" else backend.get_default_dtype(), copy=False)


def split_off_validation(x, y, fraction):
    """``(x_train, y_train), (x_val, y_val)``: as Keras, the validation part is the last
    ``fraction`` of the samples, taken before any shuffling."""
    if not 0 < fraction < 1:
        raise ValueError(f"fit: validation_split must be in [0, 1), got {fraction}")
    cut = len(x) - int(len(x) * fraction)
    if cut in (0, len(x)):
        raise ValueError(f"fit: validation_split={fraction} of {len(x)} samples leaves one part empty")
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def batches(x, y, batch_size, shuffle=False):
    """A DataLoader of ``(x, y)`` batches."""
    if len(x) != len(y):
        raise ValueError(f"fit: x and y must have the same number of samples, got {len(x)} and {len(y)}")
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle)
