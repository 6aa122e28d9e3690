"""Merging layers: ``Add()([x1, x2, ...])``, the elementwise sum of a list of tensors (a residual
connection: ``Add()([x, block(x)])``).

A ``Sequential`` feeds each layer one tensor, so merging layers live in functional models
(``keras.Model(inputs, outputs)``) or are called directly on tensors.
"""
import functools

import numpy as np

from minidl import backend
from minidl import functional as F
from minidl.keras.layers.base import Layer
from minidl.tensor import Tensor


class Add(Layer):
    """x1 + x2 + ... for a list (or tuple) of tensors of one shape; sizes of 1 broadcast, as Keras."""

    def __init__(self, **kwargs):
        super().__init__(None, **kwargs)

    def forward(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{self.name}: A merge layer should be called on a list of inputs. "
                             f"Received: inputs={type(inputs).__name__} of shape {getattr(inputs, 'shape', None)} "
                             "(not a list of tensors)")
        if not inputs:
            raise ValueError(f"{self.name}: A merge layer should be called on a list of at least 1 input. Got 0 inputs.")
        tensors = [x if isinstance(x, Tensor) else Tensor(np.asarray(x, backend.get_default_dtype())) for x in inputs]
        shapes = [tuple(x.shape) for x in tensors]
        try:
            np.broadcast_shapes(*shapes)
        except ValueError:
            raise ValueError(f"{self.name}: Inputs have incompatible shapes. Received shapes "
                             f"{', '.join(map(str, shapes))}") from None
        self.built = True
        return functools.reduce(F.add, tensors)

    def get_config(self):
        return self.base_config()
