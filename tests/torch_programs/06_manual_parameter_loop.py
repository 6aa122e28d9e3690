"""Gradient descent by hand over model.parameters(): p -= lr * p.grad under torch.no_grad()."""
import numpy as np
import torch
import torch.nn as nn

rng = np.random.default_rng(3)
X = torch.tensor(rng.standard_normal((32, 3)), dtype=torch.float32)
y = (X ** 2).sum(dim=1, keepdim=True) - 1.0

model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
with torch.no_grad():
    for name, p in model.named_parameters():
        p.copy_(torch.from_numpy(rng.normal(0, 0.5, tuple(p.shape)).astype(np.float32)))

loss_fn = nn.MSELoss()
learning_rate = 0.05
losses = []
for t in range(30):
    y_pred = model(X)
    loss = loss_fn(y_pred, y)
    losses.append(loss.item())
    model.zero_grad()
    loss.backward()
    with torch.no_grad():
        for param in model.parameters():
            param -= learning_rate * param.grad

grad_norms = {name: p.grad.norm().item() for name, p in model.named_parameters()}
RESULTS = {"losses": losses}
RESULTS.update({f"grad_norm.{name}": value for name, value in grad_norms.items()})
RESULTS.update({name: p.detach().numpy() for name, p in model.named_parameters()})
