"""Post-training quantization of weights to ``bits``-bit integers (int8 by default), symmetric,
per tensor or per output channel.

For a weight w (or one output channel of it), with ``qmax = 2**(bits - 1) - 1`` (127 for 8 bits,
7 for 4 bits):

    scale = max|w| / qmax           q = clip(round(w / scale), -qmax, qmax)           w ~ q * scale

so each element is off by at most scale / 2: every bit fewer doubles the step and the error.
Per channel, every row (output unit or filter) gets its own scale: a row of small weights is not
rounded on the grid of the largest row, so the error is never larger than per tensor.  ``q`` is
stored in the smallest integer type that holds it (int8 up to 8 bits, int16 up to 16), so 8 bits
take 1 byte per weight instead of 4 (plus one float32 scale per tensor or channel); fewer bits
still take a byte each here (packing two 4-bit values into a byte is a storage format's job).

    qstate = quantize_model(model, per_channel=True)   # bits=8
    model_size_bytes(model), model_size_bytes(qstate)  # about 4x smaller
    load_quantized(model, qstate)                      # the model now runs with w = q * scale
"""
import numbers

import numpy as np

from minidl.compress.pruning import PRUNABLE, prunable_weights

BITS_RANGE = (2, 16)  # 1 bit would leave qmax = 0; int16 holds qmax up to 2**15 - 1


def qmax_for(bits, owner="qmax_for"):
    """``2**(bits - 1) - 1``, the largest integer of a symmetric ``bits``-bit grid; a ValueError
    naming ``owner`` unless ``bits`` is an integer from 2 to 16."""
    low, high = BITS_RANGE
    if isinstance(bits, bool) or not isinstance(bits, numbers.Integral) or not low <= bits <= high:
        raise ValueError(f"{owner}: bits must be an integer from {low} to {high}, got {bits!r}")
    return 2 ** (int(bits) - 1) - 1


def quantize_tensor(w, per_channel=False, bits=8):
    """(q, scale): integers ``q`` shaped like ``w`` and float32 ``scale``, a scalar array or, per
    channel, one value per index of axis 0 shaped ``(C, 1, ..., 1)`` to broadcast against ``q``.

    With ``qmax = 2**(bits - 1) - 1``: ``scale = max|w| / qmax`` and
    ``q = clip(round(w / scale), -qmax, qmax)``, int8 for ``bits`` <= 8, int16 up to 16."""
    qmax = qmax_for(bits, "quantize_tensor")
    w = np.asarray(w, dtype=np.float32)
    axes = tuple(range(1, w.ndim)) if per_channel else None
    if per_channel and w.ndim < 2:
        raise ValueError(f"quantize_tensor: per_channel needs a weight of at least 2 dims, got shape {w.shape}")
    max_abs = np.abs(w).max(axis=axes, keepdims=per_channel)
    scale = np.where(max_abs > 0, max_abs / qmax, 1.0).astype(np.float32)  # an all-zero channel keeps scale 1
    q = np.clip(np.round(w / scale), -qmax, qmax).astype(np.int8 if bits <= 8 else np.int16)
    return q, scale


def dequantize(q, scale):
    """w ~ q * scale, float32."""
    return q.astype(np.float32) * scale


class QuantizedState:
    """A model's state: the quantized weights as integer arrays with their float32 scales
    (``quantized``: name -> (q, scale)), everything else as float arrays (``floats``);
    ``per_channel`` and ``bits`` say how the weights were quantized."""

    def __init__(self, quantized, floats, per_channel, bits=8):
        self.quantized, self.floats, self.per_channel, self.bits = quantized, floats, per_channel, bits

    def dequantized_state_dict(self):
        """name -> float32 array, ready for ``model.load_state_dict``."""
        return {**self.floats, **{name: dequantize(q, scale) for name, (q, scale) in self.quantized.items()}}

    def nbytes(self):
        """Bytes of storage: integer weights (1 byte each up to 8 bits, 2 up to 16) + float32
        scales + the float arrays."""
        quantized = sum(q.nbytes + scale.nbytes for q, scale in self.quantized.values())
        return quantized + sum(a.nbytes for a in self.floats.values())


def quantize_model(model, per_channel=True, layers=PRUNABLE, bits=8):
    """Quantize the ``weight`` of every Linear/Conv2d (or ``layers``) of ``model`` to ``bits``-bit
    integers (``quantize_tensor``: ``scale = max|w| / (2**(bits - 1) - 1)``); keep biases and
    other parameters and buffers as they are.  The model is not changed."""
    qmax_for(bits, "quantize_model")
    weights = prunable_weights(model, layers)
    state = {name: t.numpy() for name, t in model.state_dict().items()}
    quantized = {name: quantize_tensor(state[name], per_channel, bits) for name in weights}
    floats = {name: array for name, array in state.items() if name not in quantized}
    return QuantizedState(quantized, floats, per_channel, bits)


def load_quantized(model, qstate):
    """Load the dequantized weights ``q * scale`` into ``model`` (in place); returns the model."""
    model.load_state_dict(qstate.dequantized_state_dict())
    return model


def model_size_bytes(obj):
    """Storage of a model's parameters and buffers (sum of their ``nbytes``), or of a ``QuantizedState``."""
    if isinstance(obj, QuantizedState):
        return obj.nbytes()
    return sum(t.array.nbytes for t in obj.state_dict().values())
