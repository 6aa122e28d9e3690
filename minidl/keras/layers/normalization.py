"""BatchNormalization and LayerNormalization with Keras's arguments, defaults and weights.

Keras normalises along ``axis`` (the channels, last by default: channels-last images, Dense
outputs); the arithmetic is ``md.functional``'s fused normalisation ops.  Weights in Keras's
order: ``[gamma, beta]`` (each only with ``scale``/``center``), then BatchNormalization's
``[moving_mean, moving_variance]``.
"""
import numpy as np

from minidl import functional as F
from minidl import nn
from minidl.grad_mode import is_grad_enabled, no_grad
from minidl.keras import initializers, regularizers
from minidl.keras.config import serialize
from minidl.keras.layers.base import Layer, copy_into
from minidl.tensor import Tensor


class Normalization(Layer):
    """The shared part: ``gamma`` (``scale``) and ``beta`` (``center``) parameters of the
    input's sizes along the normalised axes, made by Keras's initializers in ``build``."""

    def __init__(self, axis, epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                 gamma_regularizer, **kwargs):
        super().__init__(None, **kwargs)
        self.axis, self.epsilon, self.center, self.scale = axis, float(epsilon), center, scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)

    def normalized_axes(self, input_shape):
        """``axis`` (an int or a list) as sorted non-negative axes of ``input_shape``, checked."""
        axes = [self.axis] if isinstance(self.axis, int) else list(self.axis)
        rank = len(input_shape)
        if any(not -rank < a < rank or a % rank == 0 for a in axes):
            raise ValueError(f"{self.name}: axis={self.axis} is out of range for an input of shape {input_shape} "
                             "(the batch axis 0 cannot be normalised along)")
        return sorted(a % rank for a in axes)

    def make_affine(self, shape):
        """gamma (ones) and beta (zeros) of ``shape``, Keras's initial values, each if wanted."""
        for name, wanted, initializer, regularizer in (
                ("gamma", self.scale, self.gamma_initializer, self.gamma_regularizer),
                ("beta", self.center, self.beta_initializer, self.beta_regularizer)):
            weight = nn.Parameter(Tensor(np.asarray(initializer(shape), dtype=np.float32))) if wanted else None
            self.register_parameter(name, weight)
            if weight is not None:
                self.regularize(weight, regularizer)

    def keras_tensors(self):
        """The weights as tensors, in Keras's order."""
        return [t for t in (self.gamma, self.beta) if t is not None]

    def keras_weights(self):
        return [t.numpy() for t in self.keras_tensors()]

    def assign_keras_weights(self, arrays):
        for tensor, array in zip(self.keras_tensors(), arrays):
            copy_into(tensor, array)

    def accepts(self, shape):
        built = self.built_input_shape
        return len(shape) == len(built) and all(shape[a] == built[a] for a in self.axes)

    def get_config(self):
        return self.base_config(axis=self.axis, epsilon=self.epsilon, center=self.center, scale=self.scale,
                                beta_initializer=serialize(self.beta_initializer),
                                gamma_initializer=serialize(self.gamma_initializer),
                                beta_regularizer=serialize(self.beta_regularizer),
                                gamma_regularizer=serialize(self.gamma_regularizer))


class BatchNormalization(Normalization):
    """y = gamma * (x - mean) / sqrt(var + epsilon) + beta for each channel along ``axis``.

    Training (``fit``: the model in training mode with gradients on) uses the batch's mean and
    *biased* variance over every other axis and updates, as Keras does,

        moving = momentum * moving + (1 - momentum) * batch_stat      (the variance biased too)

    Keras's ``momentum`` (0.99) is PyTorch's ``1 - momentum`` (0.1), and PyTorch updates with the
    unbiased variance, so ``md.nn.BatchNorm*d`` is not used: the batch statistics come from
    ``F.layer_norm`` of the (channels, values) view, which also accepts one value per channel
    (Keras does: the output is then beta).  Inference (``predict``, ``evaluate``, the zero sample
    that builds a model without gradients) uses the moving statistics and updates nothing.
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, **kwargs):
        super().__init__(int(axis), epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                         gamma_regularizer, **kwargs)
        self.momentum = float(momentum)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)

    def build(self, input_shape):
        self.axes = self.normalized_axes(input_shape)
        shape = (input_shape[self.axes[0]],)
        self.make_affine(shape)
        for name, initializer in (("moving_mean", self.moving_mean_initializer),
                                  ("moving_variance", self.moving_variance_initializer)):
            self.register_buffer(name, Tensor(np.asarray(initializer(shape), dtype=np.float32)))

    def call(self, x):
        channel = self.axes[0]
        order = [a for a in range(x.ndim) if a != channel] + [channel]
        rows = F.permute(x, order).reshape(-1, x.shape[channel])  # (values, channels)
        if self.training and is_grad_enabled():
            out = self.batch_statistics(rows)
        else:
            out = F.batch_norm(rows, self.moving_mean, self.moving_variance, self.gamma, self.beta,
                               training=False, eps=self.epsilon)
        return F.permute(out.reshape([x.shape[a] for a in order]), list(np.argsort(order)))

    def batch_statistics(self, rows):
        """Normalise ``rows`` (values, channels) with each channel's batch mean and biased
        variance, then update the moving statistics with them."""
        columns = rows.array
        mean, variance = columns.mean(0), columns.var(0)
        out = F.layer_norm(rows.T, rows.shape[0], eps=self.epsilon).T
        with no_grad():
            for moving, batch_stat in ((self.moving_mean, mean), (self.moving_variance, variance)):
                moving.copy_(Tensor(self.momentum * moving.array + (1 - self.momentum) * batch_stat))
        if self.gamma is not None:
            out = out * self.gamma
        return out if self.beta is None else out + self.beta

    def keras_tensors(self):
        return super().keras_tensors() + [self.moving_mean, self.moving_variance]

    def count_params(self):
        """Keras counts the moving statistics too (as non-trainable parameters)."""
        return sum(t.array.size for t in self.keras_tensors())

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum,
                "moving_mean_initializer": serialize(self.moving_mean_initializer),
                "moving_variance_initializer": serialize(self.moving_variance_initializer)}


class LayerNormalization(Normalization):
    """y = gamma * (x - mean) / sqrt(var + epsilon) + beta, each sample normalised over ``axis``
    (an int or a list; the last axes, as ``F.layer_norm``), the same in training and inference.
    gamma and beta have the input's sizes along ``axis``."""

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, **kwargs):
        if not isinstance(axis, (int, list, tuple)):
            raise TypeError(f"Expected an int or a list/tuple of ints for the argument 'axis', but received: {axis!r}")
        super().__init__(axis if isinstance(axis, int) else list(axis), epsilon, center, scale, beta_initializer,
                         gamma_initializer, beta_regularizer, gamma_regularizer, **kwargs)

    def build(self, input_shape):
        self.axes = self.normalized_axes(input_shape)
        rank = len(input_shape)
        if self.axes != list(range(rank - len(self.axes), rank)):
            raise NotImplementedError(f"{self.name}: md.keras normalises over the last axes only, got axis={self.axis} "
                                      f"for an input of shape {input_shape}")
        self.shape = tuple(input_shape[a] for a in self.axes)
        self.make_affine(self.shape)

    def call(self, x):
        return F.layer_norm(x, self.shape, self.gamma, self.beta, eps=self.epsilon)
