"""2-D convolution, two ways: im2col + one matrix product (fast), or direct loops (to compare).

PyTorch's layout: input (N, C, H, W), weight (O, C / groups, kh, kw), bias (O,), output
(N, O, OH, OW) with OH = floor((H + pad_top + pad_bottom - dilation (kh - 1) - 1) / stride) + 1.
"""
import collections

from minidl import backend
from minidl.autograd import Function
from minidl.config import config
from minidl.ops.common import promote_operands
from minidl.ops.window import Geometry, check_output_size, conv_output_size, image_input, kernel_module, pair

ConvGeometry = collections.namedtuple("ConvGeometry", Geometry._fields + ("groups",))


def _grouped_matmul(a, b, out=None):
    """out[g] = a[g] @ b[g] for every group g, as 2-D products (BLAS takes transposed 2-D views
    directly; NumPy's batched matmul copies them)."""
    xp = backend.get_array_module(a)
    if out is None:
        out = xp.empty((a.shape[0], a.shape[1], b.shape[2]), dtype=a.dtype)
    for group in range(a.shape[0]):
        xp.matmul(a[group], b[group], out=out[group])
    return out


def _per_sample_products(weight_rows, by_group, n_batch):
    """out[n, group rows] = weight_rows[group] @ (sample n's columns of cols): the forward product
    written straight into the (N, O, OH * OW) layout, sample by sample, instead of one product
    (O, N * OH * OW) and a transposed copy (5x faster for the first MNIST layer, measured)."""
    xp = backend.get_array_module(by_group)
    groups, group_out = weight_rows.shape[:2]
    positions = by_group.shape[2] // n_batch
    out = xp.empty((n_batch, groups * group_out, positions), dtype=by_group.dtype)
    for n in range(n_batch):
        columns = slice(n * positions, (n + 1) * positions)
        for group in range(groups):
            xp.matmul(weight_rows[group], by_group[group][:, columns], out=out[n, group * group_out : (group + 1) * group_out])
    return out


def _with_bias(out, bias):
    if bias is not None:
        out += bias.reshape(1, -1, 1, 1)
    return out


class Conv2dIm2col(Function):
    """cols = im2col(x)  (C kh kw, N OH OW);  out = W (O, C kh kw) @ cols + b, one product per group.
    Backward: dW = g @ cols^T,  dcols = W^T @ g,  dx = col2im(dcols),  db = g summed over N, OH, OW.
    (dcols reuses cols' memory when the graph is freed after this backward.)"""

    @staticmethod
    def forward(ctx, x, weight, bias=None, geometry=None):
        xp, kernels = backend.get_array_module(x), kernel_module(x)
        n_batch, channels = x.shape[:2]
        out_channels, group_in = weight.shape[:2]
        groups = geometry.groups
        out_h, out_w = geometry.out_size
        cols = xp.empty((channels * geometry.kernel[0] * geometry.kernel[1], n_batch * out_h * out_w), dtype=x.dtype)
        kernels.im2col(xp.ascontiguousarray(x), cols, *geometry[:5])
        by_group = cols.reshape(groups, -1, cols.shape[1])
        weight_rows = weight.reshape(groups, out_channels // groups, -1)
        out = _per_sample_products(weight_rows, by_group, n_batch).reshape(n_batch, out_channels, out_h, out_w)
        ctx.save_for_backward(by_group, weight_rows)
        ctx.geometry, ctx.x_shape, ctx.weight_shape = geometry, x.shape, weight.shape
        return _with_bias(out, bias)

    @staticmethod
    def backward(ctx, grad):
        by_group, weight_rows = ctx.saved
        xp, kernels = backend.get_array_module(grad), kernel_module(grad)
        groups = ctx.geometry.groups
        grad_rows = grad.transpose(1, 0, 2, 3).reshape(groups, weight_rows.shape[1], -1)
        grads = [None, None]
        if ctx.needs_input_grad[1]:
            grads[1] = _grouped_matmul(grad_rows, by_group.transpose(0, 2, 1)).reshape(ctx.weight_shape)
        if ctx.needs_input_grad[0]:
            reuse = by_group if ctx.last_use else None  # cols is no longer needed: write dcols over it
            grad_cols = _grouped_matmul(weight_rows.transpose(0, 2, 1), grad_rows, out=reuse)
            grads[0] = xp.zeros(ctx.x_shape, dtype=grad.dtype)
            kernels.col2im(grad_cols.reshape(-1, grad_rows.shape[2]), grads[0], *ctx.geometry[:5])
        if len(ctx.needs_input_grad) == 3:
            grads.append(grad.sum(axis=(0, 2, 3)))
        return tuple(grads)


class Conv2dDirect(Function):
    """out[n, o, oh, ow] = b[o] + sum_{c, i, j} x[n, c, oh s - p + i d, ow s - p + j d] W[o, c, i, j],
    computed output by output; the backward loops are the same sum read the other way round."""

    @staticmethod
    def forward(ctx, x, weight, bias=None, geometry=None):
        xp, kernels = backend.get_array_module(x), kernel_module(x)
        x, weight = xp.ascontiguousarray(x), xp.ascontiguousarray(weight)
        out = xp.empty((x.shape[0], weight.shape[0]) + geometry.out_size, dtype=x.dtype)
        kernels.conv_forward_direct(x, weight, out, geometry.stride, geometry.padding, geometry.dilation, geometry.groups)
        ctx.save_for_backward(x, weight)
        ctx.geometry = geometry
        return _with_bias(out, bias)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved
        xp, kernels = backend.get_array_module(grad), kernel_module(grad)
        grad = xp.ascontiguousarray(grad)
        g = ctx.geometry
        grads = [None, None]
        if ctx.needs_input_grad[0]:
            grads[0] = xp.zeros(x.shape, dtype=grad.dtype)
            kernels.conv_backward_input_direct(grad, weight, grads[0], g.stride, g.padding, g.dilation, g.groups)
        if ctx.needs_input_grad[1]:
            grads[1] = xp.empty(weight.shape, dtype=grad.dtype)
            kernels.conv_backward_weight_direct(grad, x, grads[1], g.stride, g.padding, g.dilation, g.groups)
        if len(ctx.needs_input_grad) == 3:
            grads.append(grad.sum(axis=(0, 2, 3)))
        return tuple(grads)


ALGORITHMS = {"im2col": Conv2dIm2col, "direct": Conv2dDirect}


def _padding(op, padding, kernel, stride, dilation):
    """(top, left) padding and the total padding per axis; 'valid' is none, 'same' keeps the size."""
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        if stride != (1, 1):
            raise ValueError(f"{op}: padding='same' needs stride 1, got stride {stride}")
        total = tuple(d * (k - 1) for k, d in zip(kernel, dilation))
        return tuple(t // 2 for t in total), total
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be 'valid', 'same', an int or a pair of ints, got {padding!r}")
    pad = pair(op, "padding", padding, 0)
    return pad, tuple(2 * p for p in pad)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation (what deep learning calls convolution), as ``torch.nn.functional.conv2d``.

    input (N, C, H, W) or (C, H, W); weight (O, C / groups, kh, kw); bias (O,) or None;
    ``padding``: int, pair, 'valid' or 'same'.  ``md.config.conv_algorithm`` picks the algorithm.
    """
    x, unbatched = image_input("conv2d", input)
    tensors = promote_operands("conv2d", x, weight, *([] if bias is None else [bias]))
    x, weight = tensors[0], tensors[1]
    if weight.ndim != 4:
        raise ValueError(f"conv2d: weight must be 4-D (out_channels, in_channels / groups, kh, kw), got shape {weight.shape}")
    if not isinstance(groups, int) or groups < 1 or x.shape[1] % groups or weight.shape[0] % groups:
        raise ValueError(
            f"conv2d: groups must be a positive int dividing both the input channels ({x.shape[1]}) and "
            f"the output channels ({weight.shape[0]}), got {groups!r}"
        )
    if x.shape[1] != weight.shape[1] * groups:
        raise ValueError(
            f"conv2d: input of shape {x.shape} has {x.shape[1]} channels, but weight of shape {weight.shape} "
            f"expects {weight.shape[1] * groups} (in_channels / groups = {weight.shape[1]}, groups = {groups})"
        )
    if bias is not None and tensors[2].shape != (weight.shape[0],):
        raise ValueError(f"conv2d: bias must have shape ({weight.shape[0]},), got {tensors[2].shape}")
    kernel = weight.shape[2:]
    stride = pair("conv2d", "stride", stride, 1)
    dilation = pair("conv2d", "dilation", dilation, 1)
    pad, pad_total = _padding("conv2d", padding, kernel, stride, dilation)
    out_size = tuple(conv_output_size(n, k, s, p, d) for n, k, s, p, d in zip(x.shape[2:], kernel, stride, pad_total, dilation))
    check_output_size("conv2d", x, out_size, f"kernel {tuple(kernel)}, stride {stride}, padding {pad}, dilation {dilation}")
    geometry = ConvGeometry(out_size, tuple(kernel), stride, pad, dilation, groups)
    out = ALGORITHMS[config.conv_algorithm].apply(*tensors, geometry=geometry)
    return out.squeeze(0) if unbatched else out
