"""Post-training int8 quantization of weights, symmetric, per tensor or per output channel.

For a weight w (or one output channel of it):

    scale = max|w| / 127           q = clip(round(w / scale), -127, 127)  (int8)      w ~ q * scale

so each element is off by at most scale / 2.  Per channel, every row (output unit or filter) gets
its own scale: a row of small weights is not rounded on the grid of the largest row, so the error
is never larger than per tensor.  Storage drops from 4 bytes to 1 per weight (plus one float32
scale per tensor or channel).

    qstate = quantize_model(model, per_channel=True)
    model_size_bytes(model), model_size_bytes(qstate)  # about 4x smaller
    load_quantized(model, qstate)                      # the model now runs with w = q * scale
"""
import numpy as np

from minidl.compress.pruning import PRUNABLE, prunable_weights

QMAX = 127


def quantize_tensor(w, per_channel=False):
    """(q, scale): int8 ``q`` shaped like ``w`` and float32 ``scale``, a scalar array or, per
    channel, one value per index of axis 0 shaped ``(C, 1, ..., 1)`` to broadcast against ``q``."""
    w = np.asarray(w, dtype=np.float32)
    axes = tuple(range(1, w.ndim)) if per_channel else None
    if per_channel and w.ndim < 2:
        raise ValueError(f"quantize_tensor: per_channel needs a weight of at least 2 dims, got shape {w.shape}")
    max_abs = np.abs(w).max(axis=axes, keepdims=per_channel)
    scale = np.where(max_abs > 0, max_abs / QMAX, 1.0).astype(np.float32)  # an all-zero channel keeps scale 1
    q = np.clip(np.round(w / scale), -QMAX, QMAX).astype(np.int8)
    return q, scale


def dequantize(q, scale):
    """w ~ q * scale, float32."""
    return q.astype(np.float32) * scale


class QuantizedState:
    """A model's state: the quantized weights as int8 arrays with their float32 scales
    (``quantized``: name -> (q, scale)), everything else as float arrays (``floats``)."""

    def __init__(self, quantized, floats, per_channel):
        self.quantized, self.floats, self.per_channel = quantized, floats, per_channel

    def dequantized_state_dict(self):
        """name -> float32 array, ready for ``model.load_state_dict``."""
        return {**self.floats, **{name: dequantize(q, scale) for name, (q, scale) in self.quantized.items()}}

    def nbytes(self):
        """Bytes of storage: int8 weights + float32 scales + the float arrays."""
        quantized = sum(q.nbytes + scale.nbytes for q, scale in self.quantized.values())
        return quantized + sum(a.nbytes for a in self.floats.values())


def quantize_model(model, per_channel=True, layers=PRUNABLE):
    """Quantize the ``weight`` of every Linear/Conv2d (or ``layers``) of ``model`` to int8; keep
    biases and other parameters and buffers as they are.  The model is not changed."""
    weights = prunable_weights(model, layers)
    state = {name: t.numpy() for name, t in model.state_dict().items()}
    quantized = {name: quantize_tensor(state[name], per_channel) for name in weights}
    floats = {name: array for name, array in state.items() if name not in quantized}
    return QuantizedState(quantized, floats, per_channel)


def load_quantized(model, qstate):
    """Load the dequantized weights ``q * scale`` into ``model`` (in place); returns the model."""
    model.load_state_dict(qstate.dequantized_state_dict())
    return model


def model_size_bytes(obj):
    """Storage of a model's parameters and buffers (sum of their ``nbytes``), or of a ``QuantizedState``."""
    if isinstance(obj, QuantizedState):
        return obj.nbytes()
    return sum(t.array.nbytes for t in obj.state_dict().values())
