"""2-D max and average pooling on the Numba kernels, with PyTorch's arguments and output sizes."""
from minidl import backend
from minidl.autograd import Function
from minidl.ops.window import Geometry, check_output_size, image_input, kernel_module, pair, pool_output_size


class MaxPool2d(Function):
    """out = max over each window, argmax = where it was (flat h * W + w, PyTorch's ``indices``);
    dx = g routed to each window's argmax (ties: the first maximum, as PyTorch)."""

    @staticmethod
    def forward(ctx, x, geometry=None):
        xp = backend.get_array_module(x)
        shape = x.shape[:2] + geometry.out_size
        out, argmax = xp.empty(shape, dtype=x.dtype), xp.empty(shape, dtype=xp.int64)
        kernel_module(x).max_pool_forward(xp.ascontiguousarray(x), out, argmax, *geometry[1:])
        ctx.save_for_backward(argmax)
        ctx.x_shape = x.shape
        return out, argmax

    @staticmethod
    def backward(ctx, grad, grad_argmax):
        (argmax,) = ctx.saved
        xp = backend.get_array_module(grad)
        dx = xp.zeros(ctx.x_shape, dtype=grad.dtype)
        kernel_module(grad).max_pool_backward(xp.ascontiguousarray(grad), argmax, dx)
        return dx


class AvgPool2d(Function):
    """out = sum over each window / divisor;  dx = g / divisor spread over the window.
    The divisor follows PyTorch: the window clipped to the padded input (``count_include_pad``)
    or to the input, or ``divisor_override``."""

    @staticmethod
    def forward(ctx, x, geometry=None, count_include_pad=True, divisor_override=0):
        xp = backend.get_array_module(x)
        out = xp.empty(x.shape[:2] + geometry.out_size, dtype=x.dtype)
        rule = (count_include_pad, divisor_override)
        kernel_module(x).avg_pool_forward(xp.ascontiguousarray(x), out, *geometry[1:4], *rule)
        ctx.geometry, ctx.rule, ctx.x_shape = geometry, rule, x.shape
        return out

    @staticmethod
    def backward(ctx, grad):
        xp = backend.get_array_module(grad)
        dx = xp.zeros(ctx.x_shape, dtype=grad.dtype)
        kernel_module(grad).avg_pool_backward(xp.ascontiguousarray(grad), dx, *ctx.geometry[1:4], *ctx.rule)
        return dx


def _pool_geometry(op, x, kernel_size, stride, padding, dilation, ceil_mode):
    kernel = pair(op, "kernel_size", kernel_size, 1)
    stride = kernel if stride is None or stride == () else pair(op, "stride", stride, 1)
    pad = pair(op, "padding", padding, 0)
    dilation = pair(op, "dilation", dilation, 1)
    if any(2 * p > k for k, p in zip(kernel, pad)):
        raise ValueError(f"{op}: padding {pad} must be at most half of the kernel size {kernel}")
    out_size = tuple(
        pool_output_size(n, k, s, p, d, ceil_mode) for n, k, s, p, d in zip(x.shape[2:], kernel, stride, pad, dilation)
    )
    check_output_size(op, x, out_size, f"kernel {kernel}, stride {stride}, padding {pad}, dilation {dilation}")
    return Geometry(out_size, kernel, stride, pad, dilation)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over each kernel_size window (stride defaults to kernel_size), as PyTorch;
    ``return_indices`` also returns the flat position h * W + w of each maximum."""
    x, unbatched = image_input("max_pool2d", input)
    geometry = _pool_geometry("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
    out, indices = MaxPool2d.apply(x, geometry=geometry)
    if unbatched:
        out, indices = out.squeeze(0), indices.squeeze(0)
    return (out, indices) if return_indices else out


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
    """Mean over each kernel_size window (stride defaults to kernel_size), as PyTorch."""
    x, unbatched = image_input("avg_pool2d", input)
    geometry = _pool_geometry("avg_pool2d", x, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and (not isinstance(divisor_override, int) or divisor_override < 1):
        raise ValueError(f"avg_pool2d: divisor_override must be a positive int, got {divisor_override!r}")
    out = AvgPool2d.apply(x, geometry=geometry, count_include_pad=bool(count_include_pad), divisor_override=divisor_override or 0)
    return out.squeeze(0) if unbatched else out
