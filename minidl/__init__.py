"""minidl: a small, readable deep learning engine that checks itself against PyTorch.

    import minidl as md
    x = md.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad          # tensor([2., 4., 6.])
"""
import numpy as _np

from minidl import functional, heap  # noqa: F401  (heap: big freed arrays stay for reuse)
from minidl.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from minidl.backend import cupy_usable, default_dtype, get_default_dtype, manual_seed, set_default_dtype
from minidl.config import config
from minidl.creation import arange, full, full_like, ones, ones_like, rand, randn, zeros, zeros_like
from minidl.functional import (
    abs,
    amax,
    amin,
    argmax,
    argmin,
    cat,
    clamp,
    concatenate,
    exp,
    flatten,
    log,
    logsumexp,
    matmul,
    max,
    mean,
    min,
    permute,
    reshape,
    sigmoid,
    softmax,
    log_softmax,
    sqrt,
    squeeze,
    stack,
    std,
    sum,
    tanh,
    transpose,
    unsqueeze,
    var,
    where,
)
from minidl.serialization import SerializationError, load, save
from minidl.tensor import Tensor, tensor

float32 = _np.dtype("float32")
float64 = _np.dtype("float64")
int64 = _np.dtype("int64")
int32 = _np.dtype("int32")
bool_ = _np.dtype("bool")

__version__ = "0.1.0"


def __getattr__(name):
    """Load the heavier subpackages on first use, so ``import minidl`` stays fast."""
    import importlib

    if name in ("compress", "data", "ensemble", "keras", "models", "nn", "optim", "testing", "train", "tune", "viz"):
        return importlib.import_module(f"minidl.{name}")
    raise AttributeError(f"module 'minidl' has no attribute {name!r}")
