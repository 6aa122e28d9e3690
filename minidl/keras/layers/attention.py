"""MultiHeadAttention with Keras's arguments, call signature and weight shapes.

    q = query @ Wq + bq   (B, T, H, key_dim)     Wq (query_dim, H, key_dim), bq (H, key_dim)
    k = key   @ Wk + bk   (B, S, H, key_dim)     Wk (key_dim_in, H, key_dim), bk (H, key_dim)
    v = value @ Wv + bv   (B, S, H, value_dim)   Wv (value_dim_in, H, value_dim), bv (H, value_dim)
    scores = softmax(q k^T / sqrt(key_dim)) per head, where attention_mask allows   (B, H, T, S)
    output = sum over heads and value dims of dropout(scores) v Wo + bo,  Wo (H, value_dim, out), bo (out,)

Each projection is an ``md.nn.Linear`` whose weight is Keras's kernel flattened to
(in, H * dim) and transposed; ``get_weights()`` gives Keras's shapes and order (query kernel
and bias, key, value, output).  The attention itself is ``md.functional``'s fused softmax.
"""
import numpy as np

from minidl import backend
from minidl import functional as F
from minidl import nn
from minidl.keras import initializers, regularizers
from minidl.keras.config import serialize
from minidl.keras.layers.base import Layer, copy_into
from minidl.ops.attention import attention_weights
from minidl.tensor import Tensor


class MultiHeadAttention(Layer):
    """Keras's ``MultiHeadAttention(num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
    output_shape=None, attention_axes=None, kernel_initializer="glorot_uniform",
    bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None)``.

    Called as ``layer(query, value, key=None, attention_mask=None, return_attention_scores=False,
    training=None, use_causal_mask=False)`` on (batch, T, features) tensors (``key`` defaults
    to ``value``); returns (batch, T, out) (``out`` = query's features, or ``output_shape``),
    and the (batch, num_heads, T, S) scores (before dropout) with ``return_attention_scores``.
    ``attention_mask`` (batch, T, S): True or nonzero where query t may attend to key s.
    ``training=None`` follows the layer's mode (``train()``/``eval()``), as md.keras's Dropout.

    It takes several inputs, so it lives in functional models (``keras.Model(inputs, outputs)``)
    or is called directly.  What md.keras leaves out: inputs of other ranks than 3 and ``attention_axes``
    other than the sequence axis; Keras's implicit masks (``query_mask``...).  A query whose
    every key is masked out gets zero scores, and an output of the output bias (Keras gives
    uniform scores 1/S on its explicit path).
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 attention_axes=None, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(None, **kwargs)
        self.num_heads, self.key_dim = num_heads, key_dim
        self.value_dim = key_dim if value_dim is None else value_dim
        self.dropout, self.use_bias = dropout, use_bias
        self.output_shape_setting = (output_shape,) if isinstance(output_shape, int) else output_shape
        if self.output_shape_setting is not None and len(self.output_shape_setting) != 1:
            raise NotImplementedError(f"{self.name}: md.keras supports an output_shape of one dim (an int), "
                                      f"got {output_shape!r}")
        self.attention_axes = (attention_axes,) if isinstance(attention_axes, int) else attention_axes
        if self.attention_axes not in (None, (1,), (-2,), [1], [-2]):
            raise NotImplementedError(f"{self.name}: md.keras attends along the sequence axis only "
                                      f"(attention_axes=None or 1), got attention_axes={attention_axes!r}")
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    # ------------------------------------------------------------------ weights
    def build(self, query_shape, value_shape, key_shape):
        """The four projections, with Keras's initial values: kernels (in, H, dim) and
        (H, value_dim, out) from ``kernel_initializer``, biases from ``bias_initializer``."""
        out = query_shape[-1] if self.output_shape_setting is None else self.output_shape_setting[0]
        self.projections = []  # (Linear, Keras kernel shape, Keras bias shape) in Keras's order
        for name, features, heads_shape in (("query_dense", query_shape[-1], (self.num_heads, self.key_dim)),
                                            ("key_dense", key_shape[-1], (self.num_heads, self.key_dim)),
                                            ("value_dense", value_shape[-1], (self.num_heads, self.value_dim))):
            self.projections.append(self._projection(name, (features,) + heads_shape, heads_shape))
        self.projections.append(self._projection("output_dense", (self.num_heads, self.value_dim, out), (out,)))
        initial = []
        for _, kernel_shape, bias_shape in self.projections:
            initial.append(self.kernel_initializer(kernel_shape))
            if self.use_bias:
                initial.append(self.bias_initializer(bias_shape))
        self.assign_keras_weights(initial)

    def _projection(self, name, kernel_shape, bias_shape):
        in_features = int(np.prod(kernel_shape)) // int(np.prod(bias_shape))
        linear = nn.Linear(in_features, int(np.prod(bias_shape)), bias=self.use_bias)
        setattr(self, name, linear)
        self.regularize(linear.weight, self.kernel_regularizer)
        if self.use_bias:
            self.regularize(linear.bias, self.bias_regularizer)
        return linear, kernel_shape, bias_shape

    def keras_weights(self):
        weights = []
        for linear, kernel_shape, bias_shape in self.projections:
            weights.append(linear.weight.numpy().T.reshape(kernel_shape))
            if self.use_bias:
                weights.append(linear.bias.numpy().reshape(bias_shape))
        return weights

    def assign_keras_weights(self, arrays):
        arrays = iter(arrays)
        for linear, _, _ in self.projections:
            copy_into(linear.weight, np.reshape(next(arrays), (linear.in_features, -1)).T)
            if self.use_bias:
                copy_into(linear.bias, np.reshape(next(arrays), -1))

    # ------------------------------------------------------------------ running
    def _check_inputs(self, query, value, key):
        shapes = tuple(tuple(x.shape) for x in (query, value, key))
        if any(len(shape) != 3 for shape in shapes):
            raise NotImplementedError(f"{self.name}: md.keras takes query, value and key of shape (batch, T, features), "
                                      f"got shapes {shapes[0]}, {shapes[1]} and {shapes[2]}")
        if shapes[1][:-1] != shapes[2][:-1]:
            raise ValueError(f"{self.name}: All dimensions of `value` and `key`, except the last one, must be equal. "
                             f"Received: value_shape={shapes[1]} and key_shape={shapes[2]}")
        if shapes[0][0] != shapes[1][0]:
            raise ValueError(f"{self.name}: expected query and value of the same batch size, got shapes "
                             f"{shapes[0]} and {shapes[1]}")
        if self.built:
            built = tuple(linear.in_features for linear, _, _ in self.projections[:3])
            if (shapes[0][-1], shapes[2][-1], shapes[1][-1]) != built:
                raise ValueError(f"{self.name}: the layer was built for query, key and value with {built[0]}, "
                                 f"{built[1]} and {built[2]} features, got shapes query {shapes[0]}, "
                                 f"value {shapes[1]} and key {shapes[2]}")

    def _allowed(self, attention_mask, use_causal_mask, length, source, xp):
        """The (batch, 1, T, S) bool mask of the query-key pairs that may attend, or None."""
        allowed = None
        if attention_mask is not None:
            array = attention_mask.array if isinstance(attention_mask, Tensor) else xp.asarray(attention_mask)
            if array.ndim > 3 or any(m not in (1, n) for m, n in zip(array.shape[::-1], (source, length))):
                raise ValueError(f"{self.name}: expected attention_mask of shape (batch, T, S) = "
                                 f"(batch, {length}, {source}), got shape {array.shape}")
            allowed = array.astype(bool).reshape(array.shape[:-2] + (1,) + array.shape[-2:])
        if use_causal_mask:
            causal = xp.tril(xp.ones((length, source), bool))
            allowed = causal if allowed is None else allowed & causal
        return None if allowed is None else Tensor(allowed)

    def _heads(self, linear, x, size):
        """(B, T, in) -> the projection split into heads, (B, H, T, size)."""
        return F.permute(F.reshape(linear(x), x.shape[:2] + (self.num_heads, size)), (0, 2, 1, 3))

    def forward(self, query, value, key=None, attention_mask=None, return_attention_scores=False, training=None,
                use_causal_mask=False):
        key = value if key is None else key
        query, value, key = (x if isinstance(x, Tensor) else Tensor(np.asarray(x, backend.get_default_dtype()))
                             for x in (query, value, key))
        self._check_inputs(query, value, key)
        if not self.built:
            self.build(tuple(query.shape), tuple(value.shape), tuple(key.shape))
            self.built_input_shape, self.built = (None,) + tuple(query.shape[1:]), True
        q_dense, k_dense, v_dense, output_dense = (linear for linear, _, _ in self.projections)
        q, k, v = (self._heads(q_dense, query, self.key_dim), self._heads(k_dense, key, self.key_dim),
                   self._heads(v_dense, value, self.value_dim))
        scores = attention_weights(q, k, self._allowed(attention_mask, use_causal_mask, query.shape[1], key.shape[1],
                                                           query.xp))
        training = self.training if training is None else training
        heads = F.matmul(F.dropout(scores, self.dropout, training), v)  # (B, H, T, value_dim)
        output = output_dense(F.reshape(F.permute(heads, (0, 2, 1, 3)), query.shape[:2] + (-1,)))
        return (output, scores) if return_attention_scores else output

    def get_config(self):
        return self.base_config(
            num_heads=self.num_heads, key_dim=self.key_dim, value_dim=self.value_dim, dropout=self.dropout,
            use_bias=self.use_bias, output_shape=self.output_shape_setting, attention_axes=self.attention_axes,
            kernel_initializer=serialize(self.kernel_initializer), bias_initializer=serialize(self.bias_initializer),
            kernel_regularizer=serialize(self.kernel_regularizer), bias_regularizer=serialize(self.bias_regularizer))
