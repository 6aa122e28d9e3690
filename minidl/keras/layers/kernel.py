"""KernelLayer: Dense and Conv2D, a kernel and an optional bias with Keras's initializers and
regularizers, kept in an ``md.nn`` module in PyTorch's layout.

Keras's kernel is PyTorch's weight with its axes reordered by ``kernel_axes``:

    Dense   weight (units, in)            -> kernel (in, units)              kernel_axes (1, 0)
    Conv2D  weight (filters, in, kh, kw)  -> kernel (kh, kw, in, filters)    kernel_axes (2, 3, 1, 0)
"""
import numpy as np

from minidl.keras import initializers, regularizers
from minidl.keras.config import serialize
from minidl.keras.layers.base import Layer, copy_into


class KernelLayer(Layer):
    """Subclasses set ``kernel_axes`` and make their ``md.nn`` module in ``build``, then call
    ``initialize()``; ``module`` is that module (with ``weight`` and ``bias``)."""

    kernel_axes = None

    def __init__(self, activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                 bias_regularizer, **kwargs):
        super().__init__(activation, **kwargs)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    @property
    def module(self):
        raise NotImplementedError

    def initialize(self):
        """Keras's initial values (from the initializers, in Keras's layout) and the penalties."""
        weight, bias = self.module.weight, self.module.bias
        kernel_shape = tuple(weight.shape[axis] for axis in self.kernel_axes)
        initial = [self.kernel_initializer(kernel_shape)]
        if bias is not None:
            initial.append(self.bias_initializer(tuple(bias.shape)))
        self.assign_keras_weights(initial)
        self.regularize(weight, self.kernel_regularizer)
        if bias is not None:
            self.regularize(bias, self.bias_regularizer)

    def keras_weights(self):
        weight, bias = self.module.weight, self.module.bias
        kernel = weight.numpy().transpose(self.kernel_axes)
        return [kernel] if bias is None else [kernel, bias.numpy()]

    def assign_keras_weights(self, arrays):
        copy_into(self.module.weight, np.transpose(arrays[0], np.argsort(self.kernel_axes)))
        if self.module.bias is not None:
            copy_into(self.module.bias, arrays[1])

    def kernel_config(self):
        """The settings every kernel layer saves."""
        return dict(use_bias=self.use_bias, kernel_initializer=serialize(self.kernel_initializer),
                    bias_initializer=serialize(self.bias_initializer),
                    kernel_regularizer=serialize(self.kernel_regularizer),
                    bias_regularizer=serialize(self.bias_regularizer))
