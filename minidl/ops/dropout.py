"""Dropout: during training, zero elements (or whole channels) at random with probability p and
scale the rest by 1 / (1 - p), so that the expected value of every element is unchanged."""
import warnings

from minidl import backend
from minidl.ops.arithmetic import mul
from minidl.ops.common import as_floating_tensor
from minidl.tensor import Tensor


def _check_probability(op, p):
    if not 0 <= p <= 1:
        raise ValueError(f"{op}: probability has to be between 0 and 1, got {p}")


_device_generator = (None, None)  # (the minidl generator it was seeded from, the CuPy generator)


def _generator(x):
    """The random generator for the mask of ``x``: minidl's own (``md.manual_seed``) on the CPU.
    On CUDA, a CuPy generator that draws on the device, so no mask is copied there at every
    forward; it is seeded from minidl's generator and made anew after each ``md.manual_seed``
    (which replaces that generator), so a seed still makes runs repeatable on the device."""
    global _device_generator
    host = backend.get_rng()
    if x.device == "cpu":
        return host
    seeded_from, generator = _device_generator
    if seeded_from is not host:
        generator = x.xp.random.default_rng(int(host.integers(2**63)))
        _device_generator = (host, generator)
    return generator


def _dropped(x, p, mask_shape):
    """x * mask / (1 - p), mask ~ Bernoulli(1 - p) of ``mask_shape`` (broadcast over x), drawn on
    x's device; the gradient flows through the same mask."""
    keep = _generator(x).random(mask_shape) >= p
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    return mul(x, Tensor((keep * scale).astype(x.dtype)))


def _drop(op, x, p, mask_shape, inplace):
    """``_dropped``, written into ``x`` itself when ``inplace`` (torch's ``dropout_``)."""
    if inplace:
        return x._apply_inplace(f"{op}_", _dropped, p, mask_shape)
    return _dropped(x, p, mask_shape)


def dropout(input, p=0.5, training=True, inplace=False):
    """out = x * mask / (1 - p), one Bernoulli(1 - p) draw per element.  The input itself when
    not training or p == 0; with ``inplace=True`` the result is written into the input."""
    _check_probability("dropout", p)
    x = as_floating_tensor("dropout", input)
    if not training or p == 0:
        return x
    return _drop("dropout", x, p, x.shape, inplace)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Channel dropout for (N, C, H, W) feature maps: each channel ``x[n, c]`` is zeroed as a
    whole with probability p, the kept ones scaled by 1 / (1 - p) (mask of shape (N, C, 1, 1)).

    As PyTorch, other ranks are accepted with a warning and drop along dims 0 and 1: a 3-D input
    is read as (N, C, L), not as an unbatched image; a 2-D one (N, C) drops single elements.
    """
    _check_probability("dropout2d", p)
    x = as_floating_tensor("dropout2d", input)
    if x.ndim < 2:
        raise ValueError(f"dropout2d: expected an input with at least 2 dims (N, C, ...), got shape {x.shape}")
    if x.ndim == 3:
        warnings.warn(
            f"dropout2d: received a 3-D input of shape {x.shape}, read as (N, C, L) as PyTorch does (whole rows "
            "x[n, c] are dropped), not as an unbatched image (C, H, W); add a batch dim with unsqueeze(0) for that",
            UserWarning,
            stacklevel=2,
        )
    elif x.ndim != 4:
        warnings.warn(
            f"dropout2d: expected a 4-D input (N, C, H, W), got shape {x.shape}; PyTorch deprecates other ranks "
            "(use dropout for elementwise dropout)",
            UserWarning,
            stacklevel=2,
        )
    if not training or p == 0:
        return x
    return _drop("dropout2d", x, p, x.shape[:2] + (1,) * (x.ndim - 2), inplace)
