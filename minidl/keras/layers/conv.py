"""Conv2D on channels-last images (batch, H, W, C), as Keras, through ``md.nn.Conv2d``."""
from minidl import nn
from minidl.keras.layers.base import check_rank, check_window
from minidl.keras.layers.kernel import KernelLayer
from minidl.keras.layers.layout import (
    check_data_format, from_channels_first, image_axes, layout_name, pair, to_channels_first,
)

PADDINGS = ("valid", "same")


def check_padding(layer_class, padding, allowed=PADDINGS):
    if padding not in allowed:
        raise ValueError(f"{layer_class}: padding must be one of {', '.join(map(repr, allowed))}, got {padding!r}")
    return padding


class Conv2D(KernelLayer):
    """``filters`` learned ``kernel_size`` filters over (batch, H, W, C) images: kernel
    (kh, kw, C, filters) in Keras's layout.  ``padding="same"`` keeps H and W (with
    ``strides=1``, as md.nn.Conv2d allows)."""

    kernel_axes = (2, 3, 1, 0)

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None, dilation_rate=(1, 1),
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                         bias_regularizer, **kwargs)
        if not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"{self.name}: filters must be a positive integer, got {filters!r}")
        self.filters, self.kernel_size = filters, pair(kernel_size)
        self.strides, self.dilation_rate = pair(strides), pair(dilation_rate)
        self.padding = check_padding("Conv2D", padding)
        self.data_format = check_data_format("Conv2D", data_format)

    @property
    def module(self):
        return self.conv

    def build(self, input_shape):
        check_rank(self, input_shape, 4, layout_name(self.data_format))
        height, width, channels = (input_shape[axis] for axis in image_axes(self.data_format))
        extent = tuple(d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation_rate))
        check_window(self, input_shape, (height, width), extent, "kernel_size", self.padding)
        self.conv = nn.Conv2d(channels, self.filters, self.kernel_size, stride=self.strides, padding=self.padding,
                              dilation=self.dilation_rate, bias=self.use_bias)
        self.initialize()

    def accepts(self, shape):
        channels = image_axes(self.data_format)[2]
        return len(shape) == 4 and shape[channels] == self.built_input_shape[channels]

    def call(self, x):
        return from_channels_first(self.conv(to_channels_first(x, self.data_format)), self.data_format)

    def get_config(self):
        return self.base_config(filters=self.filters, kernel_size=self.kernel_size, strides=self.strides,
                                padding=self.padding, data_format=self.data_format,
                                dilation_rate=self.dilation_rate, **self.kernel_config())
