"""Conv2D, MaxPooling2D and AveragePooling2D on channels-last images (batch, H, W, C), as Keras.

``md.nn`` works on channels-first (batch, C, H, W), so each layer moves the channels in front,
runs the ``md.nn`` layer and moves them back: ``permute(0, 3, 1, 2)`` then ``permute(0, 2, 3, 1)``.
"""
from minidl import functional as F
from minidl import nn
from minidl.keras import regularizers
from minidl.keras.layers.base import Layer, check_rank
from minidl.keras.layers.core import glorot_with_zero_bias

PADDINGS = ("valid", "same")


def channels_first(x):
    return F.permute(x, (0, 3, 1, 2))


def channels_last(x):
    return F.permute(x, (0, 2, 3, 1))


def check_padding(layer, padding, allowed=PADDINGS):
    if padding not in allowed:
        raise ValueError(f"{layer}: padding must be one of {', '.join(map(repr, allowed))}, got {padding!r}")
    return padding


class Conv2D(Layer):
    """``filters`` learned ``kernel_size`` filters over (batch, H, W, C) images.
    ``padding="same"`` keeps H and W (with ``strides=1``, as md.nn.Conv2d allows)."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", activation=None, use_bias=True,
                 kernel_regularizer=None, input_shape=None):
        super().__init__(activation, input_shape)
        self.filters, self.kernel_size, self.strides, self.use_bias = filters, kernel_size, strides, use_bias
        self.padding = check_padding("Conv2D", padding)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)

    def build(self, input_shape):
        check_rank("Conv2D", input_shape, 3, "height, width, channels")
        self.conv = nn.Conv2d(input_shape[-1], self.filters, self.kernel_size, stride=self.strides,
                              padding=self.padding, bias=self.use_bias)
        glorot_with_zero_bias(self.conv)
        self.regularize(self.conv.weight, self.kernel_regularizer)

    def call(self, x):
        return channels_last(self.conv(channels_first(x)))


class Pooling2D(Layer):
    """A pooling window of ``pool_size`` moving by ``strides`` (default: ``pool_size``) over
    (batch, H, W, C) images; subclasses set ``torch_class``.  Only ``padding="valid"``."""

    torch_class = None

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", input_shape=None):
        super().__init__(None, input_shape)
        check_padding(type(self).__name__, padding, allowed=("valid",))
        self.pool = self.torch_class(pool_size, strides)

    def build(self, input_shape):
        check_rank(type(self).__name__, input_shape, 3, "height, width, channels")

    def call(self, x):
        return channels_last(self.pool(channels_first(x)))


class MaxPooling2D(Pooling2D):
    """The largest value of each window."""

    torch_class = nn.MaxPool2d


class AveragePooling2D(Pooling2D):
    """The mean of each window."""

    torch_class = nn.AvgPool2d
