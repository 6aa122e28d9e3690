"""2-D convolution, two ways: im2col + one matrix product (fast), or direct loops (to compare).

PyTorch's layout: input (N, C, H, W), weight (O, C / groups, kh, kw), bias (O,), output
(N, O, OH, OW) with OH = floor((H + pad_top + pad_bottom - dilation (kh - 1) - 1) / stride) + 1.

``conv1d`` (``minidl.ops.conv1d``: a signal is an image of height 1) and ``conv_transpose2d``
(``minidl.ops.conv_transpose``: this convolution's input gradient, run forward) use the helpers
and the geometry here.
"""
import collections

import numpy as np

from minidl import backend, parallel
from minidl.autograd import Function
from minidl.config import config
from minidl.ops.common import promote_operands
from minidl.ops.window import Geometry, check_output_size, conv_output_size, image_input, ints, ints_phrase, kernel_module

ConvGeometry = collections.namedtuple("ConvGeometry", Geometry._fields + ("groups",))


def grouped_matmul(a, b, out=None):
    """out[g] = a[g] @ b[g] for every group g, as 2-D products (BLAS takes transposed 2-D views
    directly; NumPy's batched matmul copies them).  ``dot``, not ``matmul``: NumPy's matmul held
    the GIL for the first MNIST layer's weight gradient (32 x 21632 x 9), so the two threads of
    ``minidl.parallel`` took turns (measured)."""
    xp = backend.get_array_module(a)
    if out is None:
        out = xp.empty((a.shape[0], a.shape[1], b.shape[2]), dtype=a.dtype)
    for group in range(a.shape[0]):
        xp.dot(a[group], b[group], out=out[group])
    return out


def gradient_product(rows, cols):
    """rows[g] @ cols[g]^T for every group g, (groups, R, K): a weight gradient, whose inner
    dimension (N OH OW) is long.  OpenBLAS runs it faster with the result's longer side as the
    product's rows, so where K > R it computes (cols[g] @ rows[g]^T)^T (measured, one thread:
    0.40 -> 0.30 ms for 64 x 288 on 6 samples of 13x13, 0.35 -> 0.30 ms for 64 x 192 on 4 of
    length 256; the other way round, 32 x 9, it is slower)."""
    if rows.shape[1] >= cols.shape[1]:
        return grouped_matmul(rows, cols.transpose(0, 2, 1))
    return grouped_matmul(cols, rows.transpose(0, 2, 1)).transpose(0, 2, 1)


def row_sums(rows):
    """rows summed along their last axis, as a matrix-vector product with ones: a bias gradient
    (BLAS's product runs 3-4x faster than NumPy's pairwise ``sum`` here, measured)."""
    xp = backend.get_array_module(rows)
    return rows.reshape(-1, rows.shape[-1]).dot(xp.ones(rows.shape[-1], dtype=rows.dtype))


def products_into(out, weight_rows, by_group, bias):
    """out[n, group rows, p] = (weight_rows[group] @ by_group[group])[:, (n, p)] + bias: the
    forward product, one per group, rearranged from (O, N * OH * OW) to out's (N, O, OH * OW)
    layout (``rows_into_samples``)."""
    group_out = weight_rows.shape[1]
    for group in range(weight_rows.shape[0]):
        rows = slice(group * group_out, (group + 1) * group_out)
        product = weight_rows[group].dot(by_group[group])
        rows_into_samples(product, None if bias is None else bias[rows], out[:, rows])


def rows_into_samples(product, bias, out):
    """out[n, o, p] = product[o, (n, p)] + bias[o] (or no bias): the product's (O, N * P) rows
    laid out as (N, O, P).  NumPy arrays take one compiled pass (``kernels.cpu.rows_into_samples``,
    the bias added on the way: ~2x faster than the two below, measured); CuPy's add the bias onto
    the product's contiguous rows, then copy (half the time of adding it during the copy)."""
    if not backend.is_cupy_array(product):
        from kernels import cpu

        cpu.rows_into_samples(product, np.zeros(len(product), product.dtype) if bias is None else bias, out)
        return
    if bias is not None:
        product += bias.reshape(-1, 1)
    out[...] = product.reshape(out.shape[1], out.shape[0], out.shape[2]).transpose(1, 0, 2)


def rows_by_group(images, groups):
    """Images (N, C, H, W) as rows per group, (groups, C / groups, N * H * W): a copy, in the
    column order of im2col."""
    return images.transpose(1, 0, 2, 3).reshape(groups, images.shape[1] // groups, -1)


def col2im_of_product(kernels, image, weight_rows, rows, geometry, cols=None):
    """image += col2im(W^T @ rows), one product per group: the adjoint of the convolution
    ``rows = W @ im2col(image)`` with respect to its input.  ``cols``: where to write the product
    (an array of im2col's shape), or None for a new one."""
    cols = grouped_matmul(weight_rows.transpose(0, 2, 1), rows, out=cols)
    kernels.col2im(cols.reshape(-1, rows.shape[2]), image, *geometry[:5])


def with_bias(out, bias):
    if bias is not None:
        out += bias.reshape(1, -1, 1, 1)
    return out


def columns(kernels, x, geometry):
    """im2col of ``x``, grouped: (groups, C / groups * kh * kw, N * OH * OW)."""
    xp = backend.get_array_module(x)
    out_h, out_w = geometry.out_size
    cols = xp.empty((x.shape[1] * geometry.kernel[0] * geometry.kernel[1], x.shape[0] * out_h * out_w), dtype=x.dtype)
    kernels.im2col(x, cols, *geometry[:5])
    return cols.reshape(geometry.groups, -1, cols.shape[1])


def cache_chunks(x, out_channels, geometry):
    """The batch cut into chunks whose columns and output fit in a core's cache (``minidl.parallel``)."""
    kh, kw = geometry.kernel
    sample_bytes = (x.shape[1] * kh * kw + out_channels) * geometry.out_size[0] * geometry.out_size[1] * x.itemsize
    return parallel.batch_chunks(x, sample_bytes)


class Convolution(Function):
    """What both algorithms share: the backward on Tensors (for gradients of gradients), written
    with convolutions again, run with the same algorithm:

        dx = conv_transpose2d(g, W)       (to x's size: ``input_gradient``)
        dW = a convolution of x by g      (``weight_gradient``)
        db = g summed over N, OH, OW

    Those ops have such a backward too, so third derivatives work as well.  Forward saves the
    inputs themselves (x, W), so that this backward can attach them to the graph."""

    algorithm = None  # the key of ALGORITHMS

    @classmethod
    def graph_backward(cls, ctx, grad):
        x, weight = ctx.saved
        need_input, need_weight = ctx.needs_input_grad[:2]
        grads = (
            input_gradient(grad, weight, ctx.geometry, tuple(x.shape[2:]), cls.algorithm) if need_input else None,
            weight_gradient(x, grad, ctx.geometry, cls.algorithm) if need_weight else None,
        )
        return grads + ((grad.sum(dim=(0, 2, 3)),) if ctx.has_bias else ())


class Conv2dIm2col(Convolution):
    """cols = im2col(x)  (C kh kw, N OH OW);  out = W (O, C kh kw) @ cols + b, one product per group.
    Backward: dW = g @ cols^T,  dcols = W^T @ g,  dx = col2im(dcols),  db = g summed over N, OH, OW.

    Both passes run chunk by chunk over the batch, the chunks spread over the cores
    (``minidl.parallel``); the backward recomputes each chunk's columns instead of keeping all of
    them from the forward: they are 9x the input for a 3x3 kernel, and a chunk's stay in cache."""

    algorithm = "im2col"

    @staticmethod
    def forward(ctx, x, weight, bias=None, geometry=None):
        xp, kernels = backend.get_array_module(x), kernel_module(x)
        images = xp.ascontiguousarray(x)
        out_h, out_w = geometry.out_size
        out = xp.empty((x.shape[0], weight.shape[0], out_h * out_w), dtype=x.dtype)
        weight_rows = weight_by_group(weight, geometry.groups)

        def forward_chunk(samples):
            products_into(out[samples], weight_rows, columns(kernels, images[samples], geometry), bias)

        parallel.map_chunks(forward_chunk, cache_chunks(images, weight.shape[0], geometry))
        ctx.save_for_backward(x, weight)
        ctx.geometry, ctx.has_bias = geometry, bias is not None
        return out.reshape(x.shape[0], weight.shape[0], out_h, out_w)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved
        xp, kernels = backend.get_array_module(grad), kernel_module(grad)
        geometry = ctx.geometry
        x, weight_rows = xp.ascontiguousarray(x), weight_by_group(weight, geometry.groups)
        need_input, need_weight = ctx.needs_input_grad[:2]
        need_bias = ctx.has_bias
        dx = xp.zeros(x.shape, dtype=grad.dtype) if need_input else None

        def backward_chunk(samples):
            by_group = columns(kernels, x[samples], geometry)
            grad_rows = rows_by_group(grad[samples], geometry.groups)
            dweight = gradient_product(grad_rows, by_group) if need_weight else None
            dbias = row_sums(grad_rows) if need_bias else None  # rows in cache: faster than at the end
            if need_input:  # the columns are no longer needed: dcols is written over them
                col2im_of_product(kernels, dx[samples], weight_rows, grad_rows, geometry, cols=by_group)
            return dweight, dbias

        dweights, dbiases = zip(*parallel.map_chunks(backward_chunk, cache_chunks(x, weight.shape[0], geometry)))
        grads = [dx, sum(dweights).reshape(weight.shape) if need_weight else None]
        if need_bias:
            grads.append(sum(dbiases))
        return tuple(grads)


class Conv2dDirect(Convolution):
    """out[n, o, oh, ow] = b[o] + sum_{c, i, j} x[n, c, oh s - p + i d, ow s - p + j d] W[o, c, i, j],
    computed output by output; the backward loops are the same sum read the other way round."""

    algorithm = "direct"

    @staticmethod
    def forward(ctx, x, weight, bias=None, geometry=None):
        xp, kernels = backend.get_array_module(x), kernel_module(x)
        out, g = xp.empty((x.shape[0], weight.shape[0]) + geometry.out_size, dtype=x.dtype), geometry
        kernels.conv_forward_direct(xp.ascontiguousarray(x), xp.ascontiguousarray(weight), out,
                                    g.stride, g.padding, g.dilation, g.groups)
        ctx.save_for_backward(x, weight)
        ctx.geometry, ctx.has_bias = geometry, bias is not None
        return with_bias(out, bias)

    @staticmethod
    def backward(ctx, grad):
        xp, kernels = backend.get_array_module(grad), kernel_module(grad)
        x, weight = (xp.ascontiguousarray(array) for array in ctx.saved)
        grad = xp.ascontiguousarray(grad)
        g = ctx.geometry
        grads = [None, None]
        if ctx.needs_input_grad[0]:
            grads[0] = xp.zeros(x.shape, dtype=grad.dtype)
            kernels.conv_backward_input_direct(grad, weight, grads[0], g.stride, g.padding, g.dilation, g.groups)
        if ctx.needs_input_grad[1]:
            grads[1] = xp.empty(weight.shape, dtype=grad.dtype)
            kernels.conv_backward_weight_direct(grad, x, grads[1], g.stride, g.padding, g.dilation, g.groups)
        if ctx.has_bias:
            grads.append(grad.sum(axis=(0, 2, 3)))
        return tuple(grads)


class Conv2dFewTaps(Convolution):
    """out[n] = W @ im2col(x[n]) + b, one sample at a time, each output plane written in place by
    a compiled loop that holds the C kh kw taps' weights in registers (``kernels.few_taps``):
    for a network's first layers, whose few taps (at most ``kernels.few_taps.MAX_TAPS``) make
    im2col's one large product move more data than it computes.  Backward: dW and db from each
    sample's columns again (db as the weight of an input of ones), dx as in ``Conv2dIm2col``.
    ``convolve`` picks it under ``conv_algorithm = "im2col"`` (``has_few_taps``)."""

    algorithm = "im2col"  # what its gradients of gradients run on

    @staticmethod
    def forward(ctx, x, weight, bias=None, geometry=None):
        from kernels import few_taps

        images, weights = np.ascontiguousarray(x), np.ascontiguousarray(weight)
        out = np.empty((x.shape[0], weight.shape[0]) + geometry.out_size, dtype=x.dtype)
        bias_values = np.zeros(weight.shape[0], dtype=x.dtype) if bias is None else bias
        kernel = few_taps.forward_kernel(weights[0].size)

        def forward_chunk(samples):
            kernel(images[samples], weights, bias_values, out[samples], *geometry[1:5])

        parallel.map_chunks(forward_chunk, cache_chunks(images, weight.shape[0], geometry))
        ctx.save_for_backward(x, weight)
        ctx.geometry, ctx.has_bias = geometry, bias is not None
        return out

    @staticmethod
    def backward(ctx, grad):
        from kernels import few_taps

        x, weight = (np.ascontiguousarray(array) for array in ctx.saved)
        grad, geometry = np.ascontiguousarray(grad), ctx.geometry
        need_input, need_weight = ctx.needs_input_grad[:2]
        dx = np.zeros(x.shape, dtype=grad.dtype) if need_input else None
        kernel = few_taps.weight_gradient_kernel(weight[0].size)
        channels_out = weight.shape[0]

        def backward_chunk(samples):
            sums = None
            if need_weight or ctx.has_bias:
                sums = np.zeros((channels_out, weight[0].size), dtype=grad.dtype), np.zeros(channels_out, dtype=grad.dtype)
                kernel(x[samples], grad[samples], *sums, *geometry[1:5])
            if need_input:
                col2im_of_product(kernel_module(grad), dx[samples], weight_by_group(weight, 1), rows_by_group(grad[samples], 1), geometry)
            return sums

        sums = parallel.map_chunks(backward_chunk, cache_chunks(x, channels_out, geometry))
        grads = [dx, sum(dweight for dweight, _ in sums).reshape(weight.shape) if need_weight else None]
        if ctx.has_bias:
            grads.append(sum(dbias for _, dbias in sums))
        return tuple(grads)


def has_few_taps(x, weight, geometry):
    """Whether ``Conv2dFewTaps`` runs this convolution: NumPy arrays of float32 or float64, one
    group, at most ``kernels.few_taps.MAX_TAPS`` taps (C kh kw)."""
    from kernels.few_taps import MAX_TAPS

    return (not backend.is_cupy_array(x.array) and geometry.groups == 1 and x.dtype in (np.float32, np.float64)
            and weight.dtype == x.dtype and weight.shape[1] * weight.shape[2] * weight.shape[3] <= MAX_TAPS)


def weight_by_group(weight, groups):
    """The weight (O, C / groups, kh, kw) as one matrix per group, (groups, O / groups, C / groups kh kw)."""
    return weight.reshape(groups, weight.shape[0] // groups, -1)


def input_gradient(grad, weight, geometry, image_size, algorithm):
    """dx of the convolution of ``geometry``, differentiable: the transposed convolution of the
    gradient by the same weight, to the image's size (the transposed convolution's ``output_padding``
    and any asymmetric 'same' padding are in ``geometry`` and ``image_size``)."""
    from minidl.ops.conv_transpose import ALGORITHMS as TRANSPOSED  # that module builds on this one

    return TRANSPOSED[algorithm].apply(grad, weight, geometry=geometry, image_size=image_size)


def weight_gradient(image, grad, geometry, algorithm):
    """dW[o, c, i, j] = sum_{n, oh, ow} g[n, o, oh, ow] x[n, c of o's group, oh s - p + i d, ow s - p + j d],
    differentiable: a convolution itself, with the roles swapped: the gradients g (O, N, OH, OW)
    are the kernels, the images' channels are the batch and their samples the channels (one group's
    samples per group), kernel taps and output positions trade places (stride s <-> dilation d),
    and its output, of the kernel's size, is dW with O and C swapped."""
    n, channels = image.shape[:2]
    groups, spatial = geometry.groups, tuple(image.shape[2:])
    by_group = image.reshape((n, groups, channels // groups) + spatial).permute(2, 1, 0, 3, 4)
    images = by_group.reshape((channels // groups, groups * n) + spatial)  # (C / groups, groups N, H, W)
    swapped = ConvGeometry(out_size=geometry.kernel, kernel=tuple(grad.shape[2:]), stride=geometry.dilation,
                           padding=geometry.padding, dilation=geometry.stride, groups=groups)
    return ALGORITHMS[algorithm].apply(images, grad.transpose(0, 1), geometry=swapped).transpose(0, 1)


ALGORITHMS = {"im2col": Conv2dIm2col, "direct": Conv2dDirect}


def _padding(op, padding, kernel, stride, dilation):
    """Padding before each spatial axis (top, left) and the total per axis; 'valid' is none,
    'same' keeps the size (torch's split: the odd one goes after)."""
    axes = len(kernel)
    if padding == "valid":
        return (0,) * axes, (0,) * axes
    if padding == "same":
        if any(s != 1 for s in stride):
            raise ValueError(f"{op}: padding='same' needs stride 1, got stride {stride}")
        total = tuple(d * (k - 1) for k, d in zip(kernel, dilation))
        return tuple(t // 2 for t in total), total
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be 'valid', 'same', an int or {ints_phrase(axes)}, got {padding!r}")
    pad = ints(op, "padding", padding, axes, 0)
    return pad, tuple(2 * p for p in pad)


def check_operands(op, x, weight, bias, groups, weight_layout):
    """x, weight and bias (or None) promoted to one dtype, after checking that the weight has x's
    rank (its axes ``weight_layout``), that ``groups`` divides the channels, and that the
    channels and the bias fit the weight (O, C / groups, *kernel)."""
    tensors = promote_operands(op, x, weight, *([] if bias is None else [bias]))
    x, weight = tensors[0], tensors[1]
    if weight.ndim != x.ndim:
        raise ValueError(f"{op}: weight must be {x.ndim}-D {weight_layout}, got shape {weight.shape}")
    if not isinstance(groups, int) or groups < 1 or x.shape[1] % groups or weight.shape[0] % groups:
        raise ValueError(
            f"{op}: groups must be a positive int dividing both the input channels ({x.shape[1]}) and "
            f"the output channels ({weight.shape[0]}), got {groups!r}"
        )
    if x.shape[1] != weight.shape[1] * groups:
        raise ValueError(
            f"{op}: input of shape {x.shape} has {x.shape[1]} channels, but weight of shape {weight.shape} "
            f"expects {weight.shape[1] * groups} (in_channels / groups = {weight.shape[1]}, groups = {groups})"
        )
    if bias is not None and tensors[2].shape != (weight.shape[0],):
        raise ValueError(f"{op}: bias must have shape ({weight.shape[0]},), got {tensors[2].shape}")
    return x, weight, (tensors[2] if bias is not None else None)


def as_image_geometry(out_size, kernel, stride, padding, dilation, groups):
    """A ConvGeometry from per-axis settings of 2 axes, or of 1: then those of an image of height
    1 (kernel height 1, no padding above, stride and dilation 1 down the column)."""
    def lift(values, fill):
        return (fill,) * (2 - len(values)) + tuple(values)

    return ConvGeometry(lift(out_size, 1), lift(kernel, 1), lift(stride, 1), lift(padding, 0), lift(dilation, 1), groups)


def conv_geometry(op, x, kernel, stride, padding, dilation, groups):
    """The checked ConvGeometry of convolving ``x`` (N, C, *spatial) with a ``kernel`` (one size
    per spatial axis, 1 or 2 of them): output size floor((n + padding - d (k - 1) - 1) / s) + 1."""
    axes = len(kernel)
    stride = ints(op, "stride", stride, axes, 1)
    dilation = ints(op, "dilation", dilation, axes, 1)
    pad, pad_total = _padding(op, padding, kernel, stride, dilation)
    out_size = tuple(conv_output_size(n, k, s, p, d) for n, k, s, p, d in zip(x.shape[2:], kernel, stride, pad_total, dilation))
    check_output_size(op, x, out_size, f"kernel {tuple(kernel)}, stride {stride}, padding {pad}, dilation {dilation}")
    return as_image_geometry(out_size, tuple(kernel), stride, pad, dilation, groups)


def convolve(x, weight, bias, geometry):
    """The convolution of images ``x`` (N, C, H, W) by ``weight`` (O, C / groups, kh, kw) of
    ``geometry``, with the algorithm ``md.config.conv_algorithm`` names ("im2col": with
    ``Conv2dFewTaps`` where ``has_few_taps`` says so)."""
    op = ALGORITHMS[config.conv_algorithm]
    if op is Conv2dIm2col and has_few_taps(x, weight, geometry):
        op = Conv2dFewTaps
    return op.apply(x, weight, *([] if bias is None else [bias]), geometry=geometry)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation (what deep learning calls convolution), as ``torch.nn.functional.conv2d``.

    input (N, C, H, W) or (C, H, W); weight (O, C / groups, kh, kw); bias (O,) or None;
    ``padding``: int, pair, 'valid' or 'same'.  ``md.config.conv_algorithm`` picks the algorithm.
    """
    x, unbatched = image_input("conv2d", input)
    x, weight, bias = check_operands("conv2d", x, weight, bias, groups, "(out_channels, in_channels / groups, kh, kw)")
    geometry = conv_geometry("conv2d", x, weight.shape[2:], stride, padding, dilation, groups)
    out = convolve(x, weight, bias, geometry)
    return out.squeeze(0) if unbatched else out
