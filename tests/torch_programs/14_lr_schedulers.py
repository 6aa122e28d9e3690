"""Learning-rate schedules: StepLR per epoch, then OneCycleLR per batch (it cycles momentum too)."""
import numpy as np
import torch
import torch.nn as nn
from torch.optim.lr_scheduler import OneCycleLR, StepLR

rng = np.random.default_rng(11)
X = torch.tensor(rng.standard_normal((16, 3)), dtype=torch.float32)
y = torch.tensor(rng.standard_normal((16, 1)), dtype=torch.float32)
initial = {"weight": torch.tensor([[0.3, -0.2, 0.1]]), "bias": torch.tensor([0.05])}


def train(model, optimizer, scheduler, steps):
    losses, lrs, momenta = [], [], []
    for step in range(steps):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(X), y)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        lrs.append(scheduler.get_last_lr()[0])
        momenta.append(optimizer.param_groups[0]["momentum"])
    return losses, lrs, momenta


model = nn.Linear(3, 1)
model.load_state_dict(initial)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
step_lr = StepLR(optimizer, step_size=3, gamma=0.5)
step_losses, step_lrs, _ = train(model, optimizer, step_lr, steps=8)

model = nn.Linear(3, 1)
model.load_state_dict(initial)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
one_cycle = OneCycleLR(optimizer, max_lr=0.2, total_steps=10)
cycle_losses, cycle_lrs, cycle_momenta = train(model, optimizer, one_cycle, steps=10)

RESULTS = {
    "step_losses": step_losses,
    "step_lrs": step_lrs,
    "cycle_losses": cycle_losses,
    "cycle_lrs": cycle_lrs,
    "cycle_momenta": cycle_momenta,
    "weight": model.weight.detach().numpy(),
}
