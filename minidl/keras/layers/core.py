"""Dense, Activation, Dropout and Embedding with Keras's arguments and initial values."""
from minidl import nn
from minidl.keras import activations, initializers, regularizers
from minidl.keras.config import serialize
from minidl.keras.layers.base import Layer, copy_into
from minidl.keras.layers.kernel import KernelLayer


class Dense(KernelLayer):
    """``activation(x @ kernel + bias)`` on the last axis, with ``units`` outputs: kernel
    (in, units) in Keras's layout, starting Glorot-uniform; bias zero."""

    kernel_axes = (1, 0)

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                         bias_regularizer, **kwargs)
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"{self.name}: units must be a positive integer, got {units!r}")
        self.units = units

    @property
    def module(self):
        return self.linear

    def build(self, input_shape):
        self.linear = nn.Linear(input_shape[-1], self.units, bias=self.use_bias)
        self.initialize()

    def accepts(self, shape):
        return len(shape) >= 2 and shape[-1] == self.built_input_shape[-1]

    def call(self, x):
        return self.linear(x)

    def get_config(self):
        return self.base_config(units=self.units, **self.kernel_config())


class Activation(Layer):
    """Only an activation: ``Activation("relu")``."""

    def __init__(self, activation, **kwargs):
        if activation is None:
            raise ValueError(f"Activation: expected one of {', '.join(activations.ACTIVATIONS)}, got None")
        super().__init__(activation, **kwargs)

    def call(self, x):
        return x

    def get_config(self):
        return self.base_config()


class Dropout(Layer):
    """In training, zero a fraction ``rate`` of the values (and scale the rest by 1 / (1 - rate))."""

    def __init__(self, rate, **kwargs):
        super().__init__(None, **kwargs)
        self.rate = rate
        self.dropout = nn.Dropout(rate)

    def call(self, x):
        return self.dropout(x)

    def get_config(self):
        return self.base_config(rate=self.rate)


class Embedding(Layer):
    """Token ids (batch, T) -> vectors (batch, T, output_dim), from a table (input_dim,
    output_dim) starting as U(-0.05, 0.05) (Keras's ``"uniform"``).  ``input_length`` gives the
    model its input shape."""

    input_dtype = "int"

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 input_length=None, **kwargs):
        if input_length is not None:
            kwargs.setdefault("input_shape", (input_length,))
        super().__init__(None, **kwargs)
        self.input_dim, self.output_dim, self.input_length = input_dim, output_dim, input_length
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)

    def build(self, input_shape):
        self.embedding = nn.Embedding(self.input_dim, self.output_dim)
        self.assign_keras_weights([self.embeddings_initializer((self.input_dim, self.output_dim))])
        self.regularize(self.embedding.weight, self.embeddings_regularizer)

    def call(self, x):
        largest = int(x.array.max()) if x.array.size else 0
        if largest >= self.input_dim:
            raise ValueError(
                f"{self.name}: token ids must be below input_dim={self.input_dim}, got {largest}; "
                "make input_dim the vocabulary size (the largest id + 1)"
            )
        return self.embedding(x)

    def keras_weights(self):
        return [self.embedding.weight.numpy()]

    def assign_keras_weights(self, arrays):
        copy_into(self.embedding.weight, arrays[0])

    def get_config(self):
        return self.base_config(input_dim=self.input_dim, output_dim=self.output_dim,
                                embeddings_initializer=serialize(self.embeddings_initializer),
                                embeddings_regularizer=serialize(self.embeddings_regularizer),
                                input_length=self.input_length)
