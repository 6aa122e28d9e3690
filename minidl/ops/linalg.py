"""Matrix products: matmul (batched, NumPy's rules), its strict forms mm (matrix @ matrix),
mv (matrix @ vector) and dot (vector . vector), and the fused affine map of ``Linear``;
vector norms, ``norm`` and ``normalize``."""
import math
import numbers

from minidl import backend
from minidl.autograd import Function, sum_to_shape
from minidl.ops.arithmetic import abs, clamp, div, where
from minidl.ops.common import as_floating_tensor, float_errors_ignored, normalize_dims, promote_operands
from minidl.ops.reduction import kept_dims
from minidl.parallel import product
from minidl.tensor import Tensor


def _swap_last(x):
    return x.swapaxes(-1, -2)


class MatMul(Function):
    """out = a @ b;  da = g @ b^T,  db = a^T @ g  (batch dims broadcast; 1-D operands are
    treated as a row / a column and the added axis is removed again)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return product(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        a2 = a[None, :] if a.ndim == 1 else a  # a vector on the left is a row
        b2 = b[:, None] if b.ndim == 1 else b  # a vector on the right is a column
        grad = grad.reshape(_matrix_grad_shape(grad.shape, a.ndim, b.ndim))
        grad_a = sum_to_shape(product(grad, _swap_last(b2)), a2.shape).reshape(a.shape) if ctx.needs_input_grad[0] else None
        grad_b = sum_to_shape(product(_swap_last(a2), grad), b2.shape).reshape(b.shape) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b

    @staticmethod
    def graph_backward(ctx, grad):
        """The same formula on Tensors (for gradients of gradients)."""
        from minidl.higher_order import sum_to_shape as summed_to

        a, b = ctx.saved
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        grad = grad.reshape(_matrix_grad_shape(grad.shape, a.ndim, b.ndim))
        grad_a = summed_to(grad @ b2.transpose(-1, -2), a2.shape).reshape(a.shape) if ctx.needs_input_grad[0] else None
        grad_b = summed_to(a2.transpose(-1, -2) @ grad, b2.shape).reshape(b.shape) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


def _matrix_grad_shape(shape, a_ndim, b_ndim):
    """The output gradient's shape with the row/column axes that 1-D operands dropped put back."""
    shape = list(shape)
    if b_ndim == 1:
        shape.append(1)
    if a_ndim == 1:
        shape.insert(len(shape) - 1, 1)
    return tuple(shape)


class Linear(Function):
    """out = x @ W^T + b  (x: (..., in), W: (out, in), b: (out,));
    dx = g @ W,  dW = g^T @ x (summed over all leading axes),  db = g summed over leading axes.

    The leading axes are flattened into one, so each product is one matrix product (NumPy runs a
    3-D ``@`` as one small product per leading index: about 2x slower)."""

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        needs_x, needs_weight = ctx.needs_input_grad[:2]
        ctx.save_for_backward(x if needs_weight else None, weight if needs_x else None)  # only what backward uses
        ctx.has_bias = bias is not None
        out = product(_rows(x), weight.T).reshape(x.shape[:-1] + (weight.shape[0],))
        return out if bias is None else out + bias

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved
        flat_grad = _rows(grad)
        grad_x = product(flat_grad, weight).reshape(grad.shape[:-1] + (weight.shape[1],)) if ctx.needs_input_grad[0] else None
        grad_w = product(flat_grad.T, _rows(x)) if ctx.needs_input_grad[1] else None
        grads = (grad_x, grad_w)
        if ctx.has_bias:
            grads += (flat_grad.sum(axis=0),)
        return grads

    @staticmethod
    def graph_backward(ctx, grad):
        """The same formulas on Tensors (for gradients of gradients)."""
        x, weight = ctx.saved
        rows = grad.reshape(-1, grad.shape[-1])
        grad_x = grad @ weight if ctx.needs_input_grad[0] else None
        grad_w = rows.transpose(0, 1) @ x.reshape(-1, x.shape[-1]) if ctx.needs_input_grad[1] else None
        return (grad_x, grad_w) + ((rows.sum(dim=0),) if ctx.has_bias else ())


def _rows(array):
    """``array`` (..., n) as a matrix (rows, n): its leading axes flattened."""
    return array.reshape(-1, array.shape[-1])


def _check_matmul_shapes(op, a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"{op}: both arguments need at least 1 dimension, got shapes {a.shape} and {b.shape}")
    inner_a = a.shape[-1]
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if inner_a != inner_b:
        raise ValueError(
            f"{op}: shapes {a.shape} and {b.shape} cannot be multiplied ({inner_a} != {inner_b})"
        )


def matmul(a, b):
    """Matrix product with NumPy/PyTorch rules: 1-D vectors, batched stacks, broadcasting."""
    a, b = promote_operands("matmul", a, b)
    _check_matmul_shapes("matmul", a, b)
    try:
        return MatMul.apply(a, b)
    except ValueError as error:  # batch dims that do not broadcast
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not broadcast: {error}") from None


def _check_same_dtype(op, a, b):
    """mm, mv and dot do not promote: torch refuses operands of two dtypes."""
    for x in (a, b):
        if not isinstance(x, Tensor):
            raise TypeError(f"{op}: expected Tensors, got {type(x).__name__}")
    if a.dtype != b.dtype:
        raise TypeError(f"{op}: expected both operands to have the same dtype, got {a.dtype} and {b.dtype}")


def _strict_product(op, a, b, ndims):
    """``matmul(a, b)`` once ``a`` and ``b`` have exactly the numbers of dims ``ndims``."""
    _check_same_dtype(op, a, b)
    if (a.ndim, b.ndim) != ndims:
        kinds = {1: "vector", 2: "matrix"}
        expected = " and ".join(f"a {kinds[n]} ({n}-D)" for n in ndims)
        raise ValueError(f"{op}: expected {expected}, got shapes {a.shape} and {b.shape}")
    _check_matmul_shapes(op, a, b)
    return MatMul.apply(a, b)


def mm(input, mat2):
    """Matrix product of two 2-D tensors (no broadcasting, no batches): (n, k) @ (k, m) -> (n, m)."""
    return _strict_product("mm", input, mat2, (2, 2))


def mv(input, vec):
    """Matrix-vector product: (n, m) @ (m,) -> (n,)."""
    return _strict_product("mv", input, vec, (2, 1))


def dot(input, tensor):
    """Dot product of two 1-D tensors of the same length: sum(input * tensor), a 0-d tensor."""
    return _strict_product("dot", input, tensor, (1, 1))


def linear(input, weight, bias=None):
    """y = x W^T + b, PyTorch's layout: ``weight`` is (out_features, in_features)."""
    tensors = promote_operands("linear", input, weight, *([] if bias is None else [bias]))
    x, w = tensors[0], tensors[1]
    if w.ndim != 2 or x.ndim < 1 or x.shape[-1] != w.shape[1]:
        raise ValueError(
            f"linear: input (..., {w.shape[1] if w.ndim == 2 else 'in'}) and weight (out, in) expected, "
            f"got input {x.shape} and weight {w.shape}"
        )
    if bias is not None and tensors[2].shape != (w.shape[0],):
        raise ValueError(f"linear: bias must have shape ({w.shape[0]},), got {tensors[2].shape}")
    return Linear.apply(*tensors)


class VectorNorm(Function):
    """out = (sum |a|^p)^(1/p) over axes; p = inf / -inf: the largest / smallest |a|; p = 0: the
    number of non-zero elements.
    da = g sign(a) |a|^(p-1) / out^(p-1)  (0 where a == 0 or out == 0, as torch);
    p = +-inf: g sign(a), shared among the elements with |a| == out;  p = 0: 0."""

    @staticmethod
    def forward(ctx, a, p=2.0, axes=(), keepdim=False):
        xp = backend.get_array_module(a)
        size = xp.abs(a)
        if p == math.inf:
            out = size.max(axis=axes, keepdims=True)
        elif p == -math.inf:
            out = size.min(axis=axes, keepdims=True)
        elif p == 0:
            out = (size != 0).sum(axis=axes, keepdims=True).astype(a.dtype)
        else:
            out = (size**p).sum(axis=axes, keepdims=True) ** (1 / p)
        out = out if keepdim else out.squeeze(axis=axes)
        ctx.save_for_backward(a, out)
        ctx.p, ctx.axes = p, axes
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved
        xp = backend.get_array_module(a)
        grad, out = kept_dims(grad, ctx.axes, a.shape), kept_dims(out, ctx.axes, a.shape)
        if ctx.p == 0:
            return xp.zeros_like(a)
        if math.isinf(ctx.p):
            return _shared_at_norm(grad, xp.sign(a), xp.abs(a) == out, ctx.axes)
        with float_errors_ignored(xp, divide="ignore", invalid="ignore"):  # the masked 0^(p-1) and g / 0
            scaled = xp.where(a == 0, 0, xp.sign(a) * xp.abs(a) ** (ctx.p - 1))
            scale = xp.where(out == 0, 0, grad / out ** (ctx.p - 1))
        return scaled * scale

    @staticmethod
    def graph_backward(ctx, grad):
        """The same formulas on Tensors; sign(a) and the masks (a == 0, out == 0, |a| == out) are
        piecewise constant: constants."""
        a, out = ctx.saved
        grad, out = kept_dims(grad, ctx.axes, a.shape), kept_dims(out, ctx.axes, a.shape)
        if ctx.p == 0:
            return Tensor(a.xp.zeros_like(a.array))
        sign = a.xp.sign(a.array)
        if math.isinf(ctx.p):
            return _shared_at_norm(grad, sign, a.xp.abs(a.array) == out.array, ctx.axes)
        with float_errors_ignored(a.xp, divide="ignore", invalid="ignore"):
            if ctx.p >= 2:  # a |a|^(p-2), as torch: its slope at a == 0 (1 for p == 2) is not masked away
                scaled = a * abs(a) ** (ctx.p - 2)
            else:
                scaled = where(a.array == 0, 0, sign * abs(a) ** (ctx.p - 1))
            scale = where(out.array == 0, 0, grad / out ** (ctx.p - 1))
        return scaled * scale


def _shared_at_norm(grad, sign, at_norm, axes):
    """The inf-norm's gradient g sign(a), shared among the elements with |a| == out (the mask
    ``at_norm``); ``grad`` an array or a Tensor."""
    return sign * at_norm * grad / at_norm.sum(axis=axes, keepdims=True)


def vector_norm(input, ord=2.0, dim=None, keepdim=False):
    """The p-norm (p = ``ord``) over ``dim`` (all elements by default), as ``torch.linalg.vector_norm``."""
    x = as_floating_tensor("vector_norm", input)
    return VectorNorm.apply(x, p=float(ord), axes=normalize_dims("vector_norm", dim, x.ndim), keepdim=keepdim)


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """x / max(||x||_p, eps) along ``dim``: unit p-norm vectors (a zero vector stays zero)."""
    x = as_floating_tensor("normalize", input)
    return div(x, clamp(vector_norm(x, p, dim, keepdim=True), min=eps))


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """torch.norm: the vector p-norm of ``input`` over ``dim`` (all elements by default), in
    ``dtype`` if given.  ``p`` is a number (2, 1, inf, -inf, 0, ...) or "fro" (the Frobenius
    norm: the 2-norm of the elements, over at most two dims).  The nuclear norm ("nuc") is not
    available: it needs a singular value decomposition."""
    if not isinstance(input, Tensor) or not backend.is_floating(input.dtype if dtype is None else dtype):
        got = f"dtype {input.dtype}" if isinstance(input, Tensor) else type(input).__name__
        raise TypeError(f"norm: expected a floating-point Tensor, got {got}")
    if isinstance(p, str):
        if p != "fro":
            raise ValueError(f"norm: p must be a number or 'fro' ('nuc' is not available), got {p!r}")
        if dim is not None and not isinstance(dim, numbers.Integral) and len(dim) > 2:
            raise ValueError(f"norm: the Frobenius norm takes at most 2 dims, got dim={tuple(dim)}")
        p = 2.0
    x = input if dtype is None else input.to(dtype)
    return vector_norm(x, p, dim, keepdim)
