"""Dropout: zero each element with probability p during training, scale the rest by 1 / (1 - p)."""
from minidl import backend
from minidl.ops.arithmetic import mul
from minidl.ops.common import as_floating_tensor
from minidl.tensor import Tensor


def dropout(input, p=0.5, training=True):
    """out = x * mask / (1 - p), mask ~ Bernoulli(1 - p) from minidl's generator;
    the gradient flows through the same mask.  Identity when not training or p == 0."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: probability has to be between 0 and 1, got {p}")
    x = as_floating_tensor("dropout", input)
    if not training or p == 0:
        return x
    keep = backend.get_rng().random(x.shape) >= p
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    mask = backend.to_device((keep * scale).astype(x.dtype), x.device)
    return mul(x, Tensor(mask))
