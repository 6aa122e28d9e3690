"""Transposed 2-D convolution: the backward of a convolution with respect to its input, run forward.

A convolution y = conv2d(z, W) of an image z (N, C_out, OH, OW) with W (C_in, C_out / groups, kh,
kw) is, per group, ``y_rows = W @ im2col(z)``: linear in z.  Its adjoint maps a y back to a
z-shaped image, ``z = col2im(W^T @ y_rows)``, and that is the transposed convolution of x = y:

    forward   out = col2im(W^T @ x_rows) + b       (conv2d's input gradient, with x as the gradient)
    backward  dx  = W @ im2col(g)                  (conv2d's forward, on the upstream gradient g)
              dW  = x_rows @ im2col(g)^T           (conv2d's weight gradient, x and g swapped)
              db  = g summed over N, OH, OW

so it runs on conv2d's kernels (im2col, col2im, or the direct loops) and its helpers, with the
geometry of that convolution: its output size is the input's (H, W), its image the output's.

PyTorch's layout: input (N, C_in, H, W), weight (C_in, C_out / groups, kh, kw), bias (C_out,),
output (N, C_out, OH, OW) with OH = (H - 1) stride - 2 padding + dilation (kh - 1) + output_padding + 1.
``output_padding`` (< stride or < dilation) picks one of the ``stride`` image sizes that a
convolution takes to (H, W); the rows it adds at the bottom (columns at the right) get only what
the kernel taps reach there.
"""
from minidl import backend, parallel
from minidl.autograd import Function
from minidl.config import config
from minidl.ops.common import promote_operands
from minidl.ops.conv import ALGORITHMS as CONVOLUTIONS
from minidl.ops.conv import (
    as_image_geometry, cache_chunks, col2im_of_product, columns, gradient_product, products_into, rows_by_group,
    weight_by_group, weight_gradient, with_bias,
)
from minidl.ops.window import check_output_size, image_input, kernel_module, pair, transposed_output_size


class TransposedConvolution(Function):
    """What both algorithms share: the backward on Tensors (for gradients of gradients), written
    with convolutions, run with the same algorithm:

        dx = conv2d(g, W)                                  (the convolution this op is the adjoint of)
        dW = conv2d's weight gradient, image g, gradient x  (``conv.weight_gradient``)
        db = g summed over N, OH, OW

    Forward saves the inputs themselves (x, W), so that this backward can attach them to the graph."""

    algorithm = None  # the key of ALGORITHMS

    @classmethod
    def graph_backward(cls, ctx, grad):
        x, weight = ctx.saved
        need_input, need_weight = ctx.needs_input_grad[:2]
        grads = (
            CONVOLUTIONS[cls.algorithm].apply(grad, weight, geometry=ctx.geometry) if need_input else None,
            weight_gradient(grad, x, ctx.geometry, cls.algorithm) if need_weight else None,
        )
        return grads + ((grad.sum(dim=(0, 2, 3)),) if ctx.has_bias else ())


class ConvTranspose2dIm2col(TransposedConvolution):
    """out = col2im(W^T @ x_rows) + b;  dx = W @ im2col(g),  dW = x_rows @ im2col(g)^T,  db = sum g.

    Chunk by chunk over the batch, the chunks spread over the cores, as ``Conv2dIm2col``."""

    algorithm = "im2col"

    @staticmethod
    def forward(ctx, x, weight, bias=None, geometry=None, image_size=None):
        xp, kernels = backend.get_array_module(x), kernel_module(x)
        images, groups = xp.ascontiguousarray(x), geometry.groups
        out = xp.zeros((x.shape[0], weight.shape[1] * groups) + image_size, dtype=x.dtype)
        weight_rows = weight_by_group(weight, groups)

        def forward_chunk(samples):
            col2im_of_product(kernels, out[samples], weight_rows, rows_by_group(images[samples], groups), geometry)
            with_bias(out[samples], bias)

        parallel.map_chunks(forward_chunk, cache_chunks(out, x.shape[1], geometry))
        ctx.save_for_backward(x, weight)
        ctx.geometry, ctx.has_bias = geometry, bias is not None
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved
        xp, kernels = backend.get_array_module(grad), kernel_module(grad)
        grad, geometry = xp.ascontiguousarray(grad), ctx.geometry
        x, weight_rows = xp.ascontiguousarray(x), weight_by_group(weight, geometry.groups)
        need_input, need_weight = ctx.needs_input_grad[:2]
        need_bias = ctx.has_bias
        dx = xp.empty((x.shape[0], x.shape[1], x.shape[2] * x.shape[3]), dtype=grad.dtype) if need_input else None

        def backward_chunk(samples):
            by_group = columns(kernels, grad[samples], geometry)
            if need_input:
                products_into(dx[samples], weight_rows, by_group, None)
            dweight = None
            if need_weight:
                dweight = gradient_product(rows_by_group(x[samples], geometry.groups), by_group)
            dbias = grad[samples].sum(axis=(0, 2, 3)) if need_bias else None
            return dweight, dbias

        dweights, dbiases = zip(*parallel.map_chunks(backward_chunk, cache_chunks(grad, x.shape[1], geometry)))
        grads = [None if dx is None else dx.reshape(x.shape), sum(dweights).reshape(weight.shape) if need_weight else None]
        if need_bias:
            grads.append(sum(dbiases))
        return tuple(grads)


class ConvTranspose2dDirect(TransposedConvolution):
    """The direct convolution's loops with their roles swapped: the forward is conv2d's input
    gradient loop, the input gradient conv2d's forward loop, the weight gradient conv2d's weight
    gradient loop with x and g swapped."""

    algorithm = "direct"

    @staticmethod
    def forward(ctx, x, weight, bias=None, geometry=None, image_size=None):
        xp, kernels = backend.get_array_module(x), kernel_module(x)
        g = geometry
        out = xp.zeros((x.shape[0], weight.shape[1] * g.groups) + image_size, dtype=x.dtype)
        kernels.conv_backward_input_direct(xp.ascontiguousarray(x), xp.ascontiguousarray(weight), out,
                                           g.stride, g.padding, g.dilation, g.groups)
        ctx.save_for_backward(x, weight)
        ctx.geometry, ctx.has_bias = geometry, bias is not None
        return with_bias(out, bias)

    @staticmethod
    def backward(ctx, grad):
        xp, kernels = backend.get_array_module(grad), kernel_module(grad)
        x, weight = (xp.ascontiguousarray(array) for array in ctx.saved)
        grad, g = xp.ascontiguousarray(grad), ctx.geometry
        grads = [None, None]
        if ctx.needs_input_grad[0]:
            grads[0] = xp.empty(x.shape, dtype=grad.dtype)
            kernels.conv_forward_direct(grad, weight, grads[0], g.stride, g.padding, g.dilation, g.groups)
        if ctx.needs_input_grad[1]:
            grads[1] = xp.empty(weight.shape, dtype=grad.dtype)
            kernels.conv_backward_weight_direct(x, grad, grads[1], g.stride, g.padding, g.dilation, g.groups)
        if ctx.has_bias:
            grads.append(grad.sum(axis=(0, 2, 3)))
        return tuple(grads)


ALGORITHMS = {"im2col": ConvTranspose2dIm2col, "direct": ConvTranspose2dDirect}


def _check_operands(x, weight, bias, groups):
    """x, weight, bias (or None) in one dtype, the weight (C_in, C_out / groups, kh, kw) fitting x."""
    tensors = promote_operands("conv_transpose2d", x, weight, *([] if bias is None else [bias]))
    x, weight = tensors[0], tensors[1]
    if weight.ndim != 4:
        raise ValueError(
            f"conv_transpose2d: weight must be 4-D (in_channels, out_channels / groups, kh, kw), got shape {weight.shape}"
        )
    if not isinstance(groups, int) or groups < 1 or weight.shape[0] % groups:
        raise ValueError(
            f"conv_transpose2d: groups must be a positive int dividing the input channels ({weight.shape[0]}, "
            f"weight of shape {weight.shape}), got {groups!r}"
        )
    if x.shape[1] != weight.shape[0]:
        raise ValueError(
            f"conv_transpose2d: input of shape {x.shape} has {x.shape[1]} channels, but weight of shape "
            f"{weight.shape} expects {weight.shape[0]} (weight.shape[0] = in_channels)"
        )
    out_channels = weight.shape[1] * groups
    if bias is not None and tensors[2].shape != (out_channels,):
        raise ValueError(f"conv_transpose2d: bias must have shape ({out_channels},), got {tensors[2].shape}")
    return x, weight, (tensors[2] if bias is not None else None)


def check_output_padding(op, output_padding, stride, dilation):
    """PyTorch's rule: on each axis, output_padding < stride or output_padding < dilation (otherwise
    it would add rows that no convolution of that stride needs)."""
    if any(p >= s and p >= d for p, s, d in zip(output_padding, stride, dilation)):
        raise ValueError(
            f"{op}: output_padding must be smaller than either stride or dilation, got output_padding "
            f"{output_padding}, stride {stride}, dilation {dilation}"
        )


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution (the input gradient of ``conv2d``), as
    ``torch.nn.functional.conv_transpose2d``: each input pixel adds its weighted kernel into the
    output at (h stride - padding, w stride - padding), taps ``dilation`` apart.

    input (N, C_in, H, W) or (C_in, H, W); weight (C_in, C_out / groups, kh, kw); bias (C_out,)
    or None; ``stride``, ``padding``, ``output_padding``, ``dilation``: an int or a pair.
    Output (N, C_out, (H - 1) stride - 2 padding + dilation (kh - 1) + output_padding + 1, ...).
    """
    op = "conv_transpose2d"
    x, unbatched = image_input(op, input)
    x, weight, bias = _check_operands(x, weight, bias, groups)
    kernel = tuple(weight.shape[2:])
    stride, pad = pair(op, "stride", stride, 1), pair(op, "padding", padding, 0)
    dilation, extra = pair(op, "dilation", dilation, 1), pair(op, "output_padding", output_padding, 0)
    check_output_padding(op, extra, stride, dilation)
    settings = zip(x.shape[2:], kernel, stride, pad, dilation, extra)
    image_size = tuple(transposed_output_size(*axis) for axis in settings)
    check_output_size(op, x, image_size,
                      f"kernel {kernel}, stride {stride}, padding {pad}, output_padding {extra}, dilation {dilation}")
    geometry = as_image_geometry(tuple(x.shape[2:]), kernel, stride, pad, dilation, groups)
    tensors = (x, weight) + (() if bias is None else (bias,))
    out = ALGORITHMS[config.conv_algorithm].apply(*tensors, geometry=geometry, image_size=image_size)
    return out.squeeze(0) if unbatched else out
