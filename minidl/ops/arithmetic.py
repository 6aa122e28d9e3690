"""Elementwise arithmetic: + - * / ** neg exp log sqrt abs clamp where sin cos log1p expm1 erf round,
and comparisons (also of whole tensors: equal, allclose).

Gradients may come back in the broadcast shape; the engine sums them to each input's shape.
"""
import math

import numpy as np

from minidl import backend
from minidl.autograd import Function
from minidl.ops.common import (
    as_floating_tensor,
    elementwise_operands,
    float_errors_ignored,
    option_array,
    promote_operands,
)
from minidl.tensor import Tensor


class Add(Function):
    """out = a + b;  da = g,  db = g."""

    differentiable_backward = True  # its backward runs on Tensors too (higher_order.py)

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


class Sub(Function):
    """out = a - b;  da = g,  db = -g."""

    differentiable_backward = True  # its backward runs on Tensors too (higher_order.py)

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, grad):
        return grad, -grad


class Mul(Function):
    """out = a * b;  da = g * b,  db = g * a."""

    differentiable_backward = True  # its backward runs on Tensors too (higher_order.py)

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        return grad * b, grad * a


class Div(Function):
    """out = a / b;  da = g / b,  db = -g * a / b^2."""

    differentiable_backward = True  # its backward runs on Tensors too (higher_order.py)

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        grad_b = -grad * a / (b * b) if ctx.needs_input_grad[1] else None
        return grad / b, grad_b


class Neg(Function):
    """out = -a;  da = -g."""

    differentiable_backward = True  # its backward runs on Tensors too (higher_order.py)

    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad):
        return -grad


class Pow(Function):
    """out = a ** b;  da = g * b * a^(b-1) (0 where b == 0),  db = g * out * log(a) (0 where a == 0 and b >= 0)."""

    @staticmethod
    def forward(ctx, a, b):
        out = a**b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved
        xp = backend.get_array_module(a)
        grad_a = grad_b = None
        # ``where`` evaluates both branches: silence the 0**-1 and log(0) warnings of the masked one
        with float_errors_ignored(xp, divide="ignore", invalid="ignore"):
            if ctx.needs_input_grad[0]:
                grad_a = xp.where(b == 0, 0, grad * b * a ** (b - 1))
            if ctx.needs_input_grad[1]:
                grad_b = xp.where((a == 0) & (b >= 0), 0, grad * out * xp.log(a))
        return grad_a, grad_b

    @staticmethod
    def graph_backward(ctx, grad):
        """The same formulas on Tensors; the masks (b == 0; a == 0 and b >= 0) are piecewise
        constant: constants."""
        a, b, out = ctx.saved
        grad_a = grad_b = None
        with float_errors_ignored(a.xp, divide="ignore", invalid="ignore"):
            if ctx.needs_input_grad[0]:
                grad_a = where(b.array == 0, 0, grad * b * a ** (b - 1))
            if ctx.needs_input_grad[1]:
                grad_b = where((a.array == 0) & (b.array >= 0), 0, grad * out * log(a))
        return grad_a, grad_b


class Exp(Function):
    """out = e^a;  da = g * out."""

    differentiable_backward = True  # its backward runs on Tensors too (higher_order.py)

    @staticmethod
    def forward(ctx, a):
        out = backend.get_array_module(a).exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved
        return grad * out


class Log(Function):
    """out = ln(a);  da = g / a."""

    differentiable_backward = True  # its backward runs on Tensors too (higher_order.py)

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.get_array_module(a).log(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved
        return grad / a


class Sqrt(Function):
    """out = sqrt(a);  da = g / (2 * out)."""

    differentiable_backward = True  # its backward runs on Tensors too (higher_order.py)

    @staticmethod
    def forward(ctx, a):
        out = backend.get_array_module(a).sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved
        return grad / (2 * out)


class Abs(Function):
    """out = |a|;  da = g * sign(a)  (0 at a == 0, as PyTorch)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.get_array_module(a).abs(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved
        return grad * backend.get_array_module(a).sign(a)

    @staticmethod
    def graph_backward(ctx, grad):
        """The same formula on Tensors (sign(a) is piecewise constant: its derivative is 0)."""
        (a,) = ctx.saved
        return grad * Tensor(backend.get_array_module(a.array).sign(a.array))


class Sin(Function):
    """out = sin(a);  da = g * cos(a)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.get_array_module(a).sin(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved
        return grad * backend.get_array_module(a).cos(a)

    @staticmethod
    def graph_backward(ctx, grad):
        """The same formula on Tensors (for gradients of gradients)."""
        (a,) = ctx.saved
        return grad * cos(a)


class Cos(Function):
    """out = cos(a);  da = -g * sin(a)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.get_array_module(a).cos(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved
        return -grad * backend.get_array_module(a).sin(a)

    @staticmethod
    def graph_backward(ctx, grad):
        """The same formula on Tensors (for gradients of gradients)."""
        (a,) = ctx.saved
        return -grad * sin(a)


class Log1p(Function):
    """out = ln(1 + a), accurate for small a;  da = g / (1 + a)."""

    differentiable_backward = True  # its backward runs on Tensors too (higher_order.py)

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.get_array_module(a).log1p(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved
        return grad / (1 + a)


class Expm1(Function):
    """out = e^a - 1, accurate for small a;  da = g * (out + 1)."""

    differentiable_backward = True  # its backward runs on Tensors too (higher_order.py)

    @staticmethod
    def forward(ctx, a):
        out = backend.get_array_module(a).expm1(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved
        return grad * (out + 1)


class Round(Function):
    """out = a rounded to ``decimals`` places, halves to even (0.5 -> 0, 1.5 -> 2);
    da = 0 (a step function), as torch."""

    @staticmethod
    def forward(ctx, a, decimals=0):
        return backend.get_array_module(a).round(a, decimals)

    @staticmethod
    def backward(ctx, grad):
        return backend.get_array_module(grad).zeros_like(grad)

    @staticmethod
    def graph_backward(ctx, grad):
        """Zeros without a graph, as torch: their derivative is 0 too."""
        return Tensor(grad.xp.zeros_like(grad.array))


class Erf(Function):
    """out = erf(a) = 2/sqrt(pi) * integral of e^(-s^2) from 0 to a;  da = g * 2/sqrt(pi) * e^(-a^2)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.erf(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved
        return grad * (2 / math.sqrt(math.pi)) * backend.get_array_module(a).exp(-a * a)

    @staticmethod
    def graph_backward(ctx, grad):
        """The same formula on Tensors (for gradients of gradients)."""
        (a,) = ctx.saved
        return grad * (2 / math.sqrt(math.pi)) * exp(-a * a)


class Clamp(Function):
    """out = min(max(a, low), high);  da = g where low <= a <= high, else 0."""

    @staticmethod
    def forward(ctx, a, low=None, high=None):
        xp = backend.get_array_module(a)
        passes = xp.ones(a.shape, dtype=bool)
        out = a
        if low is not None:
            passes &= a >= low
            out = xp.maximum(out, low)
        if high is not None:
            passes &= a <= high
            out = xp.minimum(out, high)
        ctx.save_for_backward(passes)
        return out.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (passes,) = ctx.saved
        return gradient_where(passes, grad)

    @staticmethod
    def graph_backward(ctx, grad):
        """The same formula on Tensors; the mask is piecewise constant in a: a constant."""
        (passes,) = ctx.constants
        return gradient_where(passes, grad)


def gradient_where(mask, grad):
    """g where ``mask``, else 0, on arrays or Tensors: the gradient of an op that passes some
    elements through and blocks the others (relu, clamp, where).  Selected, not multiplied: an inf
    or NaN in g must not turn the blocked zeros into NaN (inf * 0), as PyTorch's backward of these
    ops keeps them 0."""
    if isinstance(grad, Tensor):
        return where(mask, grad, 0)
    return select(mask, grad, 0)


def select(mask, a, b):
    """``xp.where(mask, a, b)`` for arrays (``b`` may be a number), as a compiled select where
    ``mask``, ``a`` and ``b`` are NumPy arrays of one shape, contiguous, a and b of one float dtype
    (``kernels.cpu.select``): NumPy's ``where`` branches per element, 14x slower than a multiply
    on a random mask (measured).  Otherwise (CuPy, broadcasting, other dtypes) ``xp.where``."""
    xp = backend.get_array_module(a)
    number = not hasattr(b, "shape")
    arrays = (mask, a) if number else (mask, a, b)
    fast = (not backend.is_cupy_array(a) and a.dtype in (np.float32, np.float64) and (number or b.dtype == a.dtype)
            and all(array.shape == a.shape and array.flags.c_contiguous for array in arrays))
    if not fast:
        return xp.where(mask, a, b)
    from kernels import cpu

    out = np.empty_like(a)
    flat = [array.reshape(-1) for array in arrays]
    if number:
        cpu.select_or_value(*flat, a.dtype.type(b), out.reshape(-1))
    else:
        cpu.select(*flat, out.reshape(-1))
    return out


class Where(Function):
    """out = a where condition else b;  da = g where condition (else 0),  db = g where not condition."""

    @staticmethod
    def forward(ctx, a, b, condition=None):
        ctx.save_for_backward(condition)
        return select(condition, a, b)

    @staticmethod
    def backward(ctx, grad):
        (condition,) = ctx.saved
        return gradient_where(condition, grad), gradient_where(~condition, grad)

    @staticmethod
    def graph_backward(ctx, grad):
        """The same formula on Tensors; the condition is an option, not an input: a constant."""
        (condition,) = ctx.constants
        return gradient_where(condition, grad), gradient_where(Tensor(~condition.array), grad)


def add(a, b):
    """a + b with broadcasting."""
    return Add.apply(*elementwise_operands("add", a, b))


def sub(a, b):
    """a - b with broadcasting."""
    return Sub.apply(*elementwise_operands("sub", a, b))


def mul(a, b):
    """a * b with broadcasting."""
    return Mul.apply(*elementwise_operands("mul", a, b))


def div(a, b):
    """a / b, true division: integer operands give the default float dtype."""
    a, b = elementwise_operands("div", a, b)
    if not backend.is_floating(a.dtype):
        a, b = promote_operands("div", a.to(backend.get_default_dtype()), b)
    return Div.apply(a, b)


def pow(a, b):
    """a ** b (either may be a tensor)."""
    return Pow.apply(*elementwise_operands("pow", a, b))


def neg(a):
    """-a."""
    (a,) = promote_operands("neg", a)
    return Neg.apply(a)


def exp(a):
    """e ** a."""
    return Exp.apply(as_floating_tensor("exp", a))


def log(a):
    """Natural logarithm (-inf at 0, nan below)."""
    return Log.apply(as_floating_tensor("log", a))


def sqrt(a):
    """Square root."""
    return Sqrt.apply(as_floating_tensor("sqrt", a))


def abs(a):
    """|a|."""
    (a,) = promote_operands("abs", a)
    return Abs.apply(a)


def sin(a):
    """Sine (radians)."""
    return Sin.apply(as_floating_tensor("sin", a))


def cos(a):
    """Cosine (radians)."""
    return Cos.apply(as_floating_tensor("cos", a))


def log1p(a):
    """ln(1 + a), without the rounding error of ``log(1 + a)`` for tiny a."""
    return Log1p.apply(as_floating_tensor("log1p", a))


def expm1(a):
    """e ** a - 1, without the rounding error of ``exp(a) - 1`` for tiny a."""
    return Expm1.apply(as_floating_tensor("expm1", a))


def erf(a):
    """The error function: the normal CDF is (1 + erf(x / sqrt 2)) / 2."""
    return Erf.apply(as_floating_tensor("erf", a))


def square(a):
    """a * a (integers stay integers)."""
    return mul(a, a)


def round(a, decimals=0):
    """Round to ``decimals`` places, halves to the even neighbour as torch; gradient 0."""
    (a,) = promote_operands("round", a)
    return Round.apply(a, decimals=decimals)


def clamp(a, min=None, max=None):
    """Limit values to [min, max]; either bound may be None."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    (a,) = promote_operands("clamp", a)
    return Clamp.apply(a, low=min, high=max)


def where(condition, a, b):
    """Elementwise choice: a where condition is true, else b (``condition`` on their device)."""
    a, b = elementwise_operands("where", a, b)
    condition = option_array("where", "condition", condition, a)
    return Where.apply(a, b, condition=condition.astype(bool, copy=False))


def _compare(name, ufunc):
    def compare(a, b):
        a, b = elementwise_operands(name, a, b)
        return Tensor(ufunc(a.xp, a.array, b.array))

    compare.__name__ = name
    compare.__doc__ = f"Elementwise ``{name}`` comparison, a bool tensor (not differentiable)."
    return compare


eq = _compare("eq", lambda xp, a, b: xp.equal(a, b))
ne = _compare("ne", lambda xp, a, b: xp.not_equal(a, b))
lt = _compare("lt", lambda xp, a, b: xp.less(a, b))
le = _compare("le", lambda xp, a, b: xp.less_equal(a, b))
gt = _compare("gt", lambda xp, a, b: xp.greater(a, b))
ge = _compare("ge", lambda xp, a, b: xp.greater_equal(a, b))


def equal(a, b):
    """True when ``a`` and ``b`` have the same shape and the same elements (a Python bool)."""
    a, b = promote_operands("equal", a, b)
    return a.shape == b.shape and bool(a.xp.array_equal(a.array, b.array))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True when |input - other| <= atol + rtol * |other| everywhere (after broadcasting);
    both must have the same dtype, as torch."""
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        got = ", ".join(type(x).__name__ for x in (input, other))
        raise TypeError(f"allclose: expected two Tensors, got {got}")
    if input.dtype != other.dtype:
        raise TypeError(f"allclose: expected both tensors to have the same dtype, got {input.dtype} and {other.dtype}")
    input, other = elementwise_operands("allclose", input, other)
    return bool(input.xp.allclose(input.array, other.array, rtol=rtol, atol=atol, equal_nan=equal_nan))
