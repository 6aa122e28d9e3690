"""Dense, Activation, Flatten, Dropout and Embedding with Keras's arguments."""
from minidl import functional as F
from minidl import nn
from minidl.keras import activations, regularizers
from minidl.keras.layers.base import Layer


class Dense(Layer):
    """``activation(x W^T + b)`` on the last axis, with ``units`` outputs.  Keras's initial
    values: Glorot-uniform weights and zero biases.  ``input_dim=n`` is ``input_shape=(n,)``."""

    def __init__(self, units, activation=None, use_bias=True, kernel_regularizer=None, input_shape=None,
                 input_dim=None):
        if input_shape is None and input_dim is not None:
            input_shape = (input_dim,)
        super().__init__(activation, input_shape)
        self.units, self.use_bias = units, use_bias
        self.kernel_regularizer = regularizers.get(kernel_regularizer)

    def build(self, input_shape):
        self.linear = nn.Linear(input_shape[-1], self.units, bias=self.use_bias)
        glorot_with_zero_bias(self.linear)
        self.regularize(self.linear.weight, self.kernel_regularizer)

    def call(self, x):
        return self.linear(x)


def glorot_with_zero_bias(module):
    """Keras's default initial values: ``weight`` Glorot-uniform, ``bias`` (if any) zero."""
    nn.init.xavier_uniform_(module.weight)
    if module.bias is not None:
        nn.init.zeros_(module.bias)


class Activation(Layer):
    """Only an activation: ``Activation("relu")``."""

    def __init__(self, activation, input_shape=None):
        if activation is None:
            raise ValueError(f"Activation: expected one of {', '.join(activations.ACTIVATIONS)}, got None")
        super().__init__(activation, input_shape)

    def call(self, x):
        return x


class Flatten(Layer):
    """(batch, d1, d2, ...) -> (batch, d1 * d2 * ...), in the stored order: for channels-last
    images (H, W, C) the channels vary fastest, as in Keras."""

    def __init__(self, input_shape=None):
        super().__init__(None, input_shape)

    def call(self, x):
        return F.flatten(x, 1)


class Dropout(Layer):
    """In training, zero a fraction ``rate`` of the values (and scale the rest by 1 / (1 - rate))."""

    def __init__(self, rate, input_shape=None):
        super().__init__(None, input_shape)
        self.dropout = nn.Dropout(rate)

    def call(self, x):
        return self.dropout(x)


class Embedding(Layer):
    """Token ids (batch, T) -> vectors (batch, T, output_dim), from a table of ``input_dim`` rows
    starting as U(-0.05, 0.05) as in Keras.  ``input_length`` gives the model its input shape."""

    input_dtype = "int"

    def __init__(self, input_dim, output_dim, input_length=None, embeddings_regularizer=None, input_shape=None):
        if input_shape is None and input_length is not None:
            input_shape = (input_length,)
        super().__init__(None, input_shape)
        self.embedding = nn.Embedding(input_dim, output_dim)
        nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
        self.regularize(self.embedding.weight, regularizers.get(embeddings_regularizer))

    def call(self, x):
        return self.embedding(x)
