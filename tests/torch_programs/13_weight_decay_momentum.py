"""SGD with momentum, Nesterov and weight decay, with a second parameter group at its own lr."""
import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim

rng = np.random.default_rng(10)
X = torch.tensor(rng.standard_normal((24, 6)), dtype=torch.float32)
y = torch.tensor(rng.integers(0, 3, 24))

model = nn.Sequential(nn.Linear(6, 10), nn.ReLU(), nn.Linear(10, 3))
with torch.no_grad():
    for layer in model:
        if isinstance(layer, nn.Linear):
            layer.weight.copy_(torch.tensor(rng.uniform(-0.4, 0.4, tuple(layer.weight.shape))))
            layer.bias.copy_(torch.tensor(rng.uniform(-0.1, 0.1, tuple(layer.bias.shape))))

optimizer = optim.SGD(
    [
        {"params": model[0].parameters()},
        {"params": model[2].parameters(), "lr": 0.02, "weight_decay": 0.0},
    ],
    lr=0.1,
    momentum=0.9,
    weight_decay=5e-4,
    nesterov=True,
)
criterion = nn.CrossEntropyLoss()

losses = []
for epoch in range(8):
    optimizer.zero_grad()
    loss = criterion(model(X), y)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())

adamw_model = nn.Linear(6, 3)
adamw_model.load_state_dict({"weight": model[2].weight[:, :6].detach().clone(), "bias": torch.zeros(3)})
adamw = optim.AdamW(adamw_model.parameters(), lr=0.01, weight_decay=0.1)
for step in range(5):
    adamw.zero_grad()
    criterion(adamw_model(X), y).backward()
    adamw.step()

RESULTS = {
    "losses": losses,
    "layer0_weight": model[0].weight.detach().numpy(),
    "layer2_weight": model[2].weight.detach().numpy(),
    "momentum_buffer": optimizer.state[model[0].weight]["momentum_buffer"].numpy(),
    "group_lrs": [group["lr"] for group in optimizer.param_groups],
    "adamw_weight": adamw_model.weight.detach().numpy(),
}
