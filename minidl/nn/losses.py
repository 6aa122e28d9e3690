"""Loss layers: thin wrappers over the loss functions with PyTorch's constructor arguments.

Class weights are registered as buffers (as PyTorch does), so they follow ``to()`` and appear
in ``state_dict()``.  Every argument after ``weight`` is keyword-only: PyTorch's positional
order still contains the deprecated ``size_average``/``reduce``, so a positional call that
works there would silently mean something else here.
"""
from minidl import functional as F
from minidl.nn.module import Module
from minidl.ops.loss import REDUCTIONS


class _Loss(Module):
    """Holds ``reduction`` ('mean', 'sum' or 'none'), checked when the loss is made."""

    reductions = REDUCTIONS

    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in self.reductions:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {self.reductions}, got {reduction!r}")
        self.reduction = reduction


class _WeightedLoss(_Loss):
    """A loss with an optional per-class (or per-element) ``weight`` buffer."""

    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy of logits (N, C, ...) with class indices or class probabilities,
    optionally with label smoothing; see ``F.cross_entropy``."""

    def __init__(self, weight=None, *, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(
            input, target, self.weight, self.ignore_index, self.reduction, label_smoothing=self.label_smoothing
        )


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class indices for log-probabilities (N, C, ...)."""

    def __init__(self, weight=None, *, ignore_index=-100, reduction="mean"):
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class MSELoss(_Loss):
    """(x - y)^2, reduced."""

    def __init__(self, *, reduction="mean"):
        super().__init__(reduction)

    def forward(self, input, target):
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """|x - y|, reduced."""

    def __init__(self, *, reduction="mean"):
        super().__init__(reduction)

    def forward(self, input, target):
        return F.l1_loss(input, target, self.reduction)


class BCELoss(_WeightedLoss):
    """-(y log x + (1 - y) log(1 - x)) for probabilities x, optionally weighted, reduced."""

    def __init__(self, weight=None, *, reduction="mean"):
        super().__init__(weight, reduction)

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Sigmoid + binary cross-entropy of logits in one stable step; ``pos_weight`` (one per
    class, last dim) weighs the positive targets."""

    def __init__(self, weight=None, *, reduction="mean", pos_weight=None):
        super().__init__(weight, reduction)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction, self.pos_weight)


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence t (log t - x) for log-probabilities x ('batchmean' gives the
    true KL per sample; ``log_target``: the target is given as log-probabilities)."""

    reductions = REDUCTIONS + ("batchmean",)

    def __init__(self, *, reduction="mean", log_target=False):
        super().__init__(reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return F.kl_div(input, target, self.reduction, self.log_target)
