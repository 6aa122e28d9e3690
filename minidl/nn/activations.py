"""Activation layers: each one calls its function in ``minidl.functional``."""
from minidl import functional as F
from minidl.nn.init import constant_
from minidl.nn.layers import empty_parameter
from minidl.nn.module import Module


class _MayWorkInPlace(Module):
    """An activation that overwrites its input and returns it when ``inplace=True`` (saves memory;
    torch's rules for in-place ops apply).  Subclasses set ``function(input, inplace)``."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return self.function(input, inplace=self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class ReLU(_MayWorkInPlace):
    """max(x, 0)."""

    function = staticmethod(F.relu)


class SiLU(_MayWorkInPlace):
    """x * sigmoid(x) (also called swish)."""

    function = staticmethod(F.silu)


class LeakyReLU(Module):
    """x if x > 0 else negative_slope * x."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, inplace=self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class PReLU(Module):
    """x if x > 0 else a * x, with a learned slope ``weight`` of shape (num_parameters,):
    1 shared slope, or one per channel (dim 1 of the input).  Starts at ``init``."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = num_parameters
        self.weight = constant_(empty_parameter((num_parameters,), device, dtype), init)

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class Sigmoid(Module):
    """1 / (1 + e^-x)."""

    def forward(self, input):
        return F.sigmoid(input)


class Tanh(Module):
    """Hyperbolic tangent."""

    def forward(self, input):
        return F.tanh(input)


class GELU(Module):
    """x * Phi(x), Phi the standard normal CDF; ``approximate="tanh"`` uses the tanh formula."""

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class _AlongDim(Module):
    """An activation applied along one dim: subclasses set ``function(input, dim)``."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return self.function(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(_AlongDim):
    """exp(x) / sum(exp(x)) along ``dim`` (None: PyTorch's legacy choice, see F.softmax)."""

    function = staticmethod(F.softmax)


class LogSoftmax(_AlongDim):
    """log(softmax(x)) along ``dim``, computed stably."""

    function = staticmethod(F.log_softmax)
