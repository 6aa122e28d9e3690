"""``keras.Input(shape=...)``: the shape (and dtype) of one sample, declared as the first entry of
a Sequential model instead of ``input_shape=`` on its first layer:

    model = keras.Sequential([keras.Input(shape=(28, 28, 1)), layers.Conv2D(32, 3), ...])

``Input`` returns a ``KerasTensor`` (a placeholder with ``shape == (None, 28, 28, 1)``), as in
Keras; ``InputLayer(shape=...)`` is the same declaration written as a layer.  Neither is counted in
``model.layers``.  (Keras's functional API, which calls layers on these placeholders, is not
implemented.)
"""
import numpy as np

from minidl.keras.backend import unique_name


class KerasTensor:
    """A symbolic input: its ``shape`` (batch axis first, None when free), ``dtype`` and ``name``."""

    def __init__(self, shape, dtype=None, name=None):
        self.shape, self.dtype, self.name = tuple(shape), dtype, name

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def input_dtype(self):
        """``"int"`` for integer inputs (token ids), ``"float"`` otherwise: how the model casts x."""
        return "int" if self.dtype is not None and np.issubdtype(np.dtype(self.dtype), np.integer) else "float"

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype or 'float32'}, name={self.name}>"


def batch_shape_of(caller, shape, batch_size, batch_shape):
    """The full shape (batch axis first) from Keras's ``shape=``/``batch_size=`` or ``batch_shape=``."""
    if (shape is None) == (batch_shape is None):
        raise ValueError(f"{caller}: give exactly one of shape= (one sample's shape) or batch_shape=")
    if batch_shape is not None:
        return tuple(batch_shape)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return (batch_size,) + shape


class InputLayer:
    """The input declaration as a layer: ``InputLayer(shape=(784,))`` (Keras 2's
    ``input_shape=`` is accepted too).  ``output`` is its ``KerasTensor``."""

    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None, name=None, input_shape=None):
        shape = input_shape if shape is None else shape
        self.name = name or unique_name("InputLayer")
        self.output = KerasTensor(batch_shape_of("InputLayer", shape, batch_size, batch_shape), dtype, self.name)


def Input(shape=None, batch_size=None, dtype=None, batch_shape=None, name=None):
    """A ``KerasTensor`` declaring one sample's ``shape`` (e.g. ``(28, 28, 1)``)."""
    return InputLayer(shape, batch_size, dtype, batch_shape, name).output
