"""Several arrays of samples as one array of rows, the way md.train's loop can carry them: it
moves one input tensor per batch to the model and gathers one output tensor.  So ``fit`` and
``predict`` of a model with several inputs (or outputs) put each sample's arrays side by side,
flattened, in one float64 row (exact for float32 values and for token ids), and the model cuts
the rows apart again:

    packing = Packing([(16,), (4, 8)], [None, "int64"])
    rows = packing.pack([x1, x2])               # (n, 16 + 32) float64
    x1_again, x2_again = packing.unpack(rows)   # Tensors (n, 16) of the default dtype, (n, 4, 8) int64
"""
import math

import numpy as np

from minidl import backend, nn
from minidl.tensor import Tensor


class Packing:
    """The layout of the rows: each part's sample shape and dtype (None: the default float
    dtype when unpacking), in order."""

    def __init__(self, sample_shapes, dtypes):
        self.sample_shapes = [tuple(shape) for shape in sample_shapes]
        self.dtypes = list(dtypes)
        self.ends = np.cumsum([math.prod(shape) for shape in self.sample_shapes]).tolist()

    @property
    def width(self):
        return self.ends[-1]

    def fits(self, rows):
        """Whether ``rows`` (an array or Tensor) are rows of this layout."""
        return rows.ndim == 2 and rows.shape[1] == self.width and rows.dtype == np.float64

    def pack(self, arrays):
        """One (n, width) float64 array from the parts (each of n samples)."""
        return np.concatenate([np.reshape(a, (len(a), -1)).astype(np.float64) for a in arrays], axis=1)

    def unpack(self, rows):
        """The parts of ``rows`` (a Tensor or array, on any device) as Tensors of their shapes and dtypes."""
        array = rows.array if isinstance(rows, Tensor) else rows
        starts = [0] + self.ends[:-1]
        return [Tensor(array[:, start:end].reshape((len(array),) + shape).astype(dtype or backend.get_default_dtype()))
                for start, end, shape, dtype in zip(starts, self.ends, self.sample_shapes, self.dtypes)]


class PackedOutputs(nn.Module):
    """``model`` with its several outputs packed into one Tensor of rows (for ``md.train.predict``);
    ``packing`` is their layout, known after the first call."""

    def __init__(self, model):
        super().__init__()
        self.model, self.packing = model, None

    def forward(self, x):
        outputs = [output.numpy() for output in self.model(x)]
        self.packing = Packing([output.shape[1:] for output in outputs], [output.dtype for output in outputs])
        return Tensor(self.packing.pack(outputs))
