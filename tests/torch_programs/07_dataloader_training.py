"""Minibatch training with DataLoader(TensorDataset(...), batch_size, shuffle=False)."""
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

rng = np.random.default_rng(4)
features = torch.from_numpy(rng.standard_normal((50, 5)).astype(np.float32))
targets = torch.from_numpy(rng.standard_normal((50, 1)).astype(np.float32))
dataset = TensorDataset(features, targets)
loader = DataLoader(dataset, batch_size=8, shuffle=False)

model = nn.Linear(5, 1)
with torch.no_grad():
    model.weight.copy_(torch.tensor(rng.normal(0, 0.1, (1, 5))))
    model.bias.fill_(0.5)
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
loss_fn = nn.MSELoss()

epoch_losses, batch_sizes = [], []
for epoch in range(3):
    running_loss = 0.0
    for xb, yb in loader:
        pred = model(xb)
        loss = loss_fn(pred, yb)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        running_loss += loss.item() * xb.size(0)
        if epoch == 0:
            batch_sizes.append(len(xb))
    epoch_losses.append(running_loss / len(dataset))

first_x, first_y = dataset[0]
optimizer.zero_grad()
RESULTS = {
    "epoch_losses": epoch_losses,
    "batch_sizes": batch_sizes,
    "num_batches": len(loader),
    "first_item": torch.cat([first_x, first_y]).numpy(),
    "weight": model.weight.detach().numpy(),
    "bias": model.bias.detach().numpy(),
    "grad_is_none_after_zero_grad": float(model.weight.grad is None),
}
