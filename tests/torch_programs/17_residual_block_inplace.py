"""In-place operations inside a model: out += residual and ReLU(inplace=True), trained by SGD."""
import numpy as np
import torch
import torch.nn as nn


class ResidualBlock(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        residual = x
        out = self.fc1(x)
        out = self.relu(out)
        out = self.fc2(out)
        out += residual
        out = self.relu(out)
        return out


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(3, 6)
        self.blocks = nn.Sequential(ResidualBlock(6), ResidualBlock(6))
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        x = self.stem(x)
        x = self.blocks(x)
        x = x * 0.5
        x.add_(1.0)
        return self.head(x)


rng = np.random.default_rng(14)
X = torch.tensor(rng.standard_normal((16, 3)), dtype=torch.float32)
y = torch.tensor(rng.integers(0, 2, 16))
model = Net()
model.load_state_dict({
    name: torch.tensor(rng.normal(0, 0.4, tuple(value.shape)), dtype=torch.float32)
    for name, value in model.state_dict().items()
})
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

losses = []
for step in range(5):
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(X), y)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())

RESULTS = {"losses": losses}
RESULTS.update({name: p.grad.numpy() for name, p in model.named_parameters()})
