"""The 60-minute blitz's network and its update through .data: f.data.sub_(f.grad.data * lr)."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 2, 3)
        self.fc1 = nn.Linear(2 * 3 * 3, 8)
        self.fc2 = nn.Linear(8, 4)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


rng = np.random.default_rng(20)
net = Net()
for m in net.modules():
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        m.weight.data = torch.tensor(rng.normal(0, 0.3, tuple(m.weight.shape)), dtype=torch.float32)
        m.bias.data.fill_(0.01)

input = torch.tensor(rng.standard_normal((2, 1, 8, 8)), dtype=torch.float32)
target = torch.tensor(rng.standard_normal((2, 4)), dtype=torch.float32)
criterion = nn.MSELoss()

learning_rate = 0.01
losses = []
for step in range(3):
    net.zero_grad()
    output = net(input)
    loss = criterion(output, target)
    loss.backward()
    for f in net.parameters():
        f.data.sub_(f.grad.data * learning_rate)
    losses.append(loss.item())

params = list(net.parameters())
RESULTS = {
    "losses": losses,
    "num_params": len(params),
    "conv1_weight_shape": list(params[0].size()),
    "conv1_bias_grad": net.conv1.bias.grad.numpy(),
    "fc2_weight": net.fc2.weight.detach().numpy(),
}
