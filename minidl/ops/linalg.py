"""Matrix products: matmul (batched, NumPy's rules) and the fused affine map of ``Linear``."""
from minidl.autograd import Function, sum_to_shape
from minidl.ops.common import promote_operands
from minidl.parallel import product


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
    dx = g @ W,  dW = g^T @ x (summed over all leading axes),  db = g summed over leading axes."""

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        ctx.save_for_backward(x, weight)
        out = product(x, weight.T)
        return out if bias is None else out + bias

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved
        grad_x = product(grad, weight) if ctx.needs_input_grad[0] else None
        flat_grad = grad.reshape(-1, grad.shape[-1])
        grad_w = product(flat_grad.T, x.reshape(-1, x.shape[-1])) if ctx.needs_input_grad[1] else None
        grads = (grad_x, grad_w)
        if len(ctx.needs_input_grad) == 3:
            grads += (flat_grad.sum(axis=0),)
        return grads


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
