"""MultiheadAttention, with torch.nn's arguments, parameter names and layout, masks and outputs.

    q, k, v = query W_q^T + b_q,  key W_k^T + b_k,  value W_v^T + b_v     (each E wide)
    head h:  O_h = softmax(q_h k_h^T / sqrt(d) + mask) v_h                  (d = E / num_heads)
    output = concat(O_1, ..., O_H) W_o^T + b_o

W_q, W_k, W_v are the rows of ``in_proj_weight`` (3E, E) in that order (or ``q_proj_weight``,
``k_proj_weight``, ``v_proj_weight`` when ``kdim``/``vdim`` differ from E), b_q, b_k, b_v the
thirds of ``in_proj_bias``; W_o, b_o are ``out_proj``'s.  The per-head products run as one
batched product over (batch, head); the softmax is ``minidl/ops/attention.py``'s fused op.
"""
import warnings

from minidl import backend
from minidl import functional as F
from minidl.nn import init
from minidl.nn.layers import Linear, empty_parameter
from minidl.nn.module import Module
from minidl.ops.attention import attention_weights
from minidl.tensor import Tensor


class NonDynamicallyQuantizableLinear(Linear):
    """``Linear`` under the name torch gives ``MultiheadAttention.out_proj`` (the same layer)."""


def _check_mask(name, mask):
    if mask is None:
        return
    if not isinstance(mask, Tensor):
        raise TypeError(f"MultiheadAttention: expected {name} to be a Tensor, got {type(mask).__name__}")
    if mask.dtype != bool and not backend.is_floating(mask.dtype):
        raise TypeError(f"MultiheadAttention: only bool and floating types of {name} are supported, got {mask.dtype}")


def _additive(mask, dtype):
    """A mask as a float Tensor to add to the scores: bool True (masked out) -> -inf, False -> 0."""
    if mask.dtype != bool:
        return mask.to(dtype)
    return Tensor(mask.xp.where(mask.array, -mask.xp.inf, 0).astype(dtype))


def _rows(x):
    """(T, N, features) -> (T * N, features): a Linear on 2-D rows is one matrix product."""
    return F.reshape(x, (-1, x.shape[-1]))


class MultiheadAttention(Module):
    """Attention from ``num_heads`` heads of size ``embed_dim // num_heads`` side by side.

    ``forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False)`` -> ``(output, weights or None)``:

    - query (L, N, E), key (S, N, kdim), value (S, N, vdim), output (L, N, E); (N, L, E) ...
      with ``batch_first=True``; or unbatched (L, E), (S, kdim), (S, vdim).
    - ``key_padding_mask`` (N, S): True (or -inf) marks keys to ignore; a float mask is added.
    - ``attn_mask`` (L, S) or (N * num_heads, L, S): True = may NOT attend (the opposite of
      ``scaled_dot_product_attention``'s bool mask); a float mask is added to the scores.
    - weights (N, L, S) averaged over heads, or (N, num_heads, L, S); after dropout, as torch.
    - ``is_causal`` is a hint that ``attn_mask`` is the causal mask; the mask is what is used.

    Training applies dropout ``dropout`` to the attention weights.  ``add_bias_kv`` appends the
    learned ``bias_k``/``bias_v`` to the keys and values, ``add_zero_attn`` a zero key and value.

    One difference: a query whose every key is masked out gets weights 0 and an output of
    ``out_proj``'s bias, where torch gives NaN when ``need_weights=True`` (and zeros, as here,
    with ``need_weights=False``).
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be greater than 0, "
                             f"got embed_dim={embed_dim} and num_heads={num_heads}")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim must be divisible by num_heads, "
                             f"got embed_dim={embed_dim} and num_heads={num_heads}")
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self.head_dim = embed_dim // num_heads
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = empty_parameter((3 * embed_dim, embed_dim), device, dtype)
        else:
            self.q_proj_weight = empty_parameter((embed_dim, embed_dim), device, dtype)
            self.k_proj_weight = empty_parameter((embed_dim, self.kdim), device, dtype)
            self.v_proj_weight = empty_parameter((embed_dim, self.vdim), device, dtype)
        for name in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"):
            if not hasattr(self, name):
                self.register_parameter(name, None)
        self.in_proj_bias = empty_parameter((3 * embed_dim,), device, dtype) if bias else None
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        self.bias_k = empty_parameter((1, 1, embed_dim), device, dtype) if add_bias_kv else None
        self.bias_v = empty_parameter((1, 1, embed_dim), device, dtype) if add_bias_kv else None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        """torch's start: Glorot-uniform projections, zero biases, Glorot-normal bias_k/bias_v
        (out_proj.weight keeps Linear's default)."""
        for weight in (self.in_proj_weight, self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
            if weight is not None:
                init.xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        for extra in (self.bias_k, self.bias_v):
            if extra is not None:
                init.xavier_normal_(extra)

    # ------------------------------------------------------------------ checks
    def _check_inputs(self, query, key, value, key_padding_mask, attn_mask):
        """torch's shape checks; returns whether the input is batched (3-D)."""
        if query.ndim not in (2, 3):
            raise ValueError(f"MultiheadAttention: expected query of shape (L, N, E), (N, L, E) with batch_first "
                             f"or unbatched (L, E), got shape {query.shape}")
        batched = query.ndim == 3
        if key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"MultiheadAttention: expected key and value with query's {query.ndim} dims, got shapes "
                             f"query {query.shape}, key {key.shape}, value {value.shape}")
        for name, x, size in (("query", query, self.embed_dim), ("key", key, self.kdim), ("value", value, self.vdim)):
            if x.shape[-1] != size:
                raise ValueError(f"MultiheadAttention: expected {name} with {size} features in its last dim, "
                                 f"got shape {x.shape}")
        length_and_batch = (lambda x: x.shape[:2]) if batched else (lambda x: x.shape[:1])
        if length_and_batch(key) != length_and_batch(value):
            raise ValueError(f"MultiheadAttention: expected key and value of the same sequence length and batch, "
                             f"got shapes {key.shape} and {value.shape}")
        if batched and query.shape[self._batch_axis] != key.shape[self._batch_axis]:
            raise ValueError(f"MultiheadAttention: expected query and key of the same batch size, "
                             f"got shapes {query.shape} and {key.shape}")
        _check_mask("key_padding_mask", key_padding_mask)
        _check_mask("attn_mask", attn_mask)
        return batched

    def _check_mask_shapes(self, key_padding_mask, attn_mask, batch, length, source):
        if key_padding_mask is not None and tuple(key_padding_mask.shape) != (batch, source):
            raise ValueError(f"MultiheadAttention: expected key_padding_mask of shape (N, S) = {(batch, source)}, "
                             f"got {key_padding_mask.shape}")
        expected = {2: (length, source), 3: (batch * self.num_heads, length, source)}
        if attn_mask is not None and tuple(attn_mask.shape) != expected.get(attn_mask.ndim):
            raise ValueError(f"MultiheadAttention: expected attn_mask of shape (L, S) = {expected[2]} or "
                             f"(N * num_heads, L, S) = {expected[3]}, got {attn_mask.shape}")

    @property
    def _batch_axis(self):
        return 0 if self.batch_first else 1

    # ------------------------------------------------------------------ the computation
    def _project_heads(self, query, key, value, batch_axis):
        """q (N, H, L, d), k and v (N, H, S, d): one product with ``in_proj_weight`` for
        self-attention (query, key and value the same tensor), else one product each."""
        if self._qkv_same_embed_dim and query is key and key is value:
            packed = F.linear(_rows(query), self.in_proj_weight, self.in_proj_bias)
            return self._split_heads(packed, query.shape, batch_axis)
        if self._qkv_same_embed_dim:
            weights = F.unbind(F.reshape(self.in_proj_weight, (3, self.embed_dim, self.embed_dim)))
        else:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        biases = (None,) * 3
        if self.in_proj_bias is not None:
            biases = F.unbind(F.reshape(self.in_proj_bias, (3, self.embed_dim)))
        return [self._split_heads(F.linear(_rows(x), w, b), x.shape, batch_axis)[0]
                for x, w, b in zip((query, key, value), weights, biases)]

    def _split_heads(self, rows, shape, batch_axis):
        """Rows (T * N, P * E) of an input of ``shape`` (T, N, .) or (N, T, .) -> P tensors
        (N, H, T, d): the P projections packed side by side, each cut into its heads."""
        x = F.reshape(rows, shape[:2] + (-1, self.num_heads, self.head_dim))
        return F.unbind(F.permute(x, (2, 1, 3, 0, 4) if batch_axis == 1 else (2, 0, 3, 1, 4)))

    def _merge_heads(self, x, batch_axis):
        """(N, H, L, d) -> rows (L * N, E) or (N * L, E): the inverse of ``_split_heads``."""
        return F.reshape(F.permute(x, (2, 0, 1, 3) if batch_axis == 1 else (0, 2, 1, 3)), (-1, self.embed_dim))

    def _append_to_keys(self, k, v, key_padding_mask, attn_mask):
        """``add_bias_kv`` (bias_k, bias_v as one more key and value) and ``add_zero_attn`` (a zero
        key and value): k, v (N, H, S, d) grow to S + 1 or S + 2; the masks get a column that
        masks nothing."""
        batch = k.shape[0]
        extras = []
        if self.bias_k is not None:
            extras.append((self.bias_k, self.bias_v))
        if self.add_zero_attn:
            zeros = Tensor(k.xp.zeros((1, 1, self.embed_dim), k.dtype))
            extras.append((zeros, zeros))
        heads_shape = (batch, self.num_heads, 1, self.head_dim)
        for extra_k, extra_v in extras:
            k, v = (F.cat([x, F.expand(self._split_heads(extra, extra.shape, 0)[0], heads_shape)], dim=2)
                    for x, extra in ((k, extra_k), (v, extra_v)))
            key_padding_mask, attn_mask = (None if m is None else F.pad(m, (0, 1))
                                           for m in (key_padding_mask, attn_mask))
        return k, v, key_padding_mask, attn_mask

    def _merged_mask(self, key_padding_mask, attn_mask, batch, dtype):
        """One mask for the (N, H, L, S) scores in ``attention_weights``'s convention: bool True =
        may attend (both masks bool), or a float mask to add (torch's ``_canonical_mask``: bool
        True -> -inf, then the two summed)."""
        masks = []
        if attn_mask is not None:
            per_head = (batch, self.num_heads) + attn_mask.shape[1:]
            masks.append(attn_mask if attn_mask.ndim == 2 else F.reshape(attn_mask, per_head))
        if key_padding_mask is not None:
            masks.append(F.reshape(key_padding_mask, (batch, 1, 1, key_padding_mask.shape[-1])))
        if not masks:
            return None
        if all(m.dtype == bool for m in masks):
            masked_out = masks[0].array if len(masks) == 1 else masks[0].array | masks[1].array
            return Tensor(~masked_out)
        additive = [_additive(m, dtype) for m in masks]
        return additive[0] if len(additive) == 1 else additive[0] + additive[1]

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        batched = self._check_inputs(query, key, value, key_padding_mask, attn_mask)
        if is_causal and attn_mask is None:
            raise ValueError("MultiheadAttention: is_causal=True is a hint that attn_mask is the causal mask; "
                             "pass attn_mask too (for a causal mask: True above the diagonal)")
        if key_padding_mask is not None and attn_mask is not None and key_padding_mask.dtype != attn_mask.dtype:
            warnings.warn("Support for mismatched key_padding_mask and attn_mask is deprecated. "
                          "Use same type for both instead.", stacklevel=3)
        if not batched:  # one unsqueeze per distinct tensor: self-attention stays one tensor
            with_batch = {id(x): F.unsqueeze(x, 0) for x in (query, key, value)}
            query, key, value = (with_batch[id(x)] for x in (query, key, value))
            key_padding_mask = None if key_padding_mask is None else F.unsqueeze(key_padding_mask, 0)
        batch_axis = self._batch_axis if batched else 0
        batch, length, source = query.shape[batch_axis], query.shape[1 - batch_axis], key.shape[1 - batch_axis]
        self._check_mask_shapes(key_padding_mask, attn_mask, batch, length, source)
        q, k, v = self._project_heads(query, key, value, batch_axis)
        k, v, key_padding_mask, attn_mask = self._append_to_keys(k, v, key_padding_mask, attn_mask)
        mask = self._merged_mask(key_padding_mask, attn_mask, batch, q.dtype)
        weights = F.dropout(attention_weights(q, k, mask), self.dropout, self.training)
        output = F.reshape(self.out_proj(self._merge_heads(F.matmul(weights, v), batch_axis)), query.shape)
        if need_weights and average_attn_weights:
            weights = F.mean(weights, dim=1)
        if not batched:
            output = F.squeeze(output, 0)
            weights = F.squeeze(weights, 0)
        return output, weights if need_weights else None

