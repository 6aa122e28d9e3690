"""Save a checkpoint (model and optimizer state), load it into fresh objects, resume training."""
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
rng = np.random.default_rng(21)
X = torch.tensor(rng.standard_normal((32, 4)), dtype=torch.float32)
y = torch.tensor(rng.integers(0, 2, 32))
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=16)
initial = {
    "0.weight": rng.normal(0, 0.5, (8, 4)), "0.bias": np.zeros(8),
    "2.weight": rng.normal(0, 0.5, (2, 8)), "2.bias": np.zeros(2),
}


def make_model():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    model.load_state_dict({k: torch.tensor(v, dtype=torch.float32) for k, v in initial.items()})
    model = model.to(device)
    return model, torch.optim.Adam(model.parameters(), lr=0.05)


def train_epoch(model, optimizer):
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()
    return loss.item()


model, optimizer = make_model()
straight = [train_epoch(model, optimizer) for epoch in range(4)]

model, optimizer = make_model()
resumed = [train_epoch(model, optimizer) for epoch in range(2)]
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "checkpoint.pth")
    torch.save({"epoch": 2, "model_state_dict": model.state_dict(),
                "optimizer_state_dict": optimizer.state_dict(), "loss": resumed[-1]}, path)
    checkpoint = torch.load(path)
model, optimizer = make_model()
model.load_state_dict(checkpoint["model_state_dict"])
optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
resumed += [train_epoch(model, optimizer) for epoch in range(checkpoint["epoch"], 4)]

RESULTS = {
    "straight": straight,
    "resumed": resumed,
    "saved_epoch": checkpoint["epoch"],
    "saved_loss": checkpoint["loss"],
    "weight": model[0].weight.detach().cpu().numpy(),
}
