"""minidl: a small, readable deep learning engine that checks itself against PyTorch.

    import minidl as md
    x = md.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad          # tensor([2., 4., 6.])
"""
import numpy as _np

from minidl import functional, heap  # noqa: F401  (heap: big freed arrays stay for reuse)
from minidl.grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from minidl.backend import cupy_usable, default_dtype, get_default_dtype, manual_seed, set_default_dtype
from minidl.config import config
from minidl.creation import (
    arange,
    as_tensor,
    empty,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    randperm,
    zeros,
    zeros_like,
)
from minidl.devices import device
from minidl.functional import (
    abs,
    all,
    allclose,
    amax,
    amin,
    any,
    argmax,
    argmin,
    argsort,
    cat,
    chunk,
    clamp,
    clone,
    concatenate,
    cos,
    cumsum,
    dot,
    eq,
    equal,
    erf,
    exp,
    expm1,
    flatten,
    gather,
    ge,
    gt,
    index_select,
    le,
    log,
    log1p,
    logsumexp,
    lt,
    masked_fill,
    matmul,
    max,
    mean,
    min,
    mm,
    mv,
    ne,
    norm,
    permute,
    prod,
    relu,
    reshape,
    round,
    sigmoid,
    sin,
    softmax,
    log_softmax,
    sort,
    split,
    sqrt,
    square,
    squeeze,
    stack,
    std,
    sum,
    tanh,
    topk,
    transpose,
    unsqueeze,
    var,
    where,
)
from minidl.serialization import SerializationError, load, save
from minidl.tensor import Tensor, tensor

# dtypes under torch's names (md.float is float32, md.double float64, md.long int64, md.int int32).
# ``float``, ``int`` and ``bool`` shadow the builtins in this file only, which does not use them.
float16 = half = _np.dtype("float16")
float32 = float = _np.dtype("float32")
float64 = double = _np.dtype("float64")
uint8 = _np.dtype("uint8")
int8 = _np.dtype("int8")
int16 = short = _np.dtype("int16")
int32 = int = _np.dtype("int32")
int64 = long = _np.dtype("int64")
bool = bool_ = _np.dtype("bool")


def is_tensor(obj):
    """True when ``obj`` is a minidl Tensor (a Parameter included)."""
    return isinstance(obj, Tensor)

__version__ = "0.1.0"


def __getattr__(name):
    """Load the heavier subpackages on first use, so ``import minidl`` stays fast."""
    import importlib

    if name in ("compress", "cuda", "data", "ensemble", "keras", "models", "nn", "optim", "testing", "train", "tune", "utils", "viz"):
        return importlib.import_module(f"minidl.{name}")
    raise AttributeError(f"module 'minidl' has no attribute {name!r}")
