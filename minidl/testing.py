"""Tools to check gradients: numerically (``gradcheck``) and against PyTorch (``check_against_torch``).

Both are used by minidl's own tests and are meant for learners checking an op they wrote.
"""
import numpy as np

from minidl import backend
from minidl.autograd import enable_grad, no_grad
from minidl.exercises import EXERCISES, Verdict, check_exercise, progress
from minidl.ops.arithmetic import where
from minidl.tensor import Tensor, tensor


class GradcheckError(AssertionError):
    """Analytic and numerical gradients disagree."""


def _as_tuple(outputs):
    return tuple(outputs) if isinstance(outputs, (tuple, list)) else (outputs,)


def _float_outputs(outputs):
    return [o for o in _as_tuple(outputs) if isinstance(o, Tensor) and backend.is_floating(o.dtype)]


def _projection(outputs, seed):
    """Fixed random weights r_k, one array per floating output: the checked scalar is sum_k <out_k, r_k>
    (over the finite elements of each output)."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(o.shape) for o in _float_outputs(outputs)]


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Check ``backward`` against central differences, in float64.

    The checked function is L = sum_k <fn(*inputs)_k, r_k> for fixed random r_k (over the finite
    elements of the outputs), so one backward gives every partial derivative dL/dx_i, and each is
    compared with (L(x_i + eps) - L(x_i - eps)) / (2 eps).  Passes when
    |analytic - numeric| <= atol + rtol |numeric| for every element of every input that requires
    grad; otherwise raises ``GradcheckError`` naming the input and element.  Returns True.
    """
    inputs = list(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} must be float64 for central differences, got {inputs[i].dtype}")
    leaves = [x.detach().requires_grad_() if i in checked else x for i, x in enumerate(inputs)]
    outputs = _float_outputs(fn(*leaves))
    weights = [Tensor(backend.to_device(w, o.device)) for o, w in zip(outputs, _projection(outputs, seed))]
    # Only finite outputs count: a max-pool window wholly in the padding is -inf whatever the input,
    # and inf * r would turn L, and with it every comparison below, into nan.
    finite = [o.xp.isfinite(o.array) for o in outputs]

    def objective():
        pairs = zip(_float_outputs(fn(*leaves)), finite, weights)
        return sum(float((o.xp.where(m, o.array, 0) * w.array).sum()) for o, m, w in pairs)

    total = sum((where(m, o, 0.0) * w).sum() for o, m, w in zip(outputs, finite, weights))
    if total.requires_grad:  # else the outputs do not depend on the inputs: every analytic derivative is 0
        total.backward()
    for i in checked:
        leaf = leaves[i]
        analytic = np.zeros(leaf.shape) if leaf.grad is None else backend.to_device(leaf.grad.array, "cpu")
        numeric = np.zeros(leaf.shape)
        with no_grad():
            for index in np.ndindex(leaf.shape):
                original = leaf.array[index].item()
                leaf.array[index] = original + eps
                plus = objective()
                leaf.array[index] = original - eps
                minus = objective()
                leaf.array[index] = original
                numeric[index] = (plus - minus) / (2 * eps)
        bad = np.abs(analytic - numeric) > atol + rtol * np.abs(numeric)
        if bad.any():
            element = tuple(int(k) for k in np.argwhere(bad)[0])
            raise GradcheckError(
                f"gradcheck: input {i} (shape {leaf.shape}) element {element}: analytic {analytic[element]:.10g} "
                f"vs numeric {numeric[element]:.10g}; {int(bad.sum())} of {bad.size} elements differ"
            )
    return True


def gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Check second derivatives, in float64: ``gradcheck`` of the function x -> dL/dx (built with
    ``create_graph=True``), where L = sum_k <fn(*inputs)_k, r_k> for fixed random r_k.  So the
    backward pass of the backward pass is compared with central differences of the gradient.
    Returns True or raises ``GradcheckError`` naming the input and element."""
    from minidl.gradients import grad

    def first_derivatives(*xs):
        with enable_grad():  # gradcheck evaluates it under no_grad too: a gradient needs its graph
            outputs = _float_outputs(fn(*xs))
            total = sum((o * Tensor(backend.to_device(w, o.device))).sum()
                        for o, w in zip(outputs, _projection(outputs, seed)))  # fmt: skip
            wrt = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
            return grad(total, wrt, create_graph=True, materialize_grads=True)

    return gradcheck(first_derivatives, inputs, eps, atol, rtol, seed + 1)


def default_tolerance(dtype):
    """(rtol, atol-relative-to-scale) used for torch parity: 1e-10 in float64, 1e-5 in float32."""
    return (1e-10, 1e-10) if np.dtype(dtype) == np.float64 else (1e-5, 1e-5)


def assert_close(actual, expected, rtol, atol_scale, what):
    """|actual - expected| <= rtol |expected| + atol_scale * max(1, max|expected|), same shape.

    The absolute part keeps values that should be 0 (and come out as 1e-17) from failing a
    purely relative test; it grows with the largest expected value.
    """
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: shape {actual.shape} != expected {expected.shape}")
    finite = np.isfinite(expected)
    scale = float(np.abs(expected[finite]).max()) if finite.any() else 1.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol_scale * max(scale, 1.0), err_msg=what)


def _to_torch(value, requires_grad):
    import torch

    if isinstance(value, np.ndarray):
        return torch.tensor(value, requires_grad=requires_grad)
    return value


def _to_minidl(value, requires_grad):
    return tensor(value, requires_grad=requires_grad) if isinstance(value, np.ndarray) else value


def check_against_torch(md_fn, torch_fn, inputs, grad=True, rtol=None, atol=None, seed=0):
    """Run ``md_fn`` and ``torch_fn`` on the same inputs; compare outputs and input gradients.

    ``inputs``: NumPy arrays (made tensors; floating ones require grad when ``grad``) or other
    values passed unchanged.  The same random upstream gradient is sent into both backward
    passes.  Also checks that minidl did not modify its inputs and that no gradient aliases an
    input or another gradient.  Tolerances default to ``default_tolerance`` of the output dtype.
    """
    import torch

    wants_grad = [grad and isinstance(v, np.ndarray) and backend.is_floating(v.dtype) for v in inputs]
    originals = [v.copy() if isinstance(v, np.ndarray) else None for v in inputs]
    md_inputs = [_to_minidl(v, g) for v, g in zip(inputs, wants_grad)]
    torch_inputs = [_to_torch(v, g) for v, g in zip(inputs, wants_grad)]
    md_out, torch_out = _as_tuple(md_fn(*md_inputs)), _as_tuple(torch_fn(*torch_inputs))
    if len(md_out) != len(torch_out):
        raise AssertionError(f"minidl gave {len(md_out)} outputs, torch {len(torch_out)}")
    for k, (mine, theirs) in enumerate(zip(md_out, torch_out)):
        expected = theirs.detach().numpy()
        if mine.dtype != expected.dtype:
            raise AssertionError(f"output {k}: dtype {mine.dtype} != torch's {expected.dtype}")
        tol = default_tolerance(expected.dtype)
        assert_close(mine.numpy(), expected, rtol or tol[0], atol or tol[1], f"output {k}")
    for k, (md_in, original) in enumerate(zip(md_inputs, originals)):
        if original is not None and not np.array_equal(md_in.numpy(), original, equal_nan=True):
            raise AssertionError(f"input {k} was modified by the minidl op")
    if not any(wants_grad):
        return
    pairs = [(m, t) for m, t in zip(md_out, torch_out) if backend.is_floating(m.dtype) and t.requires_grad]
    upstream = _projection([m for m, _ in pairs], seed)
    sum((m * tensor(u.astype(m.dtype))).sum() for (m, _), u in zip(pairs, upstream)).backward()
    torch.autograd.backward([t for _, t in pairs], [torch.tensor(u, dtype=t.dtype) for (_, t), u in zip(pairs, upstream)])
    grads = []
    for k, (md_in, torch_in, wanted) in enumerate(zip(md_inputs, torch_inputs, wants_grad)):
        if not wanted:
            continue
        expected = np.zeros(torch_in.shape, torch_in.detach().numpy().dtype) if torch_in.grad is None else torch_in.grad.numpy()
        actual = np.zeros_like(expected) if md_in.grad is None else md_in.grad.numpy()
        if md_in.grad is not None and md_in.grad.dtype != md_in.dtype:
            raise AssertionError(f"grad of input {k}: dtype {md_in.grad.dtype} != input dtype {md_in.dtype}")
        tol = default_tolerance(expected.dtype)
        assert_close(actual, expected, rtol or tol[0], atol or tol[1], f"grad of input {k}")
        grads.append(md_in.grad)
    _check_no_aliasing(md_inputs, [g for g in grads if g is not None])


def _check_no_aliasing(inputs, grads):
    arrays = [x.array for x in inputs if isinstance(x, Tensor)]
    for i, g in enumerate(grads):
        for other in arrays + [h.array for h in grads[i + 1 :]]:
            if np.shares_memory(g.array, other):
                raise AssertionError("a gradient shares memory with an input or another gradient")


def _floating(dtype):
    """Whether a minidl (NumPy) or torch dtype is a floating one."""
    return dtype.is_floating_point if hasattr(dtype, "is_floating_point") else backend.is_floating(dtype)


def _hessian_vector_products(lib, fn, inputs, seed):
    """(dL/dx, H v) for L = sum_k <fn(*inputs)_k, r_k> with fixed random r_k and v, in ``lib``
    (minidl or torch): the gradient built with create_graph=True, then the gradient of <dL/dx, v>."""
    to_lib = _to_torch if lib.__name__ == "torch" else _to_minidl
    wants_grad = [isinstance(v, np.ndarray) and backend.is_floating(v.dtype) for v in inputs]
    leaves = [to_lib(v, g) for v, g in zip(inputs, wants_grad)]
    wrt = [x for x, g in zip(leaves, wants_grad) if g]
    outputs = [o for o in _as_tuple(fn(*leaves)) if _floating(o.dtype)]
    draw = np.random.default_rng(seed)
    total = sum((o * lib.tensor(draw.standard_normal(tuple(o.shape)))).sum() for o in outputs)
    firsts = lib.autograd.grad(total, wrt, create_graph=True, materialize_grads=True)
    rng = np.random.default_rng(seed + 1)
    directional = sum((g * lib.tensor(rng.standard_normal(tuple(g.shape)))).sum() for g in firsts)
    if not directional.requires_grad:  # the gradient does not depend on the inputs: H v = 0
        seconds = [np.zeros(tuple(x.shape)) for x in wrt]
    else:
        seconds = [_numpy(h) for h in lib.autograd.grad(directional, wrt, materialize_grads=True)]
    return [_numpy(g) for g in firsts] + seconds


def _numpy(tensor):
    """A minidl or torch tensor's values (torch's "ZeroTensor", a known-zero gradient, included)."""
    tensor = tensor.detach()
    return tensor.numpy(force=True) if hasattr(tensor, "resolve_conj") else tensor.numpy()


def check_hvp_against_torch(md_fn, torch_fn, inputs, rtol=1e-9, atol=1e-9, seed=0):
    """Second derivatives against torch, in float64: the gradient of L = sum_k <out_k, r_k> built
    with ``create_graph=True`` and the Hessian-vector product (the gradient of <dL/dx, v>) for
    every floating input, compared with torch's on the same inputs, r and v."""
    import torch

    import minidl

    mine = _hessian_vector_products(minidl, md_fn, inputs, seed)
    theirs = _hessian_vector_products(torch, torch_fn, inputs, seed)
    half = len(mine) // 2
    for k, (a, b) in enumerate(zip(mine, theirs)):
        what = f"{'gradient' if k < half else 'Hessian-vector product'} of input {k % half}"
        assert_close(a, b, rtol, atol, what)
