"""An RNN written by hand (one-hot inputs, tanh cell, gradient clipping) in float64."""
import math

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
rng = np.random.default_rng(7)
vocab_size, num_hiddens, batch_size, num_steps = 7, 10, 3, 5
X = torch.tensor(rng.integers(0, vocab_size, (batch_size, num_steps)))
Y = torch.tensor(rng.integers(0, vocab_size, (batch_size, num_steps)))


def normal(shape):
    return torch.tensor(rng.normal(0, 0.1, shape))


W_xh, W_hh, b_h = normal((vocab_size, num_hiddens)), normal((num_hiddens, num_hiddens)), torch.zeros(num_hiddens)
W_hq, b_q = normal((num_hiddens, vocab_size)), torch.zeros(vocab_size)
params = [W_xh, W_hh, b_h, W_hq, b_q]
for param in params:
    param.requires_grad_(True)


def rnn(inputs, state):
    H, = state
    outputs = []
    for X_t in inputs:
        H = torch.tanh(torch.mm(X_t, W_xh) + torch.mm(H, W_hh) + b_h)
        outputs.append(torch.mm(H, W_hq) + b_q)
    return torch.cat(outputs, dim=0), (H,)


def grad_clipping(params, theta):
    norm = torch.sqrt(sum(torch.sum((p.grad ** 2)) for p in params))
    if norm > theta:
        for param in params:
            param.grad[:] *= theta / norm
    return norm


losses, norms = [], []
for epoch in range(4):
    state = (torch.zeros((batch_size, num_hiddens)),)
    inputs = F.one_hot(X.T, vocab_size).type(torch.float64)
    y_hat, state = rnn(inputs, state)
    l = F.cross_entropy(y_hat, Y.T.reshape(-1)).mean()
    for param in params:
        param.grad = None
    l.backward()
    norms.append(grad_clipping(params, 0.5).item())
    with torch.no_grad():
        for param in params:
            param -= 1.0 * param.grad
    losses.append(l.item())

RESULTS = {"losses": losses, "norms": norms, "perplexity": math.exp(losses[-1])}
RESULTS.update({f"param{i}": p.detach().numpy() for i, p in enumerate(params)})
RESULTS["clipped_grad_W_hh"] = W_hh.grad.numpy()
