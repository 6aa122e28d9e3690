"""Pooling over images, channels-last (batch, H, W, C) as Keras,

    MaxPooling2D / AveragePooling2D   the max / mean of each ``pool_size`` window -> (batch, H', W', C)
    GlobalAveragePooling2D            the mean of each channel over all of H and W -> (batch, C)
    GlobalMaxPooling2D                the max of each channel over H and W         -> (batch, C)

and over sequences (batch, steps, features):

    GlobalAveragePooling1D            the mean of each feature over the steps      -> (batch, features)
"""
from minidl import functional as F
from minidl import nn
from minidl.keras.layers.base import Layer, check_rank, check_window
from minidl.keras.layers.conv import check_padding
from minidl.keras.layers.layout import (
    check_data_format, from_channels_first, image_axes, layout_name, pair, to_channels_first,
)


class Pooling2D(Layer):
    """A window of ``pool_size`` moving by ``strides`` (default: ``pool_size``); subclasses set
    ``torch_class``.  Only ``padding="valid"``."""

    torch_class = None

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(None, **kwargs)
        self.pool_size = pair(pool_size)
        self.strides = self.pool_size if strides is None else pair(strides)
        self.padding = check_padding(type(self).__name__, padding, allowed=("valid",))
        self.data_format = check_data_format(type(self).__name__, data_format)
        self.pool = self.torch_class(self.pool_size, self.strides)

    def build(self, input_shape):
        check_rank(self, input_shape, 4, layout_name(self.data_format))
        height, width, _ = (input_shape[axis] for axis in image_axes(self.data_format))
        check_window(self, input_shape, (height, width), self.pool_size, "pool_size")

    def accepts(self, shape):
        return len(shape) == 4

    def call(self, x):
        return from_channels_first(self.pool(to_channels_first(x, self.data_format)), self.data_format)

    def get_config(self):
        return self.base_config(pool_size=self.pool_size, strides=self.strides, padding=self.padding,
                                data_format=self.data_format)


class MaxPooling2D(Pooling2D):
    """The largest value of each window."""

    torch_class = nn.MaxPool2d


class AveragePooling2D(Pooling2D):
    """The mean of each window."""

    torch_class = nn.AvgPool2d


class GlobalPooling(Layer):
    """One number per channel from the whole sample; ``keepdims=True`` keeps the pooled axes as 1s.
    Subclasses set ``reduce`` (``F.mean`` or ``F.amax``), ``rank`` (the input's, batch axis
    included), ``pooled_axes()`` and ``layout()``."""

    reduce = None
    rank = None

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(None, **kwargs)
        self.data_format = check_data_format(type(self).__name__, data_format)
        self.keepdims = keepdims

    def build(self, input_shape):
        check_rank(self, input_shape, self.rank, self.layout())

    def accepts(self, shape):
        return len(shape) == self.rank

    def call(self, x):
        return self.reduce(x, dim=self.pooled_axes(), keepdim=self.keepdims)

    def get_config(self):
        return self.base_config(data_format=self.data_format, keepdims=self.keepdims)


class GlobalPooling2D(GlobalPooling):
    """Over H and W of images (batch, H, W, C)."""

    rank = 4

    def pooled_axes(self):
        return image_axes(self.data_format)[:2]

    def layout(self):
        return layout_name(self.data_format)


class GlobalPooling1D(GlobalPooling):
    """Over the steps of sequences (batch, steps, features)."""

    rank = 3

    def pooled_axes(self):
        return (1,) if self.data_format == "channels_last" else (2,)

    def layout(self):
        return "batch, steps, features" if self.data_format == "channels_last" else "batch, features, steps"


class GlobalAveragePooling2D(GlobalPooling2D):
    """The mean over H and W of each channel."""

    reduce = staticmethod(F.mean)


class GlobalMaxPooling2D(GlobalPooling2D):
    """The largest value over H and W of each channel."""

    reduce = staticmethod(F.amax)


class GlobalAveragePooling1D(GlobalPooling1D):
    """The mean over the steps of each feature."""

    reduce = staticmethod(F.mean)
