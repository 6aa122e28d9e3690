"""A custom nn.Module trained with optim.Adam; initial weights loaded with load_state_dict."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim


class Net(nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_hidden)
        self.fc2 = nn.Linear(n_hidden, n_hidden)
        self.out = nn.Linear(n_hidden, n_out)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = torch.tanh(self.fc2(x))
        return self.out(x)


rng = np.random.default_rng(2)
X = torch.tensor(rng.uniform(-1, 1, (50, 2)), dtype=torch.float32)
y = torch.sin(3 * X[:, :1]) * X[:, 1:]

model = Net(2, 8, 1)
model.load_state_dict({
    name: torch.tensor(rng.normal(0, 0.5, tuple(p.shape)), dtype=torch.float32)
    for name, p in model.state_dict().items()
})
optimizer = optim.Adam(model.parameters(), lr=0.01, betas=(0.9, 0.99))
criterion = nn.MSELoss()

history = []
for step in range(25):
    optimizer.zero_grad()
    loss = criterion(model(X), y)
    loss.backward()
    optimizer.step()
    history.append(loss.item())

RESULTS = {"history": history}
RESULTS.update({name: value.detach().numpy() for name, value in model.state_dict().items()})
