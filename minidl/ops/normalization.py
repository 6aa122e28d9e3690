"""Normalisation: batch_norm, layer_norm, group_norm, all three through one fused Function.

Each one normalises x with a mean and a variance taken over some axes, then scales and shifts:

    x_hat = (x - mean) * inv_std,   inv_std = 1 / sqrt(var + eps),   out = gamma * x_hat + beta

They differ only in the axes (batch norm: every axis but the channels; layer norm: the last
``len(normalized_shape)`` axes of each sample; group norm: each group of channels of each sample)
and in where the statistics come from (the input itself, or batch norm's running estimates).
"""
import math
import numbers

import numpy as np

from minidl import backend
from minidl.autograd import Function, sum_to_shape
from minidl.grad_mode import no_grad
from minidl.higher_order import recorded_vjp
from minidl.ops.arithmetic import sqrt
from minidl.ops.common import as_floating_tensor, promote_operands
from minidl.tensor import Tensor


class Normalize(Function):
    """out = gamma * x_hat + beta,  x_hat = (x - mean) * inv_std,  inv_std = 1 / sqrt(var + eps).

    x is seen as ``stat_shape`` and ``mean``/``var`` (biased) broadcast over its ``axes``; gamma
    and beta (either may be absent) are seen as ``param_shape``, broadcast against x.

    Backward, with g_hat = gamma * g and N the number of elements each mean is taken over:
        dgamma = sum(g * x_hat),  dbeta = sum(g)   (summed over the axes gamma is broadcast along)
        dx = (1/N) * inv_std * (N * g_hat - sum(g_hat) - x_hat * sum(g_hat * x_hat))   (sums over ``axes``)
    when the statistics are the input's own (``batch_stats``): the whole backward of mean, var
    and division in one formula.  Batch norm's gamma is constant over the axes, so this is the
    textbook dx = (1/N) * gamma * inv_std * (N*g - sum(g) - x_hat * sum(g * x_hat)).  With given
    statistics (batch norm in eval mode) they are constants: dx = inv_std * g_hat.

    Gradients of gradients differentiate ``normalize_reference``, the same op from small ops.
    """

    @staticmethod
    def forward(ctx, x, *affine, mean, var, eps, stat_shape, axes, param_shape, has_weight, has_bias, batch_stats):
        weight = affine[0] if has_weight else None
        bias = affine[-1] if has_bias else None
        inv_std = 1 / (var + eps) ** 0.5
        x_hat = ((x.reshape(stat_shape) - mean) * inv_std).reshape(x.shape)
        out = x_hat if weight is None else x_hat * weight.reshape(param_shape)
        if bias is not None:
            out = out + bias.reshape(param_shape)
        ctx.save_for_backward(x_hat, mean, inv_std, *affine)
        ctx.layout = stat_shape, axes, param_shape, None if bias is None else bias.shape, batch_stats
        ctx.eps, ctx.stats = eps, None if batch_stats else (mean, var)
        return out.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        x_hat, _, inv_std = ctx.saved[:3]
        stat_shape, axes, param_shape, bias_shape, batch_stats = ctx.layout
        weight = ctx.saved[3] if len(ctx.saved) > 3 + (bias_shape is not None) else None
        g_hat = (grad if weight is None else grad * weight.reshape(param_shape)).reshape(stat_shape)
        if batch_stats:
            h = x_hat.reshape(stat_shape)
            n = math.prod(stat_shape[a] for a in axes)
            dx = inv_std / n * (n * g_hat - g_hat.sum(axes, keepdims=True) - h * (g_hat * h).sum(axes, keepdims=True))
        else:
            dx = g_hat * inv_std
        grads = [dx.reshape(grad.shape)]
        needs = iter(ctx.needs_input_grad[1:])
        if weight is not None:
            grads.append(_param_grad(grad * x_hat, param_shape, weight.shape) if next(needs) else None)
        if bias_shape is not None:
            grads.append(_param_grad(grad, param_shape, bias_shape) if next(needs) else None)
        return tuple(grads)

    @staticmethod
    def graph_backward(ctx, grad):
        """The vector-Jacobian product of ``normalize_reference``, recorded.  Forward kept x_hat, not x
        (one array, as the backward needs): x's value is rebuilt as x_hat / inv_std + mean, to
        rounding, and attached where x is in the graph."""
        stat_shape, axes, param_shape, bias_shape, _ = ctx.layout
        x_hat, mean, inv_std = (constant.array for constant in ctx.constants[:3])
        x = (x_hat.reshape(stat_shape) / inv_std + mean).reshape(x_hat.shape)
        inputs = (ctx.input_with_value(0, x),) + ctx.inputs[1:]
        return _recorded_normalize(ctx, grad, stat_shape, axes, param_shape, bias_shape is not None, inputs)


class ChannelNormalize(Function):
    """Batch norm on the CPU in compiled passes (``kernels/normalization.py``): the formulas of
    ``Normalize`` for x seen as (A, C, B) with statistics, gamma and beta per channel, the sums
    written out so that each pass over x does all its work at once:

        forward:   out = scale * x + shift,  scale = gamma * inv_std,  shift = beta - scale * mean
        backward:  dbeta = sum(g),  dgamma = sum(g * x_hat)   (per channel, over a and b), and
                   dx = gamma * inv_std * (g - dbeta / n - x_hat * dgamma / n)
                      = scale * g - (scale * inv_std * dgamma / n) * (x - mean) - scale * dbeta / n
                   with the batch's own statistics; with given ones (eval mode) dx = scale * g.
    Gradients of gradients differentiate ``normalize_reference``, as ``Normalize``'s do.
    """

    @staticmethod
    def forward(ctx, x, *affine, mean, var, eps, has_weight, has_bias, batch_stats):
        kernels = _channel_kernels()
        x3 = x.reshape(x.shape[0], x.shape[1], -1)
        inv_std = (1 / (var + eps) ** 0.5).astype(x.dtype)
        weight = affine[0] if has_weight else None
        scale = inv_std if weight is None else weight * inv_std
        shift = -scale * mean + (affine[-1] if has_bias else 0)
        out = np.empty_like(x3)
        kernels.channel_affine(x3, scale.astype(x.dtype), shift.astype(x.dtype), out)
        ctx.save_for_backward(x3, mean, inv_std, scale, x, *affine)  # x for graph_backward
        ctx.layout = x.shape, has_weight, has_bias, batch_stats
        ctx.eps, ctx.stats = eps, None if batch_stats else (mean, var)
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        x3, mean, inv_std, scale = ctx.saved[:4]
        shape, has_weight, has_bias, batch_stats = ctx.layout
        kernels = _channel_kernels()
        grad3 = grad.reshape(x3.shape)
        sum_grad, sum_grad_x_hat = np.empty_like(mean), np.empty_like(mean)
        kernels.channel_grad_sums(grad3, x3, mean, inv_std, sum_grad, sum_grad_x_hat)
        if batch_stats:
            n = x3.shape[0] * x3.shape[2]
            centered_scale, shift = -scale * inv_std * sum_grad_x_hat / n, -scale * sum_grad / n
        else:
            centered_scale, shift = np.zeros_like(scale), np.zeros_like(scale)
        dx = np.empty_like(x3)
        kernels.channel_input_grad(grad3, x3, mean, scale, centered_scale.astype(x3.dtype), shift.astype(x3.dtype), dx)
        grads = [dx.reshape(shape)]
        needs = iter(ctx.needs_input_grad[1:])
        if has_weight:
            grads.append(sum_grad_x_hat if next(needs) else None)
        if has_bias:
            grads.append(sum_grad if next(needs) else None)
        return tuple(grads)

    @staticmethod
    def graph_backward(ctx, grad):
        """The vector-Jacobian product of ``normalize_reference`` per channel, recorded."""
        shape, _, has_bias, _ = ctx.layout
        per_channel = (1, shape[1]) + (1,) * (len(shape) - 2)
        return _recorded_normalize(ctx, grad, shape, _channel_axes(len(shape)), per_channel, has_bias)


class RowNormalize(Function):
    """Layer norm on the CPU in compiled passes (``kernels/normalization.py``): the formulas of
    ``Normalize`` for x seen as rows (R, D), statistics per row, gamma and beta per column:

        forward:   out = x_hat * gamma + beta,  x_hat = (x - mean) * inv_std   (per row)
        backward:  dx = inv_std / D * (D * g_hat - sum(g_hat) - x_hat * sum(g_hat * x_hat)),
                   g_hat = g * gamma, sums along the row;  dgamma = sum over rows of g * x_hat,
                   dbeta = sum over rows of g.
    Gradients of gradients differentiate ``normalize_reference`` on the rows.
    """

    CHUNKS = 16  # rows are summed into dgamma and dbeta in this many chunks, one thread each

    @staticmethod
    def forward(ctx, x, *affine, eps, width, has_weight, has_bias):
        rows = x.reshape(-1, width)
        weight = affine[0] if has_weight else np.ones(width, x.dtype)
        bias = affine[-1] if has_bias else np.zeros(width, x.dtype)
        out, mean, inv_std = np.empty_like(rows), np.empty(len(rows)), np.empty(len(rows))
        _channel_kernels().row_normalize(rows, weight, bias, eps, out, mean, inv_std)
        ctx.save_for_backward(rows, weight, mean, inv_std, x, *affine)  # x for graph_backward
        ctx.layout = x.shape, width, has_weight, has_bias
        ctx.eps, ctx.stats = eps, None
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        rows, weight, mean, inv_std = ctx.saved[:4]
        shape, _, has_weight, has_bias = ctx.layout
        chunks = min(RowNormalize.CHUNKS, len(rows))
        partial_weight, partial_bias = np.zeros((chunks, rows.shape[1])), np.zeros((chunks, rows.shape[1]))
        dx = np.empty_like(rows)
        _channel_kernels().row_normalize_backward(np.ascontiguousarray(grad).reshape(rows.shape), rows, weight, mean,
                                                  inv_std, dx, partial_weight, partial_bias)
        grads = [dx.reshape(shape)]
        needs = iter(ctx.needs_input_grad[1:])
        if has_weight:
            grads.append(partial_weight.sum(axis=0).astype(rows.dtype) if next(needs) else None)
        if has_bias:
            grads.append(partial_bias.sum(axis=0).astype(rows.dtype) if next(needs) else None)
        return tuple(grads)

    @staticmethod
    def graph_backward(ctx, grad):
        """The vector-Jacobian product of ``normalize_reference`` on x seen as rows, recorded."""
        _, width, _, has_bias = ctx.layout
        return _recorded_normalize(ctx, grad, (-1, width), (1,), (width,), has_bias, rows=width)


def _channel_kernels():
    from kernels import normalization

    return normalization


def normalize_reference(x, weight, bias, eps, stat_shape, axes, param_shape, stats=None):
    """``Normalize`` from small differentiable ops:  x_hat = (x - mean) / sqrt(var + eps), with x seen
    as ``stat_shape`` and the mean and biased variance taken over ``axes`` (or the given
    ``stats``, (mean, var) arrays, constants), then out = gamma * x_hat + beta with gamma and beta
    (either may be None) seen as ``param_shape``.  Slower than the fused ops, but differentiable
    twice: their ``graph_backward`` differentiates it."""
    view = x.reshape(stat_shape)
    if stats is None:
        mean = view.mean(dim=axes, keepdim=True)
        centered = view - mean
        var = (centered * centered).mean(dim=axes, keepdim=True)
    else:
        mean, var = (Tensor(s.reshape(param_shape)) for s in stats)
        centered = view - mean
    out = (centered / sqrt(var + eps)).reshape(x.shape)
    if weight is not None:
        out = out * weight.reshape(param_shape)
    return out if bias is None else out + bias.reshape(param_shape)


def _recorded_normalize(ctx, grad, stat_shape, axes, param_shape, has_bias, inputs=None, rows=None):
    """The ``graph_backward`` of the three ops: the vector-Jacobian product of
    ``normalize_reference`` of their inputs (x, then gamma and beta where present), recorded; x is
    first seen as rows of ``rows`` values when given (layer norm's gamma and beta are rows)."""

    def normalize(x, *affine):
        weight = affine[0] if len(affine) > has_bias else None
        bias = affine[-1] if has_bias else None
        seen = x if rows is None else x.reshape(-1, rows)
        out = normalize_reference(seen, weight, bias, ctx.eps, stat_shape, axes, param_shape, ctx.stats)
        return out if rows is None else out.reshape(x.shape)

    return recorded_vjp(normalize, ctx.inputs if inputs is None else inputs, (grad,))


def _channel_axes(ndim):
    """Batch norm's axes for (N, C, *): every axis but the channels."""
    return (0,) + tuple(range(2, ndim))


def _param_grad(grad, param_shape, shape):
    """Sum a gradient of x's shape over the axes a parameter of ``param_shape`` is broadcast along."""
    return sum_to_shape(grad, param_shape).reshape(shape)


def _normalize(op, x, weight, bias, eps, stat_shape, axes, param_shape, stats=None):
    """``Normalize`` of x with the given (mean, var) ``stats`` (arrays broadcasting over x seen as
    ``stat_shape``), or with x's own mean and biased variance over ``axes`` when None.
    Returns (out, mean, var)."""
    tensors = promote_operands(op, x, *(t for t in (weight, bias) if t is not None))
    x = tensors[0]
    if stats is None:
        view = x.array.reshape(stat_shape)
        mean = view.mean(axes, keepdims=True)
        var = ((view - mean) ** 2).mean(axes, keepdims=True)
    else:
        mean, var = (s.reshape(param_shape).astype(x.dtype, copy=False) for s in stats)
    out = Normalize.apply(
        *tensors, mean=mean, var=var, eps=eps, stat_shape=stat_shape, axes=axes, param_shape=param_shape,
        has_weight=weight is not None, has_bias=bias is not None, batch_stats=stats is None,
    )
    return out, mean, var


def _check_shape(op, name, tensor, expected, input_shape):
    if tensor is not None and tuple(tensor.shape) != tuple(expected):
        raise ValueError(f"{op}: expected {name} of shape {tuple(expected)} for an input of shape {input_shape}, "
                         f"got {name} of shape {tuple(tensor.shape)}")


def check_batch_norm_input(op, x, num_features, training):
    """The checks batch norm makes before touching anything: (N, C, ...) with C == num_features,
    and, when training, more than one value per channel to take a variance over."""
    if x.ndim < 2:
        raise ValueError(f"{op}: expected an input of shape (N, C, ...), got shape {tuple(x.shape)}")
    if x.shape[1] != num_features:
        raise ValueError(f"{op}: expected an input of shape (N, {num_features}, ...) ({num_features} channels), "
                         f"got shape {tuple(x.shape)}")
    if training and math.prod(x.shape) // num_features == 1:
        raise ValueError(f"{op}: Expected more than 1 value per channel when training, got input size {tuple(x.shape)}")


def _update_running(running, batch_stat, momentum):
    """running = (1 - momentum) * running + momentum * batch_stat, written in place (no graph)."""
    with no_grad():
        running.copy_(Tensor(running.array * (1 - momentum) + batch_stat.reshape(running.shape) * momentum))


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalise (N, C, *) per channel c over the batch and every other axis, then y = gamma * x_hat + beta.

    Training: with the batch's mean and biased variance; the running estimates, when given, are
    updated in place as running = (1 - momentum) * running + momentum * batch_stat, the variance
    with the *unbiased* batch variance (times n / (n - 1)), as PyTorch.  Otherwise: with
    ``running_mean`` and ``running_var``.  Nothing is updated when the call raises.
    """
    x = as_floating_tensor("batch_norm", input)
    channels = x.shape[1] if x.ndim >= 2 else 0
    check_batch_norm_input("batch_norm", x, channels, training)
    for name, tensor in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        _check_shape("batch_norm", name, tensor, (channels,), tuple(x.shape))
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: running_mean and running_var are needed when training=False")
    if not training:
        stats = (running_mean.array, running_var.array)
        return _batch_normalize(x, weight, bias, eps, stats)[0]
    out, mean, var = _batch_normalize(x, weight, bias, eps)
    n = math.prod(x.shape) // channels
    if running_mean is not None:
        _update_running(running_mean, mean, momentum)
    if running_var is not None:
        _update_running(running_var, var * (n / (n - 1)), momentum)
    return out


def _batch_normalize(x, weight, bias, eps, stats=None):
    """(out, mean, var) of batch norm, with the batch's statistics or the given (mean, var):
    ``ChannelNormalize`` (compiled) for (N, C, ...) on the CPU, ``Normalize`` (array-module code)
    for (N, C) and on a GPU."""
    channels = x.shape[1]
    if backend.is_cupy_array(x.array) or x.ndim == 2:
        axes = _channel_axes(x.ndim)
        return _normalize("batch_norm", x, weight, bias, eps, x.shape, axes, (1, channels) + (1,) * (x.ndim - 2), stats)
    tensors = promote_operands("batch_norm", x, *(t for t in (weight, bias) if t is not None))
    x = tensors[0]
    if stats is None:
        mean, var = np.empty(channels, x.dtype), np.empty(channels, x.dtype)
        _channel_kernels().channel_moments(np.ascontiguousarray(x.array).reshape(x.shape[0], channels, -1), mean, var)
    else:
        mean, var = (s.reshape(channels).astype(x.dtype, copy=False) for s in stats)
    out = ChannelNormalize.apply(*tensors, mean=mean, var=var, eps=eps, has_weight=weight is not None,
                                 has_bias=bias is not None, batch_stats=stats is None)  # fmt: skip
    return out, mean, var


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise each sample over its last ``len(normalized_shape)`` axes, then y = gamma * x_hat + beta
    (gamma and beta of shape ``normalized_shape``, elementwise)."""
    x = as_floating_tensor("layer_norm", input)
    shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or x.ndim < k or tuple(x.shape[x.ndim - k:]) != shape:
        raise ValueError(f"layer_norm: expected an input of shape (*, {', '.join(map(str, shape))}) "
                         f"(normalized_shape={shape}), got shape {tuple(x.shape)}")
    for name, tensor in (("weight", weight), ("bias", bias)):
        _check_shape("layer_norm", name, tensor, shape, tuple(x.shape))
    if backend.is_cupy_array(x.array):
        axes = tuple(range(x.ndim - k, x.ndim))
        return _normalize("layer_norm", x, weight, bias, eps, x.shape, axes, shape)[0]
    tensors = promote_operands("layer_norm", x, *(t for t in (weight, bias) if t is not None))
    tensors = [tensors[0]] + [t.reshape(-1) for t in tensors[1:]]  # gamma and beta as rows of D numbers
    return RowNormalize.apply(*tensors, eps=eps, width=math.prod(shape), has_weight=weight is not None,
                              has_bias=bias is not None)  # compiled passes on the CPU (RowNormalize)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Split the C channels of (N, C, *) into ``num_groups`` groups and normalise each group of
    each sample over its channels and positions; then y = gamma * x_hat + beta per channel."""
    x = as_floating_tensor("group_norm", input)
    if x.ndim < 2 or x.shape[1] % num_groups:
        raise ValueError(f"group_norm: expected an input of shape (N, C, ...) with C divisible by "
                         f"num_groups={num_groups}, got shape {tuple(x.shape)}")
    n, channels = x.shape[:2]
    if n * math.prod(x.shape[2:]) * channels // num_groups == 1:  # PyTorch's check, kept as it is
        raise ValueError(f"group_norm: Expected more than 1 value per channel when training, got input size "
                         f"{tuple(x.shape)} with num_groups={num_groups}")
    for name, tensor in (("weight", weight), ("bias", bias)):
        _check_shape("group_norm", name, tensor, (channels,), tuple(x.shape))
    stat_shape = (n, num_groups, math.prod(x.shape[1:]) // num_groups)
    param_shape = (1, channels) + (1,) * (x.ndim - 2)
    return _normalize("group_norm", x, weight, bias, eps, stat_shape, (2,), param_shape)[0]
