"""Binary logistic regression in float64 with explicit dtypes: model.double(), BCE two ways."""
import numpy as np
import torch
import torch.nn as nn

rng = np.random.default_rng(18)
X_np = rng.standard_normal((40, 3))
y_np = (X_np @ np.array([1.0, -2.0, 0.5]) + 0.3 > 0).astype(np.float64)
X = torch.tensor(X_np, dtype=torch.float64)
y = torch.tensor(y_np, dtype=torch.float64).unsqueeze(1)


class LogisticRegression(nn.Module):
    def __init__(self, n_features):
        super().__init__()
        self.linear = nn.Linear(n_features, 1)

    def forward(self, x):
        return torch.sigmoid(self.linear(x))


model = LogisticRegression(3).double()
with torch.no_grad():
    model.linear.weight.copy_(torch.tensor([[0.1, 0.2, -0.1]], dtype=torch.float64))
    model.linear.bias.zero_()
criterion = nn.BCELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.5)

losses = []
for epoch in range(15):
    y_pred = model(X)
    loss = criterion(y_pred, y)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    losses.append(loss.item())

with torch.no_grad():
    logits = model.linear(X)
    with_logits = nn.BCEWithLogitsLoss()(logits, y)
    predicted_class = model(X).round()
    acc = predicted_class.eq(y).sum() / float(y.shape[0])

RESULTS = {
    "losses": losses,
    "with_logits": with_logits.item(),
    "acc": acc.item(),
    "weight": model.linear.weight.detach().numpy(),
    "bias": model.linear.bias.detach().numpy(),
}
