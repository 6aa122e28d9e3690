"""``md.keras.utils``: ``to_categorical`` (class labels to one-hot rows), ``get_file`` (a download
cache) and ``Sequence`` (batches served by index), at the paths Keras gives them."""
import numpy as np

from minidl.keras.downloads import get_file  # noqa: F401  (md.keras.utils.get_file, as in Keras)
from minidl.keras.sequence_data import Sequence  # noqa: F401  (md.keras.utils.Sequence, as in Keras)


def to_categorical(y, num_classes=None, dtype="float32"):
    """An array (n, num_classes) with a 1 in column ``y[i]`` of row i; ``num_classes`` defaults
    to the largest label plus one."""
    y = np.asarray(y, dtype=np.int64).ravel()
    num_classes = int(y.max()) + 1 if num_classes is None else num_classes
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must lie in [0, {num_classes - 1}], got {y.min()}..{y.max()}")
    return np.eye(num_classes, dtype=dtype)[y]
