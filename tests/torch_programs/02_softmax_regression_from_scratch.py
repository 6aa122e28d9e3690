"""Softmax regression from scratch: softmax by hand, cross-entropy by picking y_hat[i, y_i]."""
import numpy as np
import torch

rng = np.random.default_rng(0)
X = torch.tensor(rng.standard_normal((30, 4)), dtype=torch.float32)
y = torch.tensor(rng.integers(0, 3, size=30))
num_inputs, num_outputs = 4, 3
W = torch.tensor(rng.normal(0, 0.01, (num_inputs, num_outputs)), dtype=torch.float32, requires_grad=True)
b = torch.zeros(num_outputs, requires_grad=True)


def softmax(X):
    X_exp = torch.exp(X)
    partition = X_exp.sum(1, keepdim=True)
    return X_exp / partition


def net(X):
    return softmax(torch.matmul(X.reshape((-1, W.shape[0])), W) + b)


def cross_entropy(y_hat, y):
    return -torch.log(y_hat[range(len(y_hat)), y])


def accuracy(y_hat, y):
    y_hat = y_hat.argmax(axis=1)
    cmp = y_hat.type(y.dtype) == y
    return float(cmp.type(y.dtype).sum())


def sgd(params, lr, batch_size):
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()


losses, accuracies = [], []
for epoch in range(10):
    l = cross_entropy(net(X), y)
    l.sum().backward()
    sgd([W, b], lr=0.5, batch_size=len(y))
    losses.append(l.mean().item())
    accuracies.append(accuracy(net(X), y) / len(y))

X_prob = softmax(torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]))
RESULTS = {
    "W": W.detach().numpy(),
    "b": b.detach().numpy(),
    "losses": losses,
    "accuracies": accuracies,
    "X_prob": X_prob.numpy(),
    "row_sums": X_prob.sum(1).numpy(),
}
