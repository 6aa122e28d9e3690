"""A small CNN (Conv2d, ReLU(inplace=True), MaxPool2d, Flatten, Linear) on 8x8 digit-like images."""
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

rng = np.random.default_rng(5)
images = torch.tensor(rng.uniform(0, 16, (24, 1, 8, 8)) / 16, dtype=torch.float32)
labels = torch.tensor(rng.integers(0, 10, 24))
train_loader = DataLoader(TensorDataset(images, labels), batch_size=8, shuffle=False)

model = nn.Sequential(
    nn.Conv2d(1, 4, kernel_size=3, padding=1),
    nn.ReLU(inplace=True),
    nn.MaxPool2d(2),
    nn.Conv2d(4, 8, kernel_size=3, padding=1),
    nn.ReLU(inplace=True),
    nn.MaxPool2d(kernel_size=2, stride=2),
    nn.Flatten(),
    nn.Linear(8 * 2 * 2, 10),
)


def init_weights(m):
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        fan_in = m.weight[0].numel()
        m.weight.copy_(torch.tensor(rng.normal(0, 1 / np.sqrt(fan_in), tuple(m.weight.shape))))
        nn.init.constant_(m.bias, 0.0)


with torch.no_grad():
    model.apply(init_weights)

criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

losses = []
model.train()
for epoch in range(2):
    for batch_idx, (data, target) in enumerate(train_loader):
        optimizer.zero_grad()
        output = model(data)
        loss = criterion(output, target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

model.eval()
correct = 0
with torch.no_grad():
    for data, target in train_loader:
        pred = model(data).argmax(dim=1, keepdim=True)
        correct += pred.eq(target.view_as(pred)).sum().item()

RESULTS = {
    "losses": losses,
    "accuracy": correct / len(train_loader.dataset),
    "conv1_weight": model[0].weight.detach().numpy(),
    "conv2_grad": model[3].weight.grad.numpy(),
    "fc_bias": model[7].bias.detach().numpy(),
}
