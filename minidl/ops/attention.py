"""Scaled dot-product attention, with the attention weights as one fused Function:

    scores  = q @ k^T * scale                 (..., L, S); scale = 1 / sqrt(E) unless given
    weights = softmax(scores + mask)          along S: a bool mask keeps the True positions (the
                                              others get -inf), a float mask is added
    out     = dropout(weights) @ v            (..., L, Ev)

A row whose every score is -inf (every key masked out) has no softmax: its weights are 0, not
NaN, so its output is 0 and it sends no gradient back.  This is what torch 2.13's
``scaled_dot_product_attention`` returns for such rows.
"""
import math

import numpy as np

from minidl import backend
from minidl.autograd import Function
from minidl.ops.dropout import dropout
from minidl.ops.linalg import matmul
from minidl.parallel import product
from minidl.tensor import Tensor


def _softmax_or_zeros(scores):
    """softmax along the last axis, in place in ``scores``: e^(s - max) / sum(e^(s - max)), a row
    of -inf (max = -inf, sum = 0) giving zeros instead of 0/0."""
    xp = backend.get_array_module(scores)
    top = scores.max(axis=-1, keepdims=True)
    scores -= xp.where(xp.isneginf(top), 0, top)
    xp.exp(scores, out=scores)
    total = scores.sum(axis=-1, keepdims=True)
    scores /= xp.where(total == 0, 1, total)
    return scores


class AttentionWeights(Function):
    """W = softmax(q @ k^T * scale + mask) along the last axis (mask: an optional float input);
    ``keep`` (a bool array option) sets the scores where it is False to -inf.

    Backward, with G the upstream gradient (softmax's backward, then the two products):
        dS = W * (G - sum(G * W))        (sum along the last axis; dS is also the mask's gradient)
        dq = dS @ k * scale,   dk = dS^T @ q * scale
    """

    @staticmethod
    def forward(ctx, q, k, *mask, keep, scale):
        xp = backend.get_array_module(q)
        scores = product(q, k.swapaxes(-1, -2)) * scale
        if mask:
            scores += mask[0]
        if keep is not None:
            scores = xp.where(keep, scores, -xp.inf).astype(q.dtype, copy=False)
        weights = _softmax_or_zeros(scores)
        ctx.save_for_backward(q, k, weights)
        ctx.scale, ctx.has_mask = scale, bool(mask)
        return weights

    @staticmethod
    def backward(ctx, grad):
        return _attention_gradients(ctx, grad, *ctx.saved, product, lambda a: a.swapaxes(-1, -2))

    @staticmethod
    def graph_backward(ctx, grad):
        """The same formula on Tensors (for gradients of gradients)."""
        return _attention_gradients(ctx, grad, *ctx.saved, matmul, lambda a: a.transpose(-1, -2))


def _attention_gradients(ctx, grad, q, k, weights, matmul, swap_last_axes):
    """``AttentionWeights``'s backward formula, written once for arrays (``product`` and NumPy's
    swapaxes) and for Tensors (minidl's ``matmul`` and ``transpose``, so that it is recorded)."""
    needs_q, needs_k = ctx.needs_input_grad[:2]
    d_scores = weights * (grad - (grad * weights).sum(-1, keepdims=True))
    d_mask = (d_scores,) if ctx.has_mask else ()
    d_scaled = d_scores * ctx.scale
    d_q = matmul(d_scaled, k) if needs_q else None
    d_k = matmul(swap_last_axes(d_scaled), q) if needs_k else None
    return (d_q, d_k) + d_mask


def _check_inputs(query, key, value):
    for name, x in (("query", query), ("key", key), ("value", value)):
        if not isinstance(x, Tensor):
            raise TypeError(f"scaled_dot_product_attention: expected {name} to be a Tensor, got {type(x).__name__}")
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise ValueError("scaled_dot_product_attention: expected query (..., L, E), key (..., S, E) and value "
                         f"(..., S, Ev) of at least 2 dims, got shapes {query.shape}, {key.shape} and {value.shape}")
    dtypes = {query.dtype, key.dtype, value.dtype}
    if len(dtypes) > 1 or not backend.is_floating(query.dtype):
        raise TypeError("scaled_dot_product_attention: expected query, key and value of one floating dtype, "
                        f"got {query.dtype}, {key.dtype} and {value.dtype}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError("scaled_dot_product_attention: expected query (..., L, E), key (..., S, E) and value "
                         f"(..., S, Ev), got shapes {query.shape}, {key.shape} and {value.shape}")
    try:
        np.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except ValueError:
        raise ValueError("scaled_dot_product_attention: the batch dims of query, key and value do not broadcast, "
                         f"got shapes {query.shape}, {key.shape} and {value.shape}") from None


def _mask_operands(attn_mask, is_causal, scores_shape, like):
    """The mask as Function operands: ``((float mask,) or (), keep or None)``, checked."""
    if is_causal:
        if attn_mask is not None:
            raise ValueError("scaled_dot_product_attention: attn_mask should not be set when is_causal=True")
        length, source = scores_shape[-2:]
        return (), like.xp.tril(like.xp.ones((length, source), dtype=bool))  # query i sees keys 0..i
    if attn_mask is None:
        return (), None
    if not isinstance(attn_mask, Tensor):
        raise TypeError("scaled_dot_product_attention: expected attn_mask to be a Tensor, "
                        f"got {type(attn_mask).__name__}")
    if attn_mask.dtype != bool and not backend.is_floating(attn_mask.dtype):
        raise TypeError("scaled_dot_product_attention: expected attn_mask of dtype bool or floating, "
                        f"got {attn_mask.dtype}")
    fits = attn_mask.ndim <= len(scores_shape) and all(
        m in (1, s) for m, s in zip(attn_mask.shape[::-1], scores_shape[::-1]))
    if not fits:
        raise ValueError(f"scaled_dot_product_attention: expected attn_mask broadcastable to the scores' shape "
                         f"(..., L, S) = {scores_shape}, got shape {attn_mask.shape}")
    if attn_mask.dtype == bool:
        return (), attn_mask.array
    return (attn_mask.to(like.dtype),), None


def attention_weights(query, key, attn_mask=None, is_causal=False, scale=None):
    """softmax(query @ key^T * scale + attn_mask) along the last axis, (..., L, S): the weights of
    ``scaled_dot_product_attention``, with its mask conventions and mask checks (query and key
    are taken to be valid); rows with every key masked out give zeros."""
    scores_shape = np.broadcast_shapes(query.shape[:-2], key.shape[:-2]) + (query.shape[-2], key.shape[-2])
    mask, keep = _mask_operands(attn_mask, is_causal, scores_shape, query)
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    return AttentionWeights.apply(query, key, *mask, keep=keep, scale=scale)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    """softmax(q k^T * scale + mask) v, as ``torch.nn.functional.scaled_dot_product_attention``.

    query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev); batch dims broadcast.
    ``attn_mask``: bool (True = the query may look at that key) or float (added to the scores),
    broadcastable to (..., L, S).  ``is_causal``: query i looks at keys 0..i only (the mask is
    then made here; passing one too is an error).  ``scale``: 1 / sqrt(E) when None.
    ``dropout_p`` > 0 drops weights with that probability (always: pass 0 in eval mode, as
    ``MultiheadAttention`` does).  A query whose every key is masked out gets zeros, as torch.
    """
    _check_inputs(query, key, value)
    weights = attention_weights(query, key, attn_mask, is_causal, scale)
    return matmul(dropout(weights, dropout_p), value)
