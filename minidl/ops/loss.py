"""Losses with PyTorch's arguments and ``reduction`` ('mean', 'sum', 'none').

cross_entropy = nll_loss(log_softmax(x)); the others are single Functions or short compositions.

The checks that read values (class indices in range, probabilities in [0, 1]) would make every
call on a GPU wait for the device, so on CUDA they run only with ``md.config.check_device_values``
(see ``checks_values``); class weights and ``pos_weight`` must be on the input's device.
"""
from minidl import backend
from minidl.autograd import Function
from minidl.ops.activation import log_softmax, relu, sigmoid, stable_sigmoid
from minidl.ops.arithmetic import abs, clamp, exp, log, log1p, mul
from minidl.ops.common import (
    as_floating_tensor,
    checks_values,
    float_errors_ignored,
    option_array,
    promote_operands,
)
from minidl.ops.reduction import mean, sum
from minidl.ops.shape import squeeze, unsqueeze
from minidl.tensor import Tensor

REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(op, reduction, allowed=REDUCTIONS):
    if reduction not in allowed:
        raise ValueError(f"{op}: reduction must be one of {allowed}, got {reduction!r}")


def _reduce(loss, reduction):
    if reduction == "mean":
        return mean(loss)
    if reduction == "sum":
        return sum(loss)
    return loss


def _same_shape(op, input, target):
    input, target = promote_operands(op, input, target)
    if input.shape != target.shape:
        raise ValueError(
            f"{op}: target shape {target.shape} must equal input shape {input.shape} "
            "(broadcasting them is almost always a bug: check for a missing or extra axis of size 1)"
        )
    return input, target


def mse_loss(input, target, reduction="mean"):
    """(x - y)^2, reduced."""
    _check_reduction("mse_loss", reduction)
    input, target = _same_shape("mse_loss", input, target)
    diff = input - target
    return _reduce(diff * diff, reduction)


def l1_loss(input, target, reduction="mean"):
    """|x - y|, reduced."""
    _check_reduction("l1_loss", reduction)
    input, target = _same_shape("l1_loss", input, target)
    return _reduce(abs(input - target), reduction)


class NLLLoss(Function):
    """loss[n] = -w[t_n] * x[n, t_n]  (0 where t_n == ignore_index);
    dx[n, c] = -w[t_n] * g[n] if c == t_n, else 0."""

    @staticmethod
    def forward(ctx, x, target=None, class_weight=None):
        xp = backend.get_array_module(x)
        classes = xp.arange(x.shape[1]).reshape((1, -1) + (1,) * (x.ndim - 2))
        picked = classes == xp.expand_dims(target, 1)  # one-hot of the target, False where ignored
        ctx.save_for_backward(picked, class_weight)
        return -(x * picked * class_weight).sum(axis=1)

    @staticmethod
    def backward(ctx, grad):
        picked, class_weight = ctx.saved
        return -(picked * class_weight) * backend.get_array_module(grad).expand_dims(grad, 1)

    @staticmethod
    def graph_backward(ctx, grad):
        """The same formula on Tensors (for gradients of gradients); the one-hot and the class
        weights come from the targets and the weights, not from x: constants."""
        picked, class_weight = ctx.constants
        return -(picked * class_weight) * grad.unsqueeze(1)


def _check_class_target(op, x, target, ignore_index):
    if not isinstance(target, Tensor) or backend.is_floating(target.dtype) or target.dtype == bool:
        raise TypeError(f"{op}: target must be an integer tensor of class indices, got {getattr(target, 'dtype', type(target).__name__)}")
    expected = x.shape[:1] + x.shape[2:]
    if target.shape != expected:
        raise ValueError(f"{op}: for input of shape {x.shape} the target must have shape {expected}, got {target.shape}")
    if not checks_values(target.array):
        return
    bad = (target.array != ignore_index) & ((target.array < 0) | (target.array >= x.shape[1]))
    if bad.any():
        value = int(target.array[bad].reshape(-1)[0])
        raise IndexError(f"{op}: target {value} is out of bounds for {x.shape[1]} classes")


def _class_weight(op, weight, x):
    """Per-class weights reshaped to broadcast over (N, C, d1, ...), ones when not given."""
    xp = x.xp
    if weight is None:
        return xp.ones((1, x.shape[1]) + (1,) * (x.ndim - 2), dtype=x.dtype)
    w = option_array(op, "weight", weight, x)
    if w.shape != (x.shape[1],):
        raise ValueError(f"{op}: weight must have shape ({x.shape[1]},) (one per class), got {w.shape}")
    return w.astype(x.dtype).reshape((1, -1) + (1,) * (x.ndim - 2))


def _unbatched(loss_fn, x, target, reduction, **options):
    """Run a batched loss on one sample (C,) by adding and removing a batch axis."""
    if not isinstance(target, Tensor):
        raise TypeError(f"{loss_fn.__name__}: target must be a Tensor, got {type(target).__name__}")
    loss = loss_fn(unsqueeze(x, 0), unsqueeze(target, 0), reduction=reduction, **options)
    return squeeze(loss, 0) if reduction == "none" else loss


def _class_losses(x, target, class_weight, ignore_index):
    """Per-sample -w[t] * x[n, t] (0 where ignored) and the mean's divisor: the summed weights of
    the targets that are not ignored."""
    valid = target.array != ignore_index
    safe_target = x.xp.where(valid, target.array, -1)  # -1 matches no class: no loss, no gradient
    losses = NLLLoss.apply(x, target=safe_target, class_weight=class_weight)
    picked_weights = class_weight.reshape(-1)[x.xp.where(valid, target.array, 0)] * valid
    return losses, Tensor(picked_weights.sum())


def _reduce_class_losses(losses, divisor, reduction):
    """'mean' of class-index losses divides by the summed target weights, as PyTorch."""
    return sum(losses) / divisor if reduction == "mean" else _reduce(losses, reduction)


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of class indices, for log-probabilities ``input`` of shape
    (N, C) or (N, C, d1, ...) (or (C,) with a 0-d target).

    'mean' divides by the summed weights of the non-ignored targets, as PyTorch.
    """
    _check_reduction("nll_loss", reduction)
    x = as_floating_tensor("nll_loss", input)
    if x.ndim == 1:
        return _unbatched(nll_loss, x, target, reduction, weight=weight, ignore_index=ignore_index)
    if x.ndim < 2:
        raise ValueError(f"nll_loss: input must be (N, C) or (N, C, d1, ...), got shape {x.shape}")
    _check_class_target("nll_loss", x, target, ignore_index)
    losses, divisor = _class_losses(x, target, _class_weight("nll_loss", weight, x), ignore_index)
    return _reduce_class_losses(losses, divisor, reduction)


def _smoothed_class_losses(log_probs, target, weight, ignore_index, label_smoothing):
    """(1 - e) * nll + (e / C) * (-sum_c w_c log p_c) per sample, 0 where ignored, and the
    divisor of 'mean' (the summed target weights, for both terms, as torch)."""
    class_weight = _class_weight("cross_entropy", weight, log_probs)
    losses, divisor = _class_losses(log_probs, target, class_weight, ignore_index)
    kept = Tensor((target.array != ignore_index).astype(log_probs.dtype))
    uniform = mul(-sum(mul(log_probs, Tensor(class_weight)), dim=1), kept)
    classes = log_probs.shape[1]
    return (1 - label_smoothing) * losses + (label_smoothing / classes) * uniform, divisor


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy of logits (N, C[, d1, ...]) (or one sample (C,)).

    ``target`` is either class indices (integers, shape (N[, d1, ...])), giving
    nll_loss(log_softmax(x)), or class probabilities of the input's shape, giving
    -sum_c w_c * p_c * log_softmax(x)_c per sample ('mean' then averages over samples).
    ``label_smoothing`` e mixes the target with the uniform distribution over the C classes:
    probabilities become (1 - e) p + e / C; with indices the loss becomes
    (1 - e) * nll + (e / C) * sum_c -w_c log_softmax(x)_c (torch's formula).
    """
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    x = as_floating_tensor("cross_entropy", input)
    if x.ndim == 1:
        return _unbatched(
            cross_entropy, x, target, reduction, weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing
        )
    log_probs = log_softmax(x, dim=1)
    if not (isinstance(target, Tensor) and backend.is_floating(target.dtype)):
        _check_class_target("cross_entropy", x, target, ignore_index)
        if label_smoothing == 0:
            return nll_loss(log_probs, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
        losses, divisor = _smoothed_class_losses(log_probs, target, weight, ignore_index, label_smoothing)
        return _reduce_class_losses(losses, divisor, reduction)
    if target.shape != x.shape:
        raise ValueError(f"cross_entropy: probability targets must have the input's shape {x.shape}, got {target.shape}")
    if weight is not None:
        log_probs = mul(log_probs, Tensor(_class_weight("cross_entropy", weight, x)))
    target = target.to(x.dtype)
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / x.shape[1]
    return _reduce(-sum(mul(log_probs, target), dim=1), reduction)


class BinaryCrossEntropy(Function):
    """loss = -(t log x + (1 - t) log(1 - x)), each log clamped at -100 as PyTorch;
    dx = g (x - t) / max(x (1 - x), 1e-12),  dt = g (log(1 - x) - log x)."""

    @staticmethod
    def forward(ctx, x, t):
        log_x, log_1mx = _clamped_logs(x)
        ctx.save_for_backward(x, t)
        return -(t * log_x + (1 - t) * log_1mx)

    @staticmethod
    def backward(ctx, grad):
        x, t = ctx.saved
        xp = backend.get_array_module(x)
        grad_x = grad * (x - t) / xp.maximum(x * (1 - x), 1e-12)
        grad_t = None
        if ctx.needs_input_grad[1]:
            log_x, log_1mx = _clamped_logs(x)
            grad_t = grad * (log_1mx - log_x)
        return grad_x, grad_t

    @staticmethod
    def graph_backward(ctx, grad):
        """The same formulas on Tensors (the clamps' masks are constants)."""
        x, t = ctx.saved
        grad_x = grad * (x - t) / clamp(x * (1 - x), min=1e-12)
        grad_t = None
        if ctx.needs_input_grad[1]:
            with float_errors_ignored(x.xp, divide="ignore"):
                grad_t = grad * (clamp(log1p(-x), min=-100) - clamp(log(x), min=-100))
        return grad_x, grad_t


def _clamped_logs(x):
    """log x and log(1 - x), each clamped at -100 (so 0 * log 0 is 0, as PyTorch)."""
    xp = backend.get_array_module(x)
    with float_errors_ignored(xp, divide="ignore"):
        return xp.maximum(xp.log(x), -100), xp.maximum(xp.log1p(-x), -100)


def _apply_weight(op, losses, weight):
    if weight is None:
        return losses
    (weight,) = promote_operands(op, weight)
    return mul(losses, weight.to(losses.dtype))


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """-(t log p + (1 - t) log(1 - p)) for probabilities p in [0, 1]."""
    _check_reduction("binary_cross_entropy", reduction)
    x, t = _same_shape("binary_cross_entropy", input, target)
    if checks_values(x.array) and ((x.array < 0) | (x.array > 1)).any():
        raise ValueError(
            f"binary_cross_entropy: input values must be between 0 and 1 (probabilities), got "
            f"min {float(x.array.min())} and max {float(x.array.max())}; use binary_cross_entropy_with_logits for logits"
        )
    losses = BinaryCrossEntropy.apply(x, t)
    return _reduce(_apply_weight("binary_cross_entropy", losses, weight), reduction)


class BCEWithLogits(Function):
    """loss = (1 - t) x + l (log(1 + e^-|x|) + max(-x, 0)),  l = 1 + (pos_weight - 1) t,
    i.e. -(pos_weight t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))) without overflow;
    dx = g (l sigmoid(x) - pos_weight t),  dt = g ((pos_weight - 1) softplus(-x) - x)."""

    @staticmethod
    def forward(ctx, x, t, pos_weight=None):
        pos_weight = 1.0 if pos_weight is None else pos_weight
        ctx.save_for_backward(x, t)
        ctx.pos_weight = pos_weight
        return (1 - t) * x + (1 + (pos_weight - 1) * t) * _softplus_of_minus(x)

    @staticmethod
    def backward(ctx, grad):
        x, t = ctx.saved
        grad_x = grad * ((1 + (ctx.pos_weight - 1) * t) * stable_sigmoid(x) - ctx.pos_weight * t)
        grad_t = grad * ((ctx.pos_weight - 1) * _softplus_of_minus(x) - x) if ctx.needs_input_grad[1] else None
        return grad_x, grad_t

    @staticmethod
    def graph_backward(ctx, grad):
        """The same formulas on Tensors (for gradients of gradients)."""
        x, t = ctx.saved
        grad_x = grad * ((1 + (ctx.pos_weight - 1) * t) * sigmoid(x) - ctx.pos_weight * t)
        grad_t = None
        if ctx.needs_input_grad[1]:
            softplus_of_minus_x = log1p(exp(-abs(x))) + relu(-x)
            grad_t = grad * ((ctx.pos_weight - 1) * softplus_of_minus_x - x)
        return grad_x, grad_t


def _softplus_of_minus(x):
    """log(1 + e^-x), computed as log1p(e^-|x|) + max(-x, 0) so it never overflows."""
    xp = backend.get_array_module(x)
    return xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(-x, 0)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """sigmoid + binary cross-entropy in one stable step; ``pos_weight`` weighs positive targets
    (broadcast along the last dim, one per class)."""
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    x, t = _same_shape("binary_cross_entropy_with_logits", input, target)
    if pos_weight is not None:
        pos_weight = option_array("binary_cross_entropy_with_logits", "pos_weight", pos_weight, x)
        pos_weight = pos_weight.astype(x.dtype)
    losses = BCEWithLogits.apply(x, t, pos_weight=pos_weight)
    return _reduce(_apply_weight("binary_cross_entropy_with_logits", losses, weight), reduction)


class KLDiv(Function):
    """loss = t (log t - x)  (0 where t == 0), with ``x`` log-probabilities;
    log_target: loss = e^t (t - x).  dx = -t (or -e^t),  dt = log t + 1 - x (or e^t (t - x + 1))."""

    @staticmethod
    def forward(ctx, x, t, log_target=False):
        xp = backend.get_array_module(x)
        ctx.save_for_backward(x, t)
        ctx.log_target = log_target
        if log_target:
            return xp.exp(t) * (t - x)
        with float_errors_ignored(xp, divide="ignore", invalid="ignore"):
            return xp.where(t > 0, t * (xp.log(t) - x), 0 * x)

    @staticmethod
    def backward(ctx, grad):
        x, t = ctx.saved
        xp = backend.get_array_module(x)
        if ctx.log_target:
            p = xp.exp(t)
            return -grad * p, (grad * p * (t - x + 1) if ctx.needs_input_grad[1] else None)
        grad_t = None
        if ctx.needs_input_grad[1]:
            with float_errors_ignored(xp, divide="ignore"):
                grad_t = grad * (xp.log(t) + 1 - x)
        return -grad * t, grad_t

    @staticmethod
    def graph_backward(ctx, grad):
        """The same formulas on Tensors (for gradients of gradients)."""
        x, t = ctx.saved
        if ctx.log_target:
            p = exp(t)
            return -grad * p, (grad * p * (t - x + 1) if ctx.needs_input_grad[1] else None)
        grad_t = None
        if ctx.needs_input_grad[1]:
            with float_errors_ignored(x.xp, divide="ignore"):
                grad_t = grad * (log(t) + 1 - x)
        return -grad * t, grad_t


def kl_div(input, target, reduction="mean", log_target=False):
    """Kullback-Leibler divergence sum t (log t - x) for log-probabilities ``input``.

    reduction 'batchmean' divides the sum by the batch size (the mathematically right KL);
    'mean' divides by the number of elements, as PyTorch.
    """
    _check_reduction("kl_div", reduction, REDUCTIONS + ("batchmean",))
    x, t = _same_shape("kl_div", input, target)
    losses = KLDiv.apply(x, t, log_target=log_target)
    if reduction == "batchmean":
        return sum(losses) / (x.shape[0] if x.ndim else 1)
    return _reduce(losses, reduction)
