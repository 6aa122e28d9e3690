"""A two-layer net with backprop written by hand (cs231n style), compared with autograd, in float64."""
import numpy as np
import torch

torch.set_default_dtype(torch.float64)
rng = np.random.default_rng(16)
N, D_in, H, D_out = 8, 5, 7, 3
x = torch.tensor(rng.standard_normal((N, D_in)))
y = torch.tensor(rng.standard_normal((N, D_out)))
w1 = torch.tensor(rng.standard_normal((D_in, H)) * 0.5, requires_grad=True)
b1 = torch.zeros(H, requires_grad=True)
w2 = torch.tensor(rng.standard_normal((H, D_out)) * 0.5, requires_grad=True)

# Forward pass, keeping the intermediate values for the backward pass.
h = x.mm(w1) + b1
h_relu = h.clamp(min=0)
y_pred = h_relu.mm(w2)
loss = (y_pred - y).pow(2).sum()

# Backward pass by hand.
with torch.no_grad():
    grad_y_pred = 2.0 * (y_pred - y)
    grad_w2 = h_relu.t().mm(grad_y_pred)
    grad_h_relu = grad_y_pred.mm(w2.t())
    grad_h = grad_h_relu.clone()
    grad_h[h < 0] = 0
    grad_w1 = x.t().mm(grad_h)
    grad_b1 = grad_h.sum(0)

# The same gradients by autograd.
loss.backward()
agrees = [torch.allclose(mine, p.grad) for mine, p in [(grad_w1, w1), (grad_b1, b1), (grad_w2, w2)]]

learning_rate = 1e-2
with torch.no_grad():
    w1 -= learning_rate * w1.grad
    b1 -= learning_rate * b1.grad
    w2 -= learning_rate * w2.grad
    w1.grad = None
    b1.grad = None
    w2.grad = None
new_loss = (x.mm(w1).add(b1).relu().mm(w2) - y).pow(2).sum()

RESULTS = {
    "loss": loss.item(),
    "new_loss": new_loss.item(),
    "grad_w1": grad_w1.numpy(),
    "grad_b1": grad_b1.numpy(),
    "grad_w2": grad_w2.numpy(),
    "autograd_agrees": [float(flag) for flag in agrees],
    "w1": w1.detach().numpy(),
}
