"""Linear algebra, first lesson: reductions with axis=, keepdims, cumsum, dot, mv, mm and norms."""
import torch

x = torch.arange(4, dtype=torch.float32)
A = torch.arange(20, dtype=torch.float32).reshape(5, 4)
B = A.clone()

A_sum_axis0 = A.sum(axis=0)
A_sum_axis1 = A.sum(axis=1)
sum_A = A.sum(axis=1, keepdims=True)
y = torch.ones(4, dtype=torch.float32)
u = torch.tensor([3.0, -4.0])

RESULTS = {
    "A_T": A.T.numpy(),
    "symmetric": float((A.T.T == A).all()),
    "hadamard": (A * B).numpy(),
    "scalar_ops": (2 + A * 3).numpy(),
    "A_sum_axis0": A_sum_axis0.numpy(),
    "A_sum_axis1": A_sum_axis1.numpy(),
    "A_sum_both": A.sum(axis=[0, 1]).item(),
    "A_mean": A.mean().item(),
    "mean_by_hand": (A.sum() / A.numel()).item(),
    "A_mean_axis0": A.mean(axis=0).numpy(),
    "A_over_row_sums": (A / sum_A).numpy(),
    "cumsum": A.cumsum(axis=0).numpy(),
    "dot": torch.dot(x, y).item(),
    "dot_by_hand": torch.sum(x * y).item(),
    "mv": torch.mv(A, x).numpy(),
    "mm": torch.mm(A, torch.ones(4, 3)).numpy(),
    "l2": torch.norm(u).item(),
    "l1": torch.abs(u).sum().item(),
    "frobenius": torch.norm(torch.ones((4, 9))).item(),
    "shapes": [len(x), *A.shape, A.numel()],
}
