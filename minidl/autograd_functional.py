"""``md.autograd.functional``: derivatives of a whole function, as ``torch.autograd.functional``:

    output, vjp = vjp(f, x, v)     # v^T J          (one backward pass)
    output, jvp = jvp(f, x, v)     # J v            (two backward passes: the "double-vjp" trick)
    output, hvp = hvp(f, x, v)     # H v            (a backward pass of a backward pass)
    hessian(f, x), jacobian(f, x)  # whole matrices, one pass per row: for small inputs

``inputs`` is a Tensor or a tuple of Tensors (results come back in the same form); the function
is run on detached copies that require grad, so the caller's tensors are not touched.
"""
from minidl import creation
from minidl.gradients import grad
from minidl.ops.shape import stack
from minidl.tensor import Tensor


def _prepare(inputs):
    """(tuple of fresh leaves that require grad, whether ``inputs`` was a single Tensor)."""
    single = isinstance(inputs, Tensor)
    inputs = (inputs,) if single else tuple(inputs)
    return tuple(x.detach().requires_grad_() for x in inputs), single


def _result(values, single):
    return values[0] if single else tuple(values)


def _zero_if_none(grads, like):
    return tuple(creation.zeros_like(x) if g is None else g for g, x in zip(grads, like))


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the gradient of <func(inputs), v> with respect to each input
    (``v`` may be None for a scalar output)."""
    leaves, single = _prepare(inputs)
    output = func(*leaves)
    grads = grad(output, leaves, grad_outputs=v, create_graph=create_graph, allow_unused=True)
    return output if create_graph else output.detach(), _result(_zero_if_none(grads, leaves), single)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v) by the double-vjp trick: g(u) = J^T u is linear in a dummy u, so its
    gradient with respect to u along v is J v."""
    leaves, single = _prepare(inputs)
    output = func(*leaves)
    dummy = creation.zeros_like(output).requires_grad_()
    transposed = grad(output, leaves, grad_outputs=dummy, create_graph=True, allow_unused=True)
    used = [(g, direction) for g, direction in zip(transposed, (v,) if single else v) if g is not None]
    (forward,) = grad([g for g, _ in used], dummy, grad_outputs=[d for _, d in used], create_graph=create_graph)
    return output.detach(), forward


def hvp(func, inputs, v, create_graph=False, strict=False):
    """(func(inputs), H v) for a scalar func: the gradient of <grad func, v>."""
    leaves, single = _prepare(inputs)
    output = func(*leaves)
    first = grad(output, leaves, create_graph=True, materialize_grads=True)
    vs = (v,) if single else tuple(v)
    pairs = [(g, direction) for g, direction in zip(first, vs) if g.requires_grad]
    if not pairs:
        return output.detach(), _result(tuple(creation.zeros_like(x) for x in leaves), single)
    second = grad([g for g, _ in pairs], leaves, grad_outputs=[d for _, d in pairs], create_graph=create_graph,
                  allow_unused=True)
    return output.detach(), _result(_zero_if_none(second, leaves), single)


def jacobian(func, inputs, create_graph=False):
    """d func / d input, of shape output shape + input shape (one backward pass per output element).
    Single input only."""
    (x,), _ = _prepare(inputs if isinstance(inputs, Tensor) else _single(inputs, "jacobian"))
    output = func(x)
    rows = []
    for index in range(output.numel()):
        basis = output.xp.zeros(output.numel(), dtype=output.dtype)
        basis[index] = 1  # the gradient of output element ``index``: one row of the Jacobian
        (row,) = grad(output, x, grad_outputs=Tensor(basis.reshape(output.shape)), retain_graph=True,
                      create_graph=create_graph, materialize_grads=True)
        rows.append(row.reshape(-1))
    return stack(rows).reshape(tuple(output.shape) + tuple(x.shape))


def hessian(func, inputs, create_graph=False):
    """The matrix of second derivatives of a scalar func, of shape input shape + input shape
    (the Jacobian of its gradient).  Single input only."""
    x = inputs if isinstance(inputs, Tensor) else _single(inputs, "hessian")

    def gradient(y):
        return grad(func(y), y, create_graph=True, materialize_grads=True)[0]

    return jacobian(gradient, x, create_graph=create_graph)


def _single(inputs, name):
    inputs = tuple(inputs)
    if len(inputs) != 1:
        raise NotImplementedError(f"{name}: one input Tensor only, got {len(inputs)}")
    return inputs[0]
