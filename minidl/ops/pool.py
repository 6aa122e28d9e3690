"""2-D max and average pooling on the Numba kernels, with PyTorch's arguments and output sizes."""
from minidl import backend
from minidl.autograd import Function
from minidl.ops.arithmetic import gradient_where
from minidl.ops.window import Geometry, check_output_size, image_input, kernel_module, pair, pool_output_size


class MaxPool2d(Function):
    """out = max over each window, argmax = where it was (flat h * W + w, PyTorch's ``indices``);
    dx = g routed to each window's argmax (ties: the first maximum, as PyTorch).  On Tensors (for
    gradients of gradients) that routing is the op ``MaxPool2dBackward``: the argmax does not
    move when x moves a little, so dx depends on x only through g."""

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
        return routed_to_argmax(grad, argmax, ctx.x_shape)

    @staticmethod
    def graph_backward(ctx, grad, grad_argmax):
        (argmax,) = ctx.constants
        return MaxPool2dBackward.apply(grad, argmax=argmax.array, x_shape=ctx.x_shape)


class MaxPool2dBackward(Function):
    """MaxPool2d's backward as an op of its own, so that it can be differentiated again:
    out = g added at each window's argmax, in zeros of x's shape.  It is linear in g; its backward
    reads the incoming gradient G back at the argmax positions: dg[n, c, oh, ow] = G[n, c, argmax]
    (torch's max_pool2d double backward gathers the same way)."""

    differentiable_backward = True  # its backward is an indexing, which Tensors have too

    @staticmethod
    def forward(ctx, grad, argmax=None, x_shape=None):
        ctx.argmax = argmax
        return routed_to_argmax(grad, argmax, x_shape)

    @staticmethod
    def backward(ctx, grad):
        n_batch, channels = ctx.argmax.shape[:2]
        xp = backend.get_array_module(ctx.argmax)
        samples, planes = xp.arange(n_batch).reshape(-1, 1, 1, 1), xp.arange(channels).reshape(1, -1, 1, 1)
        plane_size = grad.shape[2] * grad.shape[3]
        inside = ctx.argmax < plane_size  # a window wholly in the padding has no argmax: it gets 0
        gathered = grad.reshape(n_batch, channels, -1)[samples, planes, xp.where(inside, ctx.argmax, 0)]
        return gradient_where(inside, gathered)


def routed_to_argmax(grad, argmax, x_shape):
    """zeros(x_shape) with each window's gradient added at its argmax (flat h * W + w)."""
    xp = backend.get_array_module(grad)
    dx = xp.zeros(x_shape, dtype=grad.dtype)
    kernel_module(grad).max_pool_backward(xp.ascontiguousarray(grad), argmax, dx)
    return dx


class AvgPool2d(Function):
    """out = sum over each window / divisor;  dx = g / divisor spread over the window.
    The divisor follows PyTorch: the window clipped to the padded input (``count_include_pad``)
    or to the input, or ``divisor_override``.  The op is linear, and its backward, as an op of its
    own (``AvgPool2dBackward``, for gradients of gradients), has this average as its backward."""

    @staticmethod
    def forward(ctx, x, geometry=None, count_include_pad=True, divisor_override=0):
        ctx.geometry, ctx.rule, ctx.x_shape = geometry, (count_include_pad, divisor_override), x.shape
        return averaged(x, geometry, ctx.rule)

    @staticmethod
    def backward(ctx, grad):
        return spread(grad, ctx.geometry, ctx.rule, ctx.x_shape)

    @staticmethod
    def graph_backward(ctx, grad):
        return AvgPool2dBackward.apply(grad, geometry=ctx.geometry, rule=ctx.rule, x_shape=ctx.x_shape)


class AvgPool2dBackward(Function):
    """AvgPool2d's backward as an op: out = g / divisor spread over each window (linear in g);
    its backward is the average pooling again."""

    @staticmethod
    def forward(ctx, grad, geometry=None, rule=None, x_shape=None):
        ctx.geometry, ctx.rule = geometry, rule
        return spread(grad, geometry, rule, x_shape)

    @staticmethod
    def backward(ctx, grad):
        return averaged(grad, ctx.geometry, ctx.rule)

    @staticmethod
    def graph_backward(ctx, grad):
        count_include_pad, divisor_override = ctx.rule
        return AvgPool2d.apply(grad, geometry=ctx.geometry, count_include_pad=count_include_pad,
                               divisor_override=divisor_override)


def averaged(x, geometry, rule):
    """The mean over each window of ``geometry`` (N, C, OH, OW), divisors by ``rule``
    (count_include_pad, divisor_override)."""
    xp = backend.get_array_module(x)
    out = xp.empty(x.shape[:2] + geometry.out_size, dtype=x.dtype)
    kernel_module(x).avg_pool_forward(xp.ascontiguousarray(x), out, *geometry[1:4], *rule)
    return out


def spread(grad, geometry, rule, x_shape):
    """The adjoint of ``averaged``: each window's gradient / divisor added over the window."""
    xp = backend.get_array_module(grad)
    dx = xp.zeros(x_shape, dtype=grad.dtype)
    kernel_module(grad).avg_pool_backward(xp.ascontiguousarray(grad), dx, *geometry[1:4], *rule)
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
