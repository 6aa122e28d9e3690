"""Linear regression from scratch: y = Xw + b, squared loss, minibatch SGD written by hand."""
import numpy as np
import torch

rng = np.random.default_rng(0)
features = rng.standard_normal((64, 3)).astype(np.float32)
true_w = np.array([[2.0], [-3.4], [1.5]], dtype=np.float32)
labels = features @ true_w + 4.2 + 0.01 * rng.standard_normal((64, 1)).astype(np.float32)

X = torch.from_numpy(features)
y = torch.tensor(labels)
w = torch.tensor(rng.normal(0, 0.01, (3, 1)), dtype=torch.float32, requires_grad=True)
b = torch.zeros(1, requires_grad=True)


def linreg(X, w, b):
    return torch.matmul(X, w) + b


def squared_loss(y_hat, y):
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


lr, batch_size = 0.03, 16
epoch_losses = []
for epoch in range(3):
    for i in range(0, len(X), batch_size):
        X_batch, y_batch = X[i:i + batch_size], y[i:i + batch_size]
        l = squared_loss(linreg(X_batch, w, b), y_batch)
        l.sum().backward()
        with torch.no_grad():
            for param in (w, b):
                param -= lr * param.grad / batch_size
                param.grad.zero_()
    with torch.no_grad():
        train_l = squared_loss(linreg(X, w, b), y)
        epoch_losses.append(float(train_l.mean()))
    print(f"epoch {epoch + 1}, loss {float(train_l.mean()):f}")

RESULTS = {
    "w": w.detach().numpy(),
    "b": b.detach().numpy(),
    "epoch_losses": epoch_losses,
    "w_error": (torch.from_numpy(true_w) - w).abs().max().item(),
}
