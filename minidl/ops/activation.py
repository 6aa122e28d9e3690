"""Activations: relu leaky_relu prelu sigmoid tanh silu gelu softmax log_softmax.

Each backward is written from the forward's output where that is cheaper (sigmoid, tanh,
softmax), as PyTorch does.  ``inplace=True`` (relu, leaky_relu, silu) writes the result into the
input tensor and returns it, through ``Tensor._apply_inplace`` (torch's in-place rules).
"""
import math
import warnings

from minidl import backend
from minidl.autograd import Function
from minidl.ops.arithmetic import erf, exp, gradient_where, select, where
from minidl.ops.common import as_floating_tensor, normalize_dim
from minidl.ops.shape import reshape


class ReLU(Function):
    """out = max(a, 0);  da = g where a > 0, else 0 (``gradient_where``)."""

    differentiable_backward = True  # its backward runs on Tensors too (higher_order.py)

    @staticmethod
    def forward(ctx, a):
        out = backend.get_array_module(a).maximum(a, 0).astype(a.dtype, copy=False)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved
        return gradient_where(out > 0, grad)


class LeakyReLU(Function):
    """out = a if a > 0 else slope * a;  da = g if a > 0 else slope * g."""

    @staticmethod
    def forward(ctx, a, negative_slope=0.01):
        positive = a > 0
        ctx.save_for_backward(positive)
        ctx.slope = negative_slope
        return select(positive, a, (a * negative_slope).astype(a.dtype, copy=False))

    @staticmethod
    def backward(ctx, grad):
        (positive,) = ctx.saved
        return select(positive, grad, (grad * ctx.slope).astype(grad.dtype, copy=False))

    @staticmethod
    def graph_backward(ctx, grad):
        """The same formula on Tensors; the mask a > 0 is piecewise constant: a constant."""
        (positive,) = ctx.constants
        return where(positive, grad, grad * ctx.slope)


class PReLU(Function):
    """out = a if a > 0 else w * a  (w learned, one per channel);
    da = g if a > 0 else w * g,  dw = sum of g * a over the elements where a <= 0."""

    @staticmethod
    def forward(ctx, a, w):
        ctx.save_for_backward(a, w)
        return backend.get_array_module(a).where(a > 0, a, w * a)

    @staticmethod
    def backward(ctx, grad):
        a, w = ctx.saved
        xp = backend.get_array_module(a)
        positive = a > 0
        grad_w = xp.where(positive, 0, grad * a) if ctx.needs_input_grad[1] else None
        return xp.where(positive, grad, w * grad), grad_w

    @staticmethod
    def graph_backward(ctx, grad):
        """The same formulas on Tensors; the mask a > 0 is piecewise constant: a constant."""
        a, w = ctx.saved
        positive = a.array > 0
        grad_w = where(positive, 0, grad * a) if ctx.needs_input_grad[1] else None
        return where(positive, grad, w * grad), grad_w


def stable_sigmoid(a):
    """1 / (1 + e^-a), computed from e^-|a| so it never overflows."""
    xp = backend.get_array_module(a)
    e = xp.exp(-xp.abs(a))
    return select(a >= 0, 1 / (1 + e), e / (1 + e))


class Sigmoid(Function):
    """out = 1 / (1 + e^-a);  da = g * out * (1 - out)."""

    differentiable_backward = True  # its backward runs on Tensors too (higher_order.py)

    @staticmethod
    def forward(ctx, a):
        out = stable_sigmoid(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved
        return grad * (1 - out) * out


class Tanh(Function):
    """out = tanh(a);  da = g * (1 - out^2)."""

    differentiable_backward = True  # its backward runs on Tensors too (higher_order.py)

    @staticmethod
    def forward(ctx, a):
        out = backend.get_array_module(a).tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved
        return grad * (1 - out * out)


class SiLU(Function):
    """out = a * sigmoid(a)  (also called swish);  da = g * s * (1 + a * (1 - s)),  s = sigmoid(a)
    (recomputed in backward, as torch, so that only the input is saved)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a * stable_sigmoid(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved
        return grad * _silu_slope(a, stable_sigmoid(a))

    @staticmethod
    def graph_backward(ctx, grad):
        """The same formula on Tensors (for gradients of gradients)."""
        (a,) = ctx.saved
        return grad * _silu_slope(a, sigmoid(a))


def _silu_slope(a, s):
    """d silu / da = s * (1 + a * (1 - s)) with s = sigmoid(a), on arrays or Tensors."""
    return s * (1 + a * (1 - s))


class GELU(Function):
    """out = a * Phi(a), Phi the standard normal CDF = (1 + erf(a / sqrt 2)) / 2;
    da = g * (Phi(a) + a * phi(a)), phi the normal density.
    ``approximate="tanh"``: Phi(a) ~ (1 + tanh(sqrt(2/pi) (a + 0.044715 a^3))) / 2."""

    @staticmethod
    def forward(ctx, a, approximate="none"):
        xp = backend.get_array_module(a)
        ctx.save_for_backward(a)
        ctx.approximate = approximate
        if approximate == "tanh":
            return 0.5 * a * (1 + xp.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a**3)))
        return 0.5 * a * (1 + backend.erf(a / math.sqrt(2)))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved
        xp = backend.get_array_module(a)
        return grad * _gelu_slope(a, ctx.approximate, xp.tanh, backend.erf, xp.exp)

    @staticmethod
    def graph_backward(ctx, grad):
        """The same formula on Tensors (for gradients of gradients)."""
        (a,) = ctx.saved
        return grad * _gelu_slope(a, ctx.approximate, tanh, erf, exp)


def _gelu_slope(a, approximate, tanh, erf, exp):
    """d gelu / da, written once for arrays (pass NumPy's tanh, erf, exp) and for Tensors
    (minidl's, so that the slope is recorded)."""
    if approximate == "tanh":
        k = math.sqrt(2 / math.pi)
        t = tanh(k * (a + 0.044715 * a**3))
        return 0.5 * (1 + t) + 0.5 * a * (1 - t * t) * k * (1 + 3 * 0.044715 * a * a)
    cdf = 0.5 * (1 + erf(a / math.sqrt(2)))
    pdf = exp(-0.5 * a * a) / math.sqrt(2 * math.pi)
    return cdf + a * pdf


class Softmax(Function):
    """out = e^(a - max) / sum(e^(a - max)) along ``axis``;  da = out * (g - sum(g * out))."""

    differentiable_backward = True  # its backward runs on Tensors too (higher_order.py)

    @staticmethod
    def forward(ctx, a, axis=-1):
        xp = backend.get_array_module(a)
        e = xp.exp(a - a.max(axis=axis, keepdims=True))
        out = e / e.sum(axis=axis, keepdims=True)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved
        return (grad - (grad * out).sum(axis=ctx.axis, keepdims=True)) * out


class LogSoftmax(Function):
    """out = a - max - log(sum(e^(a - max))) along ``axis``;  da = g - e^out * sum(g)."""

    @staticmethod
    def forward(ctx, a, axis=-1):
        xp = backend.get_array_module(a)
        shifted = a - a.max(axis=axis, keepdims=True)
        out = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved
        xp = backend.get_array_module(out)
        return grad - xp.exp(out) * grad.sum(axis=ctx.axis, keepdims=True)

    @staticmethod
    def graph_backward(ctx, grad):
        """The same formula on Tensors (for gradients of gradients)."""
        (out,) = ctx.saved
        return grad - exp(out) * grad.sum(dim=ctx.axis, keepdim=True)


def relu(input, inplace=False):
    """max(x, 0)."""
    if inplace:
        return input._apply_inplace("relu_", relu)
    return ReLU.apply(as_floating_tensor("relu", input))


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x if x > 0 else negative_slope * x."""
    if inplace:
        return input._apply_inplace("leaky_relu_", leaky_relu, negative_slope)
    return LeakyReLU.apply(as_floating_tensor("leaky_relu", input), negative_slope=negative_slope)


def prelu(input, weight):
    """x if x > 0 else w * x, ``weight`` of shape (1,) or (channels,) with channels on dim 1."""
    x = as_floating_tensor("prelu", input)
    w = as_floating_tensor("prelu", weight)
    if w.ndim != 1:
        raise ValueError(f"prelu: weight must be 1-D, got shape {w.shape}")
    channels = x.shape[1] if x.ndim >= 2 else 1
    if w.shape[0] not in (1, channels):
        raise ValueError(
            f"prelu: weight must have 1 or {channels} (the input's channels, dim 1) elements, "
            f"got {w.shape[0]} for input shape {x.shape}"
        )
    if w.shape[0] == 1 or x.ndim < 2:
        w = reshape(w, ())
    else:
        w = reshape(w, (1, channels) + (1,) * (x.ndim - 2))
    return PReLU.apply(x, w.to(x.dtype))


def sigmoid(input):
    """1 / (1 + e^-x)."""
    return Sigmoid.apply(as_floating_tensor("sigmoid", input))


def tanh(input):
    """Hyperbolic tangent."""
    return Tanh.apply(as_floating_tensor("tanh", input))


def silu(input, inplace=False):
    """x * sigmoid(x)."""
    if inplace:
        return input._apply_inplace("silu_", silu)
    return SiLU.apply(as_floating_tensor("silu", input))


def gelu(input, approximate="none"):
    """x * Phi(x); ``approximate="tanh"`` uses the tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU.apply(as_floating_tensor("gelu", input), approximate=approximate)


def _softmax_axis(op, x, dim):
    """PyTorch's legacy choice when ``dim`` is None, with its warning: 0 for 0-, 1- and 3-D
    inputs, else 1."""
    if dim is None:
        warnings.warn(
            f"Implicit dimension choice for {op} has been deprecated. Change the call to include dim=X as an argument.",
            UserWarning,
            stacklevel=3,
        )
        dim = 0 if x.ndim in (0, 1, 3) else 1
    return normalize_dim(op, dim, x.ndim)


def softmax(input, dim=None):
    """exp(x) / sum(exp(x)) along ``dim``: probabilities that sum to 1."""
    x = as_floating_tensor("softmax", input)
    return Softmax.apply(x, axis=_softmax_axis("softmax", x, dim))


def log_softmax(input, dim=None):
    """log(softmax(x)) along ``dim``, computed without overflow or log(0)."""
    x = as_floating_tensor("log_softmax", input)
    return LogSoftmax.apply(x, axis=_softmax_axis("log_softmax", x, dim))
