"""An MLP with nn.Sequential, nn.CrossEntropyLoss and torch.optim.SGD; weights set by copy_."""
import numpy as np
import torch
from torch import nn

torch.manual_seed(0)
rng = np.random.default_rng(0)
X = torch.tensor(rng.standard_normal((40, 4)), dtype=torch.float32)
y = (X[:, 0] + X[:, 1] > 0).long() + (X[:, 2] > 1).long()

model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.tensor(rng.uniform(-0.5, 0.5, size=tuple(p.shape))))

print(model)
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

losses = []
for epoch in range(20):
    optimizer.zero_grad()
    output = model(X)
    loss = loss_fn(output, y)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())

with torch.no_grad():
    predictions = model(X).argmax(dim=1)
    accuracy = (predictions == y).float().mean().item()

RESULTS = {
    "losses": losses,
    "accuracy": accuracy,
    "predictions": predictions.numpy(),
    "first_weight": model[0].weight.detach().numpy(),
    "last_bias": model[2].bias.detach().numpy(),
    "num_parameters": sum(p.numel() for p in model.parameters()),
}
