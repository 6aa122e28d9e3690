"""Weight initialisation, as ``torch.nn.init``: each function overwrites ``t.array`` in place
and returns ``t``.

Writing into ``.array`` is never recorded by autograd, so these work on Parameters that require
grad.  Random numbers come from minidl's generator (``md.manual_seed`` makes them repeatable),
drawn on the CPU and then copied to the tensor's device.

fan_in / fan_out: how many inputs feed one output unit and how many outputs one input feeds;
for a weight (out, in, k1, k2, ...) they are in * k1 * k2 ... and out * k1 * k2 ...
"""
import math
import numbers

import numpy as np

from minidl import backend
from minidl.versions import bump


def _fill(tensor, values):
    """Write ``values`` (an array of tensor's shape, or a number) into ``tensor.array``; return tensor."""
    array = np.asarray(values).astype(tensor.dtype, copy=False)
    tensor.array[...] = backend.to_device(array, tensor.device)
    bump(tensor)
    return tensor


def calculate_gain(nonlinearity, param=None):
    """The gain that keeps activations' variance steady through ``nonlinearity``:
    1 for linear/conv/sigmoid, 5/3 for tanh, sqrt(2) for relu,
    sqrt(2 / (1 + negative_slope^2)) for leaky_relu (slope ``param``, default 0.01), 3/4 for selu."""
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
    if nonlinearity in linear or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, numbers.Real):
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) = (in * receptive field, out * receptive field) for a weight of shape
    (out, in, *kernel), the receptive field being the product of the kernel sizes (1 for 2-D)."""
    if tensor.ndim < 2:
        raise ValueError(
            f"init: fan in and fan out need a tensor with at least 2 dimensions (out, in, ...), "
            f"got shape {tuple(tensor.shape)}"
        )
    receptive_field = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _calculate_correct_fan(tensor, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a=0.0, b=1.0):
    """Fill with samples of U(a, b)."""
    return _fill(tensor, backend.get_rng().uniform(a, b, tensor.shape))


def normal_(tensor, mean=0.0, std=1.0):
    """Fill with samples of N(mean, std^2)."""
    return _fill(tensor, backend.get_rng().normal(mean, std, tensor.shape))


def constant_(tensor, val):
    """Fill with ``val``."""
    return _fill(tensor, val)


def zeros_(tensor):
    return _fill(tensor, 0)


def ones_(tensor):
    return _fill(tensor, 1)


def _xavier_std(tensor, gain):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return gain * math.sqrt(2.0 / (fan_in + fan_out))


def xavier_uniform_(tensor, gain=1.0):
    """Glorot: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))  (std = a / sqrt 3)."""
    bound = math.sqrt(3.0) * _xavier_std(tensor, gain)
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain=1.0):
    """Glorot: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    return normal_(tensor, 0.0, _xavier_std(tensor, gain))


def _kaiming_std(tensor, a, mode, nonlinearity):
    return calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """He: U(-bound, bound) with bound = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a)
    and fan = fan_in or fan_out (``mode``)."""
    if tensor.numel() == 0:
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """He: N(0, std^2) with std = gain / sqrt(fan), gain = calculate_gain(nonlinearity, a)
    and fan = fan_in or fan_out (``mode``)."""
    if tensor.numel() == 0:
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity))
