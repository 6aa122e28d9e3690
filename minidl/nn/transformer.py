"""The Transformer encoder (Vaswani et al., 2017) as torch.nn has it, and the sinusoidal
positional encoding that torch leaves to its tutorials.

One encoder layer, post-norm (``norm_first=False``, the paper's) or pre-norm:

    post-norm:  x = norm1(x + SA(x));          x = norm2(x + FF(x))
    pre-norm:   x = x + SA(norm1(x));          x = x + FF(norm2(x))

    SA(x) = dropout1(self_attn(x, x, x))       FF(x) = dropout2(linear2(dropout(act(linear1(x)))))
"""
import copy
import math

import numpy as np

from minidl import backend
from minidl import functional as F
from minidl.nn.attention import MultiheadAttention
from minidl.nn.containers import ModuleList
from minidl.nn.layers import Dropout, Linear
from minidl.nn.module import Module
from minidl.nn.normalization import LayerNorm
from minidl.tensor import Tensor

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


def _activation(activation):
    """``"relu"``, ``"gelu"`` or a callable (a function or a module such as ``nn.GELU()``)."""
    if callable(activation):
        return activation
    if activation not in _ACTIVATIONS:
        raise ValueError(f"TransformerEncoderLayer: activation should be relu/gelu or a callable, not {activation!r}")
    return _ACTIVATIONS[activation]


class TransformerEncoderLayer(Module):
    """Self-attention then a two-layer feed-forward network, each with a residual connection and
    a LayerNorm (see the module docstring for where the norms go).

    ``forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False)``: src (S, N, E),
    or (N, S, E) with ``batch_first``, or (S, E); the masks are ``MultiheadAttention``'s
    ``attn_mask`` and ``key_padding_mask``.  Parameter names as torch's: ``self_attn.*``,
    ``linear1``, ``linear2``, ``norm1``, ``norm2``.
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        sizes = dict(bias=bias, device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=batch_first, **sizes)
        self.linear1 = Linear(d_model, dim_feedforward, **sizes)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, **sizes)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, **sizes)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, **sizes)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))


class TransformerEncoder(Module):
    """``num_layers`` deep copies of ``encoder_layer`` (``layers.0``, ``layers.1``, ...: each its
    own weights, all starting equal, as torch), then ``norm`` if given.

    ``forward(src, mask=None, src_key_padding_mask=None, is_causal=None)`` passes the masks to
    every layer.  There are no nested tensors here: ``enable_nested_tensor`` and ``mask_check``
    are accepted and change nothing, and padded positions of the output are computed like the
    others, where torch's inference fast path (eval mode, no grad) sets them to 0.
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        output = src
        for layer in self.layers:
            output = layer(output, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        return output if self.norm is None else self.norm(output)


def sinusoidal_positions(max_len, d_model, dtype=None):
    """The (max_len, d_model) table of Vaswani et al.'s positional encoding, as a NumPy array:

        PE[pos, 2i]     = sin(pos / 10000^(2i / d_model))
        PE[pos, 2i + 1] = cos(pos / 10000^(2i / d_model))
    """
    position = np.arange(max_len)[:, None]
    frequency = np.exp(np.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
    table = np.zeros((max_len, d_model))
    table[:, 0::2] = np.sin(position * frequency)
    table[:, 1::2] = np.cos(position * frequency[: d_model // 2])
    return table.astype(backend.get_default_dtype() if dtype is None else dtype)


class SinusoidalPositionalEncoding(Module):
    """x + PE[:seq_len], then dropout: tells the Transformer where each token is.

    PE is ``sinusoidal_positions(max_len, d_model)`` (the formula there), kept as the buffer
    ``pe`` of shape (max_len, 1, d_model), as PyTorch's tutorial ``PositionalEncoding`` has it.
    torch has no such module.  x is (S, N, d_model), or (N, S, d_model) with ``batch_first``.
    """

    def __init__(self, d_model, max_len=5000, dropout=0.0, batch_first=False, device=None, dtype=None):
        super().__init__()
        self.d_model, self.max_len, self.batch_first = d_model, max_len, batch_first
        self.dropout = Dropout(dropout)
        table = sinusoidal_positions(max_len, d_model, dtype)[:, None, :]
        self.register_buffer("pe", Tensor(backend.to_device(table, device or "cpu")))

    def forward(self, x):
        seq_axis = 1 if self.batch_first else 0
        if x.ndim != 3 or x.shape[-1] != self.d_model or x.shape[seq_axis] > self.max_len:
            raise ValueError(f"SinusoidalPositionalEncoding: expected input of shape "
                             f"({'N, S' if self.batch_first else 'S, N'}, {self.d_model}) with S <= max_len="
                             f"{self.max_len}, got shape {x.shape}")
        positions = self.pe[: x.shape[seq_axis]]  # (S, 1, d_model)
        return self.dropout(x + (F.transpose(positions, 0, 1) if self.batch_first else positions))

    def extra_repr(self):
        return f"d_model={self.d_model}, max_len={self.max_len}, batch_first={self.batch_first}"
