"""Normalisation layers: BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm.

Same constructor arguments, defaults, parameter and buffer names as ``torch.nn``, so a torch
``state_dict`` loads.  The arithmetic is ``minidl/ops/normalization.py``.
"""
import numbers

import numpy as np

from minidl import backend
from minidl import functional as F
from minidl.grad_mode import no_grad
from minidl.nn.module import Module, Parameter
from minidl.ops.normalization import check_batch_norm_input
from minidl.tensor import Tensor


def _filled(shape, value, device, dtype):
    dtype = backend.get_default_dtype() if dtype is None else np.dtype(dtype)
    return backend.to_device(np.full(shape, value, dtype), device or "cpu")


def _affine_parameters(module, shape, weight, bias, device, dtype):
    """weight = 1 and bias = 0 of ``shape`` (each None when not wanted): y = x_hat at the start."""
    module.register_parameter("weight", Parameter(_filled(shape, 1.0, device, dtype)) if weight else None)
    module.register_parameter("bias", Parameter(_filled(shape, 0.0, device, dtype)) if bias else None)


class _BatchNorm(Module):
    """y = gamma * (x - mean) / sqrt(var + eps) + beta per channel, the statistics over the batch
    (and positions) in training, the running estimates in eval mode.

    Training updates running = (1 - momentum) * running + momentum * batch_stat (the variance
    unbiased); ``momentum=None`` gives the cumulative average (momentum = 1 / num_batches_tracked).
    Without ``track_running_stats`` the batch statistics are used in eval mode too.
    """

    expected_dims = ()  # the input ranks a subclass accepts

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        _affine_parameters(self, (num_features,), affine, affine, device, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(_filled((num_features,), 0.0, device, dtype)))
            self.register_buffer("running_var", Tensor(_filled((num_features,), 1.0, device, dtype)))
            self.register_buffer("num_batches_tracked", Tensor(_filled((), 0, device, np.int64)))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def reset_running_stats(self):
        if self.track_running_stats:
            with no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()

    def forward(self, input):
        name = type(self).__name__
        if input.ndim not in self.expected_dims:
            raise ValueError(f"{name}: expected a {' or '.join(f'{d}-D' for d in self.expected_dims)} input, "
                             f"got shape {tuple(input.shape)}")
        check_batch_norm_input(name, input, self.num_features, self.training)
        updating = self.training and self.track_running_stats
        momentum = self.momentum
        if updating and momentum is None:
            momentum = 1 / (int(self.num_batches_tracked.item()) + 1)
        out = F.batch_norm(input, self.running_mean, self.running_var, self.weight, self.bias,
                           training=self.training or not self.track_running_stats, momentum=momentum, eps=self.eps)
        if updating:
            with no_grad():
                self.num_batches_tracked.add_(1)
        return out

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm of (N, C) or (N, C, L): per channel, over N (and L)."""

    expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm of (N, C, H, W): per channel, over N, H and W."""

    expected_dims = (4,)


class LayerNorm(Module):
    """y = gamma * (x - mean) / sqrt(var + eps) + beta, each sample normalised over its last
    ``len(normalized_shape)`` axes; gamma and beta of shape ``normalized_shape`` (elementwise)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape, self.eps = tuple(normalized_shape), eps
        self.elementwise_affine = elementwise_affine
        _affine_parameters(self, self.normalized_shape, elementwise_affine, elementwise_affine and bias, device, dtype)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """y = gamma * (x - mean) / sqrt(var + eps) + beta, the C channels of (N, C, *) split into
    ``num_groups`` groups, each group of each sample normalised; gamma and beta per channel."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels must be divisible by num_groups, "
                             f"got num_channels={num_channels} and num_groups={num_groups}")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        _affine_parameters(self, (num_channels,), affine, affine, device, dtype)

    def forward(self, input):
        if input.ndim < 2 or input.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected an input of shape (N, {self.num_channels}, ...), "
                             f"got shape {tuple(input.shape)}")
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
