"""Conv2D on channels-last images (batch, H, W, C), as Keras, through ``md.nn.Conv2d``; Conv1D on
channels-last sequences (batch, steps, C) through ``md.nn.Conv1d``; Conv2DTranspose through
``md.nn.ConvTranspose2d``.

Keras's ``padding="same"`` gives ceil(size / strides) outputs, padding a total of
max((out - 1) strides + dilation (k - 1) + 1 - size, 0), the odd one at the end (TensorFlow's
rule); where the two sides differ, the input is padded explicitly (``F.pad``).
"""
import math

from minidl import functional as F
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
    (kh, kw, C, filters) in Keras's layout.  ``padding="same"`` gives ceil(H / strides) by
    ceil(W / strides) outputs, padded as TensorFlow pads (the module docstring)."""

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
        self.padding = check_padding(type(self).__name__, padding)
        self.data_format = check_data_format(type(self).__name__, data_format)

    @property
    def module(self):
        return self.conv

    def build(self, input_shape):
        check_rank(self, input_shape, 4, layout_name(self.data_format))
        height, width, channels = (input_shape[axis] for axis in image_axes(self.data_format))
        extent = tuple(d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation_rate))
        check_window(self, input_shape, (height, width), extent, "kernel_size", self.padding)
        self.conv = nn.Conv2d(channels, self.filters, self.kernel_size, stride=self.strides,
                              dilation=self.dilation_rate, bias=self.use_bias)  # the padding is done in call
        self.initialize()

    def accepts(self, shape):
        channels = image_axes(self.data_format)[2]
        return len(shape) == 4 and shape[channels] == self.built_input_shape[channels]

    def call(self, x):
        x = to_channels_first(x, self.data_format)
        pads = [(0, 0)] * 2 if self.padding == "valid" else [
            same_padding(size, k, s, d) for size, k, s, d in zip(x.shape[2:], self.kernel_size, self.strides,
                                                                 self.dilation_rate)]  # fmt: skip
        if any(before != after for before, after in pads):  # uneven: pad explicitly, the extra at the end
            (top, bottom), (left, right) = pads
            x, pads = F.pad(x, (left, right, top, bottom)), [(0, 0)] * 2
        y = F.conv2d(x, self.conv.weight, self.conv.bias, self.strides, tuple(before for before, _ in pads),
                     self.dilation_rate)
        return from_channels_first(y, self.data_format)

    def get_config(self):
        return self.base_config(filters=self.filters, kernel_size=self.kernel_size, strides=self.strides,
                                padding=self.padding, data_format=self.data_format,
                                dilation_rate=self.dilation_rate, **self.kernel_config())


def single(value):
    """An int ``k``, or ``(k,)``, as ``k``."""
    return value if isinstance(value, int) else tuple(value)[0]


def same_padding(size, kernel, stride, dilation):
    """(before, after): Keras's ``"same"`` padding of one axis, ceil(size / stride) outputs."""
    total = max((math.ceil(size / stride) - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return total // 2, total - total // 2


class Conv1D(KernelLayer):
    """``filters`` learned filters of length ``kernel_size`` over (batch, steps, channels)
    sequences: kernel (kernel_size, channels / groups, filters) in Keras's layout.  ``padding``:
    "valid", "same" (ceil(steps / strides) outputs) or "causal" (dilation (k - 1) zeros in front:
    output t sees the inputs up to t only)."""

    kernel_axes = (2, 1, 0)

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1, groups=1,
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                         bias_regularizer, **kwargs)
        if not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"{self.name}: filters must be a positive integer, got {filters!r}")
        self.filters, self.kernel_size, self.groups = filters, single(kernel_size), groups
        self.strides, self.dilation_rate = single(strides), single(dilation_rate)
        self.padding = check_padding("Conv1D", padding, allowed=PADDINGS + ("causal",))
        self.data_format = check_data_format("Conv1D", data_format)

    @property
    def module(self):
        return self.conv

    def _axes(self):
        """(steps axis, channels axis) of a batch."""
        return (1, 2) if self.data_format == "channels_last" else (2, 1)

    def build(self, input_shape):
        layout = "batch, steps, channels" if self.data_format == "channels_last" else "batch, channels, steps"
        check_rank(self, input_shape, 3, layout)
        steps, channels = (input_shape[axis] for axis in self._axes())
        extent = self.dilation_rate * (self.kernel_size - 1) + 1
        check_window(self, input_shape, (steps,), (extent,), "kernel_size", self.padding)
        self.conv = nn.Conv1d(channels, self.filters, self.kernel_size, stride=self.strides,
                              dilation=self.dilation_rate, groups=self.groups, bias=self.use_bias)
        self.initialize()

    def accepts(self, shape):
        channels = self._axes()[1]
        return len(shape) == 3 and shape[channels] == self.built_input_shape[channels]

    def _pads(self, steps):
        if self.padding == "valid":
            return 0, 0
        if self.padding == "causal":
            return self.dilation_rate * (self.kernel_size - 1), 0
        return same_padding(steps, self.kernel_size, self.strides, self.dilation_rate)

    def call(self, x):
        channels_last = self.data_format == "channels_last"
        x = F.permute(x, (0, 2, 1)) if channels_last else x
        before, after = self._pads(x.shape[2])
        if before != after:
            x, before = F.pad(x, (before, after)), 0
        y = F.conv1d(x, self.conv.weight, self.conv.bias, self.strides, before, self.dilation_rate, self.groups)
        return F.permute(y, (0, 2, 1)) if channels_last else y

    def get_config(self):
        return self.base_config(filters=self.filters, kernel_size=self.kernel_size, strides=self.strides,
                                padding=self.padding, data_format=self.data_format,
                                dilation_rate=self.dilation_rate, groups=self.groups, **self.kernel_config())


def transposed_geometry(size, kernel, stride, dilation, padding, output_padding):
    """Keras's output size of a transposed convolution along one axis, and the torch ``padding``
    and ``output_padding`` that place its values as TensorFlow does (the adjoint of a "valid" or
    "same" convolution from that size): (size, padding, output_padding), where an output_padding
    of -1 means one row more, to be cut off at the end."""
    extent = dilation * (kernel - 1) + 1
    if output_padding is None:
        out = size * stride + max(extent - stride, 0) if padding == "valid" else size * stride
    else:
        out = (size - 1) * stride + extent - 2 * (extent // 2 if padding == "same" else 0) + output_padding
    before = 0 if padding == "valid" else max((size - 1) * stride + extent - out, 0) // 2
    return out, before, out - ((size - 1) * stride - 2 * before + extent)


class Conv2DTranspose(Conv2D):
    """The transposed convolution (the input gradient of a Conv2D, run forward) over (batch, H,
    W, C) images: kernel (kh, kw, filters, C) in Keras's layout.  Output size per axis: "same"
    size * strides, "valid" size * strides + max(kernel - strides, 0); with ``output_padding``,
    (size - 1) * strides + kernel - 2 (kernel // 2 for "same", else 0) + output_padding.
    Conv2D's arguments and checks, plus ``output_padding`` (each below its stride)."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None, data_format=None,
                 dilation_rate=(1, 1), **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, **kwargs)
        self.output_padding = None if output_padding is None else pair(output_padding)
        if self.output_padding is not None and any(p >= s for p, s in zip(self.output_padding, self.strides)):
            raise ValueError(f"{self.name}: strides must be greater than output padding, got strides={self.strides}, "
                             f"output_padding={self.output_padding}")

    def build(self, input_shape):
        check_rank(self, input_shape, 4, layout_name(self.data_format))
        channels = input_shape[image_axes(self.data_format)[2]]
        self.conv = nn.ConvTranspose2d(channels, self.filters, self.kernel_size, stride=self.strides,
                                       dilation=self.dilation_rate, bias=self.use_bias)
        self.initialize()

    def call(self, x):
        x = to_channels_first(x, self.data_format)
        settings = zip(x.shape[2:], self.kernel_size, self.strides, self.dilation_rate, self.output_padding or (None, None))
        out_size, padding, extra = zip(*(transposed_geometry(size, kernel, stride, dilation, self.padding, output_padding)
                                         for size, kernel, stride, dilation, output_padding in settings))
        y = F.conv_transpose2d(x, self.conv.weight, self.conv.bias, self.strides, padding,
                               tuple(max(e, 0) for e in extra), dilation=self.dilation_rate)
        if min(extra) < 0:
            y = y[:, :, : out_size[0], : out_size[1]]
        return from_channels_first(y, self.data_format)

    def get_config(self):
        return dict(super().get_config(), output_padding=self.output_padding)
