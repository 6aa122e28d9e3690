"""Tensor basics from a first lesson: creation, clone, masking, repeat, gather, padding, one-hot."""
import numpy as np
import torch
import torch.nn.functional as F

a = torch.arange(12, dtype=torch.float32).reshape(3, 4)
b = a.clone()
b[0, 0] = 100.0
c = torch.linspace(0, 1, steps=5)
I = torch.eye(3)
ones = torch.ones_like(a)
zeros = torch.zeros(2, 3)
full = torch.full((2, 2), 7.0)
as_tensor = torch.as_tensor(np.array([1.5, 2.5], dtype=np.float32))

masked = a.masked_fill(a > 6, -1.0)
repeated = torch.tensor([1, 2]).repeat(2, 3)
selected = torch.index_select(a, 0, torch.tensor([2, 0]))
gathered = a.gather(1, torch.tensor([[0], [3], [1]]))
padded = F.pad(a, (1, 2))
padded_2d = F.pad(a.unsqueeze(0), (1, 1, 2, 0), value=0.5)
one_hot = F.one_hot(torch.tensor([0, 2, 1]), num_classes=4)
row_sums = a.sum(dim=1, keepdims=True)
col_means = a.mean(axis=0)
normalized = F.normalize(a, dim=1)
stacked = torch.stack([a[0], a[1]], dim=1)
batch = torch.randn(2, 3, 4).shape

w = torch.tensor(np.random.default_rng(15).standard_normal((3, 4)), dtype=torch.float32, requires_grad=True)
loss = (w.masked_fill(a > 6, 0.0) * 2).repeat(2, 1).sum()
loss = loss + w.gather(1, torch.tensor([[1], [2], [0]])).pow(2).sum() + F.pad(w, (1, 1)).mT.abs().mean()
loss = loss + torch.index_select(w, 1, torch.tensor([3, 3])).sum() + F.silu(w).sum()
loss.backward()

RESULTS = {
    "a": a.numpy(), "b": b.numpy(), "c": c.numpy(), "I": I.numpy(), "ones": ones.numpy(),
    "zeros": zeros.numpy(), "full": full.numpy(), "as_tensor": as_tensor.numpy(),
    "masked": masked.numpy(), "repeated": repeated.numpy(), "selected": selected.numpy(),
    "gathered": gathered.numpy(), "padded": padded.numpy(), "padded_2d": padded_2d.numpy(),
    "one_hot": one_hot.numpy(), "row_sums": row_sums.numpy(), "col_means": col_means.numpy(),
    "normalized": normalized.numpy(), "stacked": stacked.numpy(), "batch_shape": list(batch),
    "loss": loss.item(), "w_grad": w.grad.numpy(),
    "shape_and_dtype": [a.shape[0], a.size(1), a.dim(), a.numel(), float(one_hot.dtype == torch.int64)],
}
