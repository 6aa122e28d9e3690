"""Conv1d, Conv2d and ConvTranspose2d: learned convolutions with PyTorch's arguments, weight
layouts and initialisation."""
import math

from minidl import functional as F
from minidl.nn import init
from minidl.nn.layers import empty_parameter
from minidl.nn.module import Module
from minidl.ops.window import ints, transposed_output_size


class _ConvNd(Module):
    """What the convolution layers share: settings as tuples of one int per spatial axis
    (``spatial_axes`` of them), a weight and an optional bias, PyTorch's initialisation.

    The weight is (out_channels, in_channels / groups, *kernel_size), or (in_channels,
    out_channels / groups, *kernel_size) when ``transposed``; weight and bias start as
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = weight.shape[1] * prod(kernel_size).
    """

    spatial_axes = 2
    transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                 device, dtype, output_padding=0):
        super().__init__()
        name, axes = type(self).__name__, self.spatial_axes
        if padding_mode != "zeros":
            raise ValueError(f"{name}: only padding_mode='zeros' is supported, got {padding_mode!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) must be divisible by groups ({groups})"
            )
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = ints(name, "kernel_size", kernel_size, axes, 1)
        self.stride = ints(name, "stride", stride, axes, 1)
        self.padding = padding if isinstance(padding, str) else ints(name, "padding", padding, axes, 0)
        self.dilation = ints(name, "dilation", dilation, axes, 1)
        self.output_padding = ints(name, "output_padding", output_padding, axes, 0)
        channels = (in_channels, out_channels // groups) if self.transposed else (out_channels, in_channels // groups)
        self.weight = empty_parameter(channels + self.kernel_size, device, dtype)
        self.bias = empty_parameter((out_channels,), device, dtype) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        axes = self.spatial_axes
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding not in ((0,) * axes, "valid"):
            text += f", padding={self.padding if isinstance(self.padding, tuple) else repr(self.padding)}"
        if self.dilation != (1,) * axes:
            text += f", dilation={self.dilation}"
        if self.output_padding != (0,) * axes:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


class Conv1d(_ConvNd):
    """out = conv1d(x, W, b) on (N, C, L) signals: W of shape (out_channels, in_channels / groups,
    k), b (out_channels,).  ``padding``: int, tuple of one int, 'valid' or 'same'."""

    spatial_axes = 1

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                         device, dtype)

    def forward(self, input):
        return F.conv1d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class Conv2d(_ConvNd):
    """out = conv2d(x, W, b): W of shape (out_channels, in_channels / groups, kh, kw), b (out_channels,).

    Both start as U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in_channels / groups * kh * kw,
    PyTorch's default.  ``padding``: int, pair, 'valid' or 'same'.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                         device, dtype)

    def forward(self, input):
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class ConvTranspose2d(_ConvNd):
    """out = conv_transpose2d(x, W, b), the input gradient of a Conv2d(out_channels, in_channels)
    run forward (see ``minidl.ops.conv_transpose``): W of shape (in_channels, out_channels / groups,
    kh, kw), b (out_channels,); fan_in = out_channels / groups * kh * kw, as PyTorch.

    Output size (H - 1) stride - 2 padding + dilation (kh - 1) + output_padding + 1;
    ``forward(x, output_size=(OH, OW))`` (or the full (N, C, OH, OW)) picks the output_padding
    that gives that size.
    """

    transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        if isinstance(padding, str):
            raise ValueError(f"ConvTranspose2d: padding must be an int or a pair of ints, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                         device, dtype, output_padding)

    def forward(self, input, output_size=None):
        output_padding = self.output_padding if output_size is None else self._output_padding_for(input, output_size)
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding, output_padding,
                                  self.groups, self.dilation)

    def _output_padding_for(self, input, output_size):
        """The output_padding that makes the output (.., OH, OW) = ``output_size``: PyTorch's rule,
        each size between the smallest (output_padding 0) and that plus stride - 1."""
        output_size = tuple(output_size)[-2:] if len(output_size) in (input.ndim, 2) else None
        if output_size is None:
            raise ValueError(f"ConvTranspose2d: for {input.ndim}-D input, output_size must have 2 or {input.ndim} elements")
        settings = zip(input.shape[-2:], self.kernel_size, self.stride, self.padding, self.dilation)
        smallest = [transposed_output_size(*axis, 0) for axis in settings]
        largest = [size + stride - 1 for size, stride in zip(smallest, self.stride)]
        if any(not low <= size <= high for size, low, high in zip(output_size, smallest, largest)):
            raise ValueError(
                f"ConvTranspose2d: requested an output size of {output_size}, but valid sizes range from "
                f"{tuple(smallest)} to {tuple(largest)} (for an input of shape {tuple(input.shape)})"
            )
        return tuple(size - low for size, low in zip(output_size, smallest))
