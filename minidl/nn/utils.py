"""Gradient clipping, as ``torch.nn.utils``: call between ``loss.backward()`` and ``optimizer.step()``.

    loss.backward()
    md.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    optimizer.step()

``clip_grad_norm_`` rescales all gradients together so that their total norm is at most max_norm
(the direction of the step is kept); ``clip_grad_value_`` clamps each element to [-c, c].
Parameters whose ``.grad`` is None are ignored.  On a GPU neither reads a value back to the host
(which would wait for the device), unless ``error_if_nonfinite=True`` asks to look at the norm.
"""
import math

from minidl import backend
from minidl.tensor import Tensor


def _grads(parameters):
    """The gradient arrays of ``parameters`` (one Tensor or an iterable of them) that have one."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad.array for p in params if p.grad is not None]


def _vector_norm(array, norm_type):
    """The p-norm of all elements: (sum |x|^p)^(1/p); max |x| for inf, min |x| for -inf, and for
    p = 0 the number of non-zero elements (as torch.linalg.vector_norm)."""
    xp = backend.get_array_module(array)
    magnitudes = xp.abs(array)
    if norm_type == math.inf:
        return magnitudes.max()
    if norm_type == -math.inf:
        return magnitudes.min()
    if norm_type == 0:
        return xp.count_nonzero(magnitudes).astype(array.dtype)
    if norm_type == 2:
        return xp.sqrt((magnitudes * magnitudes).sum())
    return (magnitudes**norm_type).sum() ** (1 / norm_type)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False):
    """The norm of the vector of all elements of ``tensors`` (computed as the norm of their norms),
    as a 0-d Tensor; 0 for no tensors.  Raises RuntimeError for a nan or infinite norm when
    ``error_if_nonfinite``."""
    arrays = [tensors.array] if isinstance(tensors, Tensor) else [t.array for t in tensors]
    norm_type = float(norm_type)
    if not arrays:
        return Tensor(0.0)
    xp = backend.get_array_module(arrays[0])
    norms = xp.stack([_vector_norm(a, norm_type).astype(xp.result_type(*arrays)) for a in arrays])
    total = _vector_norm(norms, norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"get_total_norm: the total norm of order {norm_type} for gradients from `parameters` is non-finite, "
            "so it cannot be clipped. To disable this error and scale the gradients by the non-finite norm "
            "anyway, set `error_if_nonfinite=False`"
        )
    return Tensor(total)


def clip_grads_with_norm_(parameters, max_norm, total_norm):
    """Scale every gradient, in place, by min(1, max_norm / (total_norm + 1e-6)) (computed on the
    norm's device: Python's ``min`` would read it to the host)."""
    total_norm = total_norm.array if isinstance(total_norm, Tensor) else total_norm
    xp = backend.get_array_module(total_norm)
    coefficient = xp.minimum(max_norm / (total_norm + 1e-6), 1.0)  # in total_norm's dtype, as torch
    for g in _grads(parameters):
        g *= coefficient


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Rescale the gradients of ``parameters`` in place so that their total ``norm_type``-norm
    (all gradients taken as one vector) is at most ``max_norm``:

        g <- g * min(1, max_norm / (total_norm + 1e-6))

    Returns the total norm *before* clipping, a 0-d Tensor (worth logging: spikes show instability).
    """
    if max_norm < 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0, got {max_norm}")
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(params, max_norm, total_norm)
    return total_norm


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient element of ``parameters`` to [-clip_value, clip_value], in place."""
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for g in _grads(parameters):
        backend.get_array_module(g).clip(g, -clip_value, clip_value, out=g)
