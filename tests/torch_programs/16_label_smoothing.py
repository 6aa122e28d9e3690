"""Label smoothing: nn.CrossEntropyLoss(label_smoothing=0.1), against the formula written out."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

rng = np.random.default_rng(13)
X = torch.tensor(rng.standard_normal((10, 4)), dtype=torch.float32)
y = torch.tensor(rng.integers(0, 5, 10))
model = nn.Linear(4, 5)
with torch.no_grad():
    model.weight.copy_(torch.tensor(rng.normal(0, 0.5, (5, 4))))
    model.bias.copy_(torch.tensor(rng.normal(0, 0.1, 5)))

criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.3)
losses = []
for step in range(6):
    optimizer.zero_grad()
    loss = criterion(model(X), y)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())

logits = model(X)
eps, n_classes = 0.1, 5
smooth_targets = F.one_hot(y, n_classes).float() * (1 - eps) + eps / n_classes
by_hand = -(smooth_targets * F.log_softmax(logits, dim=-1)).sum(dim=-1).mean()
builtin = F.cross_entropy(logits, y, label_smoothing=eps)
per_sample = F.cross_entropy(logits, y, reduction="none", label_smoothing=0.2)
builtin.backward()

RESULTS = {
    "losses": losses,
    "by_hand": by_hand.item(),
    "builtin": builtin.item(),
    "per_sample": per_sample.detach().numpy(),
    "weight_grad": model.weight.grad.numpy(),
}
