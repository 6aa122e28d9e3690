"""Exploding gradients tamed: nn.utils.clip_grad_norm_ (and clip_grad_value_) before each step."""
import numpy as np
import torch
import torch.nn as nn

rng = np.random.default_rng(9)
X = torch.tensor(rng.standard_normal((20, 4)) * 5, dtype=torch.float32)
y = torch.tensor(rng.standard_normal((20, 1)) * 10, dtype=torch.float32)

model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.tensor(rng.normal(0, 1.0, tuple(p.shape))))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
criterion = nn.MSELoss()

total_norms, losses = [], []
for step in range(6):
    optimizer.zero_grad()
    loss = criterion(model(X), y)
    loss.backward()
    if step % 2 == 0:
        total_norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        total_norms.append(total_norm.item())
    else:
        torch.nn.utils.clip_grad_value_(model.parameters(), clip_value=0.1)
    optimizer.step()
    losses.append(loss.item())

norm_after = torch.norm(torch.stack([p.grad.norm(2) for p in model.parameters()]), 2)
RESULTS = {
    "losses": losses,
    "total_norms": total_norms,
    "last_grad_max": max(p.grad.abs().max().item() for p in model.parameters()),
    "norm_after": norm_after.item(),
    "weight": model[0].weight.detach().numpy(),
}
