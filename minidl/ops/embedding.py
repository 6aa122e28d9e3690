"""Embedding lookup: rows of a weight matrix picked by integer indices; one-hot encoding.

Checking that indices are in range reads them, which on a GPU waits for the device and copies to
the host at every call; on CUDA these checks run only with ``md.config.check_device_values`` (as
PyTorch, whose CUDA kernels assert on the device instead).  Unchecked, CuPy wraps an out-of-range
index around, so turn the checks on while debugging.
"""
import numpy as np

from minidl import backend
from minidl.autograd import Function
from minidl.ops.common import checks_values, option_array
from minidl.ops.shape import ScatterAdd
from minidl.tensor import Tensor


class Embedding(Function):
    """out[...] = W[index[...]];  dW[i] = sum of g over the positions that picked row i
    (0 for the ``padding_idx`` row)."""

    @staticmethod
    def forward(ctx, weight, index=None, padding_idx=None):
        ctx.save_for_backward(index)
        ctx.shape, ctx.padding_idx = weight.shape, padding_idx
        return weight[index]

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved
        xp = backend.get_array_module(grad)
        grad_w = xp.zeros(ctx.shape, dtype=grad.dtype)
        backend.scatter_add(grad_w, index.reshape(-1), grad.reshape(-1, ctx.shape[1]))
        if ctx.padding_idx is not None:
            grad_w[ctx.padding_idx] = 0
        return grad_w

    @staticmethod
    def graph_backward(ctx, grad):
        """The same on Tensors: the rows of g added at their indices (``ScatterAdd``), the
        positions that picked ``padding_idx`` left out (for gradients of gradients)."""
        index = ctx.constants[0].array.reshape(-1)
        rows = grad.reshape(-1, ctx.shape[1])
        if ctx.padding_idx is not None:
            kept = index != ctx.padding_idx
            index, rows = index[kept], rows[kept]
        return ScatterAdd.apply(rows, index=(index,), shape=ctx.shape)


def embedding(input, weight, padding_idx=None):
    """Look up rows of ``weight`` (num_embeddings, embedding_dim) for the integer ``input``;
    the output has shape input.shape + (embedding_dim,)."""
    index = option_array("embedding", "input", input, weight)
    if index.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {index.dtype}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape {weight.shape}")
    count = weight.shape[0]
    if index.size and checks_values(index) and (int(index.min()) < 0 or int(index.max()) >= count):
        bad = int(index.min()) if int(index.min()) < 0 else int(index.max())
        raise IndexError(f"embedding: index {bad} is out of range for {count} embeddings")
    if padding_idx is not None and padding_idx < 0:
        padding_idx += count
    return Embedding.apply(weight, index=index, padding_idx=padding_idx)


def one_hot(tensor, num_classes=-1):
    """out[..., c] = 1 if tensor[...] == c else 0: int64 of shape tensor.shape + (num_classes,);
    ``num_classes=-1`` takes the largest class + 1.  (``one_hot(i) @ W`` is row i of W: what
    ``embedding`` looks up without building the one-hot matrix.)"""
    if not isinstance(tensor, Tensor) or tensor.dtype != np.int64:
        got = f"dtype {tensor.dtype}" if isinstance(tensor, Tensor) else type(tensor).__name__
        raise TypeError(f"one_hot: expects an int64 tensor of class indices, got {got}")
    index = tensor.array
    checked = index.size and checks_values(index)
    if checked and int(index.min()) < 0:
        raise ValueError(f"one_hot: class values must be non-negative, got {int(index.min())}")
    if num_classes == -1:  # reads the values, on every device
        if not index.size:
            raise ValueError("one_hot: cannot infer the number of classes from an empty tensor; pass num_classes")
        num_classes = int(index.max()) + 1
    if checked and int(index.max()) >= num_classes:
        raise ValueError(
            f"one_hot: class values must be smaller than num_classes={num_classes}, got {int(index.max())}"
        )
    xp = tensor.xp
    return Tensor((index[..., None] == xp.arange(num_classes)).astype(xp.int64))
