"""``keras.Input(shape=...)``: the shape (and dtype) of one sample, where a model starts.

    inputs = keras.Input(shape=(16,))                      # KerasTensor, shape (None, 16)
    outputs = layers.Dense(4)(layers.Dense(8, activation="relu")(inputs))
    model = keras.Model(inputs, outputs)                   # the functional API

    model = keras.Sequential([keras.Input(shape=(28, 28, 1)), layers.Conv2D(32, 3), ...])

``Input`` returns a ``KerasTensor`` (a placeholder with ``shape == (None, 16)``), made by an
``InputLayer``, as in Keras; ``InputLayer(shape=...)`` is the same declaration written as a layer.
A functional model lists its InputLayers in ``model.layers`` (with no weights); a Sequential
model does not.
"""
from minidl.keras import symbolic
from minidl.keras.keras_tensor import KerasTensor
from minidl.keras.layers.base import Layer


def batch_shape_of(caller, shape, batch_size, batch_shape):
    """The full shape (batch axis first) from Keras's ``shape=``/``batch_size=`` or ``batch_shape=``."""
    if (shape is None) == (batch_shape is None):
        raise ValueError(f"{caller}: give exactly one of shape= (one sample's shape) or batch_shape=")
    if batch_shape is not None:
        return tuple(batch_shape)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return (batch_size,) + shape


class InputLayer(Layer):
    """The input declaration as a layer: ``InputLayer(shape=(784,))`` (Keras 2's
    ``input_shape=`` is accepted too).  ``output`` is its ``KerasTensor``, the output of its one
    node (a call on nothing); it has no weights."""

    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None, name=None, input_shape=None):
        super().__init__(None, name=name)
        shape = input_shape if shape is None else shape
        self.batch_shape = batch_shape_of("InputLayer", shape, batch_size, batch_shape)
        self.dtype = dtype
        self.output = KerasTensor(self.batch_shape, dtype, self.name)
        symbolic.record(self, (), {}, [self.output])
        self.built, self.built_input_shape = True, self.batch_shape
        self.built_output_shape = self.batch_shape

    def call(self, x):
        return x

    def get_config(self):
        return {"batch_shape": self.batch_shape, "dtype": self.dtype, "name": self.name}


def Input(shape=None, batch_size=None, dtype=None, batch_shape=None, name=None):
    """A ``KerasTensor`` declaring one sample's ``shape`` (e.g. ``(28, 28, 1)``)."""
    return InputLayer(shape, batch_size, dtype, batch_shape, name).output
