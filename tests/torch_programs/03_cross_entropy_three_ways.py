"""Cross-entropy three ways (log_softmax + gather, one_hot, F.cross_entropy) and one SGD step each."""
import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(1)
X = torch.tensor(rng.standard_normal((12, 5)), dtype=torch.float32)
y = torch.tensor(rng.integers(0, 4, size=12), dtype=torch.long)
W_init = rng.normal(0, 0.3, (5, 4)).astype(np.float32)


def loss_by_gather(logits, y):
    log_probs = F.log_softmax(logits, dim=1)
    return -log_probs.gather(1, y.unsqueeze(1)).squeeze(1).mean()


def loss_by_one_hot(logits, y):
    targets = F.one_hot(y, num_classes=4).float()
    return -(targets * torch.log_softmax(logits, dim=-1)).sum(dim=1).mean()


def loss_builtin(logits, y):
    return F.cross_entropy(logits, y)


RESULTS = {}
for name, loss_fn in [("gather", loss_by_gather), ("one_hot", loss_by_one_hot), ("builtin", loss_builtin)]:
    W = torch.tensor(W_init, requires_grad=True)
    b = torch.zeros(4, requires_grad=True)
    for step in range(5):
        loss = loss_fn(X @ W + b, y)
        loss.backward()
        with torch.no_grad():
            W -= 0.5 * W.grad
            b -= 0.5 * b.grad
        W.grad.zero_()
        b.grad.zero_()
    RESULTS[f"{name}_loss"] = loss.item()
    RESULTS[f"{name}_W"] = W.detach().numpy()
    RESULTS[f"{name}_b"] = b.detach().numpy()
