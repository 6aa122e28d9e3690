"""Fine-tuning: freeze a feature extractor (requires_grad_(False)), train a head; ModuleDict & co."""
import numpy as np
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(8, 12), nn.ReLU(), nn.Unflatten(1, (3, 4)))
        self.heads = nn.ModuleDict({"relu": nn.ReLU(), "silu": nn.SiLU(inplace=False)})
        self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(2)])
        self.scales = nn.ParameterList([nn.Parameter(torch.ones(4)) for _ in range(2)])
        self.out = nn.Linear(12, 3)

    def forward(self, x, activation="relu"):
        x = self.features(x)
        for layer, scale in zip(self.layers, self.scales):
            x = self.heads[activation](layer(x)) * scale
        return self.out(x.flatten(1))


rng = np.random.default_rng(17)
X = torch.tensor(rng.standard_normal((10, 8)), dtype=torch.float32)
y = torch.tensor(rng.integers(0, 3, 10))
model = Model()
with torch.no_grad():
    for name, p in model.named_parameters():
        p.copy_(torch.tensor(rng.normal(0, 0.4, tuple(p.shape))))

model.features.requires_grad_(False)
for param in model.layers[0].parameters():
    param.requires_grad = False
trainable = [p for p in model.parameters() if p.requires_grad]
optimizer = torch.optim.Adam(trainable, lr=0.05)

losses = []
for step in range(4):
    optimizer.zero_grad()
    loss = nn.CrossEntropyLoss()(model(X, activation="silu" if step % 2 else "relu"), y)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())

RESULTS = {
    "losses": losses,
    "trainable": [name for name, p in model.named_parameters() if p.requires_grad],
    "frozen_grads": [float(p.grad is None) for p in model.features.parameters()],
    "module_names": [name for name, _ in model.named_modules()],
    "children": len(list(model.children())),
    "scales": model.scales[1].detach().numpy(),
    "out_weight": model.out.weight.detach().numpy(),
}
