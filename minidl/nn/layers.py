"""Layers without a nonlinearity: Linear, Embedding, Dropout, Dropout2d, Flatten, Unflatten, Identity, Upsample.

Same constructor arguments, defaults, weight shapes and initial distributions as ``torch.nn``.
"""
import math
import numbers

import numpy as np

from minidl import backend
from minidl import functional as F
from minidl.nn import init
from minidl.nn.module import Module, Parameter
from minidl.ops.common import normalize_dim


def empty_parameter(shape, device=None, dtype=None):
    """An uninitialised Parameter of ``shape`` (default dtype, CPU unless told otherwise)."""
    dtype = backend.get_default_dtype() if dtype is None else np.dtype(dtype)
    return Parameter(backend.to_device(np.empty(shape, dtype), device or "cpu"))


class Linear(Module):
    """y = x W^T + b, with W of shape (out_features, in_features) and b of shape (out_features,).

    Both start as U(-1/sqrt(in_features), 1/sqrt(in_features)), PyTorch's default (which it
    writes as kaiming_uniform_(W, a=sqrt(5)): the same bound).
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = empty_parameter((out_features, in_features), device, dtype)
        self.bias = empty_parameter((out_features,), device, dtype) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Embedding(Module):
    """A lookup table: row i of ``weight`` (num_embeddings, embedding_dim) is the vector of index i.

    Starts as N(0, 1); the ``padding_idx`` row starts at zero and gets no gradient.
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, device=None, dtype=None):
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx must be within [-{num_embeddings}, {num_embeddings - 1}], "
                    f"got {padding_idx}"
                )
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.weight = empty_parameter((num_embeddings, embedding_dim), device, dtype)
        self.reset_parameters()

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.array[self.padding_idx] = 0

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self):
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"


class _DropoutNd(Module):
    """What the dropout layers share: ``p``, ``inplace`` and the training switch."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"{type(self).__name__}: probability has to be between 0 and 1, got {p}")
        self.p, self.inplace = p, inplace

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """In training, zero each element with probability p and scale the rest by 1 / (1 - p);
    in eval mode, the identity.  ``inplace=True`` writes the result into the input."""

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """In training, zero each channel ``x[n, c]`` of an (N, C, H, W) input as a whole with
    probability p and scale the rest by 1 / (1 - p) (``F.dropout2d``); in eval mode, the identity."""

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training, self.inplace)


class Flatten(Module):
    """Merge dims ``start_dim..end_dim`` into one: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        return F.flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size``: ``Unflatten(1, (16, 4, 4))`` turns (N, 256)
    into (N, 16, 4, 4), the inverse of ``Flatten``.  One size may be -1 (inferred)."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)) or not all(
            isinstance(n, numbers.Integral) for n in unflattened_size
        ):
            raise TypeError(
                f"Unflatten: unflattened_size must be a tuple of ints, got {type(unflattened_size).__name__} "
                f"{unflattened_size!r}"
            )
        self.dim, self.unflattened_size = dim, unflattened_size

    def forward(self, input):
        dim = normalize_dim("Unflatten", self.dim, input.ndim)
        sizes = tuple(self.unflattened_size)
        known = math.prod(n for n in sizes if n != -1)
        length = input.shape[dim]
        inferred = sizes.count(-1)
        fits = (inferred == 0 and known == length) or (inferred == 1 and known > 0 and length % known == 0)
        if not fits:
            raise ValueError(
                f"Unflatten: sizes {list(sizes)} don't multiply up to the size of dim {self.dim} ({length}) "
                f"of the input of shape {tuple(input.shape)}"
            )
        return F.reshape(input, input.shape[:dim] + sizes + input.shape[dim + 1 :])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. to remove a layer from a model)."""

    def forward(self, input):
        return input


class Upsample(Module):
    """Resize the spatial axes to ``size`` or by ``scale_factor`` with ``F.interpolate``'s
    ``mode`` ("nearest", "linear" for (N, C, L), "bilinear" for (N, C, H, W)); no parameters."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None):
        super().__init__()
        self.size, self.mode, self.align_corners = size, mode, align_corners
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor = tuple(float(s) for s in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        shape = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return f"{shape}, mode={self.mode!r}"
