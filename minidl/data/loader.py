"""DataLoader: a dataset cut into batches of Tensors, reshuffled every epoch."""
import math
import numbers

import numpy as np

from minidl.data.utils import generator
from minidl.tensor import Tensor


class DataLoader:
    """Iterate over ``dataset`` in batches: each batch is a tuple of Tensors, one per field of a
    sample (``for x, y in loader``), on the CPU, with the dtypes of the dataset's arrays.

    - ``shuffle=False``: samples in order.  ``shuffle=True``: every pass (epoch) draws a new
      permutation from one generator made at construction from ``seed``, so the same seed gives
      the same sequence of epochs; ``seed=None`` draws from minidl's global generator
      (``md.manual_seed``) instead.
    - ``drop_last=True`` drops a last batch smaller than ``batch_size``.
      ``len(loader)`` is the number of batches: ``ceil(n / batch_size)``, or ``floor`` with drop_last.
    - ``transform`` (e.g. an ``md.data.augment.Compose``) is called on the first array of each
      batch, the inputs, as a NumPy array; the other fields (labels) are left alone.

    Batches come from ``dataset.get_batch(indices)``: one fancy-indexing per array for a
    ``TensorDataset``.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None, transform=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: transform must be callable, got {type(transform).__name__}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.transform = transform
        # made once, so that epoch after epoch continues one random stream; None is looked up at
        # each epoch, so that md.manual_seed called after construction still counts
        self.rng = None if seed is None else np.random.default_rng(seed)

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        order = generator(self.rng).permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            fields = self.dataset.get_batch(order[start : start + self.batch_size])
            if self.transform is not None:
                fields = (self.transform(fields[0]),) + tuple(fields[1:])
            yield tuple(Tensor(field) for field in fields)
