"""Evaluation: model.eval() turns dropout off, torch.no_grad() records nothing; accuracy by argmax."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

rng = np.random.default_rng(12)
X_test = torch.tensor(rng.standard_normal((30, 1, 4, 4)), dtype=torch.float32)
y_test = torch.tensor(rng.integers(0, 5, 30))

model = nn.Sequential(
    nn.Conv2d(1, 3, 3),
    nn.Dropout2d(0.25),
    nn.Flatten(),
    nn.Linear(12, 20),
    nn.ReLU(),
    nn.Dropout(p=0.5),
    nn.Linear(20, 5),
)
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.tensor(rng.normal(0, 0.5, tuple(p.shape))))


def evaluate(model, X, y):
    model.eval()
    with torch.no_grad():
        outputs = model(X)
        loss = F.cross_entropy(outputs, y, reduction="sum").item()
        _, predicted = outputs.max(1)
        correct = predicted.eq(y).sum().item()
    return loss / len(y), correct / len(y), outputs


test_loss, test_acc, outputs = evaluate(model, X_test, y_test)
outputs_again = model(X_test)
model.train()
training_flags = [float(m.training) for m in model.modules()]
model.eval()

RESULTS = {
    "test_loss": test_loss,
    "test_acc": test_acc,
    "outputs": outputs.numpy(),
    "deterministic": float(torch.equal(outputs, outputs_again.detach())),
    "no_graph_under_no_grad": float(outputs.requires_grad),
    "graph_outside_no_grad": float(outputs_again.requires_grad),
    "training_flags": training_flags,
    "eval_flags": [float(m.training) for m in model.modules()],
    "functional_dropout_eval": F.dropout(X_test[0, 0], p=0.5, training=False).numpy(),
}
