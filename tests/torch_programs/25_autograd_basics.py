"""Automatic differentiation, first lesson: backward, grad accumulation, detach, Python control flow."""
import torch

x = torch.arange(4.0)
x.requires_grad_(True)
y = 2 * torch.dot(x, x)
y.backward()
grad_of_dot = x.grad.clone()
is_4x = float((x.grad == 4 * x).all())

x.grad.zero_()
y = x.sum()
y.backward()
grad_of_sum = x.grad.clone()

y = x.sum()
y.backward()
accumulated = x.grad.clone()

x.grad.zero_()
y = x * x
y.backward(gradient=torch.ones(len(y)))
grad_of_square = x.grad.clone()

x.grad.zero_()
y = x * x
u = y.detach()
z = u * x
z.sum().backward()
detached_equals_u = float((x.grad == u).all())

x.grad.zero_()
y.sum().backward()
grad_through_y = x.grad.clone()


def f(a):
    b = a * 2
    while b.norm() < 1000:
        b = b * 2
    if b.sum() > 0:
        c = b
    else:
        c = 100 * b
    return c


a = torch.tensor(0.37, requires_grad=True)
d = f(a)
d.backward()

RESULTS = {
    "y": y.detach().numpy(),
    "grad_of_dot": grad_of_dot.numpy(),
    "is_4x": is_4x,
    "grad_of_sum": grad_of_sum.numpy(),
    "accumulated": accumulated.numpy(),
    "grad_of_square": grad_of_square.numpy(),
    "detached_equals_u": detached_equals_u,
    "grad_through_y": grad_through_y.numpy(),
    "a_grad": a.grad.item(),
    "a_grad_is_d_over_a": float(a.grad == d / a),
    "requires_grad": [float(t.requires_grad) for t in (x, y, u, z, d)],
    "is_leaf": [float(t.is_leaf) for t in (x, y, u, z)],
}
