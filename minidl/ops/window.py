"""Geometry shared by convolution and pooling: argument checks, output sizes, kernel choice."""
import collections
import numbers

from minidl import backend
from minidl.ops.common import as_floating_tensor

Geometry = collections.namedtuple("Geometry", "out_size kernel stride padding dilation")
Geometry.__doc__ = """Pairs (rows, cols): output size, kernel size, stride, top/left padding, dilation."""


def ints(op, name, value, count, minimum):
    """``value`` (an int, or ``count`` ints) as a tuple of ``count`` ints, each at least ``minimum``."""
    values = (value,) * count if isinstance(value, numbers.Integral) else tuple(value)
    if len(values) != count or not all(isinstance(v, numbers.Integral) and v >= minimum for v in values):
        raise ValueError(f"{op}: {name} must be an int or {ints_phrase(count)} >= {minimum}, got {value!r}")
    return tuple(int(v) for v in values)


def ints_phrase(count):
    """How error messages name a tuple of ``count`` ints: "a pair of ints", "a tuple of 1 int"."""
    return "a pair of ints" if count == 2 else f"a tuple of {count} int{'s' * (count > 1)}"


def pair(op, name, value, minimum):
    """``value`` (an int or two ints) as a pair of ints, each at least ``minimum``."""
    return ints(op, name, value, 2, minimum)


SIMULATED_SIZE_LIMIT = 1024  # elements; Numba's CUDA simulator runs each GPU thread as a Python thread


def kernel_module(array):
    """The Numba kernels for ``array``: ``kernels.cuda`` for CuPy arrays, ``kernels.cpu`` otherwise
    (imported on first use, so ``import minidl`` does not load Numba); ``StandInKernels`` for the
    arrays of the CuPy stand-in (``MINIDL_FAKE_CUDA=1``)."""
    if backend.is_cupy_array(array):
        if backend.FAKE_CUDA:
            return StandInKernels()
        from kernels import cuda

        return cuda
    from kernels import cpu

    return cpu


class StandInKernels:
    """The kernels for the CuPy stand-in's arrays, run on the NumPy arrays behind them (written in
    place, as on a device): ``kernels.cuda`` under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``)
    where no array has more than ``SIMULATED_SIZE_LIMIT`` elements, else ``kernels.cpu``, which
    takes the same arguments."""

    def __getattr__(self, name):
        from numba import config

        from kernels import cpu, cuda
        from minidl.fake_cupy.device_array import host_array

        def launch(*args):
            args = [host_array(a) for a in args]
            simulated = config.ENABLE_CUDASIM and all(getattr(a, "size", 0) <= SIMULATED_SIZE_LIMIT for a in args)
            return getattr(cuda if simulated else cpu, name)(*args)

        return launch


def batched_input(op, input, layout):
    """The input as a floating tensor with the axes of ``layout`` ("N, C, H, W" or "N, C, L"); one
    sample (the axes without N) gets a batch axis.  Returns (tensor, was_unbatched)."""
    x = as_floating_tensor(op, input)
    rank = layout.count(",") + 1
    if x.ndim == rank - 1:
        return x.unsqueeze(0), True
    if x.ndim != rank:
        raise ValueError(f"{op}: input must be {rank}-D ({layout}) or {rank - 1}-D ({layout[3:]}), got shape {x.shape}")
    return x, False


def image_input(op, input):
    """``batched_input`` for images (N, C, H, W)."""
    return batched_input(op, input, "N, C, H, W")


def signal_input(op, input):
    """``batched_input`` for signals (N, C, L)."""
    return batched_input(op, input, "N, C, L")


def conv_output_size(size, kernel, stride, pad_total, dilation):
    """floor((size + padding - dilation * (kernel - 1) - 1) / stride) + 1."""
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


def transposed_output_size(size, kernel, stride, pad, dilation, output_padding):
    """(size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1: the input
    size of the convolution whose output size is ``size`` (the largest such, less ``stride - 1``,
    plus ``output_padding``)."""
    return (size - 1) * stride - 2 * pad + dilation * (kernel - 1) + output_padding + 1


def pool_output_size(size, kernel, stride, pad, dilation, ceil_mode):
    """PyTorch's pooling size: like convolution, optionally rounding up (``ceil_mode``), but a
    window may not start in the right/bottom padding."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def check_output_size(op, x, out_size, geometry_text):
    if min(out_size) < 1:
        raise ValueError(
            f"{op}: the kernel does not fit: input of shape {x.shape} with {geometry_text} "
            f"gives an output of size {out_size}; use a smaller kernel, more padding or a larger input"
        )
