"""``to_categorical``: class labels to one-hot rows, for ``categorical_crossentropy``."""
import numpy as np


def to_categorical(y, num_classes=None, dtype="float32"):
    """An array (n, num_classes) with a 1 in column ``y[i]`` of row i; ``num_classes`` defaults
    to the largest label plus one."""
    y = np.asarray(y, dtype=np.int64).ravel()
    num_classes = int(y.max()) + 1 if num_classes is None else num_classes
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must lie in [0, {num_classes - 1}], got {y.min()}..{y.max()}")
    return np.eye(num_classes, dtype=dtype)[y]
