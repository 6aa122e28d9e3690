"""Solutions to the exercises of tutorial 01 (autograd). Try the exercises first!

``CHECKED`` maps each checkable exercise to its solution; run this file from the repository root
(``python tutorials/solutions/01_autograd.py``) to see ``md.testing.check_exercise`` accept them.
"""
import math

import numpy as np

import minidl as md
from minidl.autograd import Function, sum_to_shape


# Exercise 1. The chain rule gives grad * sigmoid(a). Computed as exp(-logaddexp(0, -a)) the
# sigmoid stays finite for large |a|, where 1 / (1 + exp(-a)) would overflow.
class Softplus(Function):
    """out = log(1 + e^a);  da = g * sigmoid(a)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.logaddexp(0, a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved
        return grad * np.exp(-np.logaddexp(0, -a))


# Exercise 2. y = ab + a^2 b. Path by path: dy/da = b + 2ab = 5 + 20 = 25, and dy/db = a + a^2 = 2 + 4 = 6.
PREDICTION = {"a": 25.0, "b": 6.0}


# Exercise 3. Sum away the leading axes that broadcasting added, then the stretched ones (keeping
# them as size 1).
def my_sum_to_shape(grad, shape):
    grad = grad.sum(axis=tuple(range(grad.ndim - len(shape))))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1)
    return grad.sum(axis=stretched, keepdims=True)


# Exercise 4, in the tutorial (loss_of_w and w0 come from its section 3):
#
#     def forward_difference(eps):
#         return (loss_of_w(w0 + eps) - loss_of_w(w0)) / eps
#
# L(w + eps) = L(w) + L'(w) eps + L''(w) eps^2 / 2 + ..., so the error is L''(w) eps / 2 + ...:
# slope 1. The cell prints a slope of 1.00 and the smallest error, about 1e-10 to 1e-9, near
# eps = 1e-8 = sqrt(u); the central difference reached about 2e-12 near eps = 3e-6.


# Exercise 5. Count the consumers of every node, then run a node when the last of them has sent
# its gradient (Kahn's algorithm for a topological order, from the loss downwards).
def backward(loss):
    """Run the backward pass of ``loss``, filling each leaf's .grad; return the nodes in the order
    their backward ran."""
    root = loss.grad_fn
    consumers = {root: 0}  # node -> how many edges point at it
    stack = [root]
    while stack:
        node = stack.pop()
        for parent in node.parents:
            if parent not in consumers:
                consumers[parent] = 0
                stack.append(parent)
            consumers[parent] += 1

    received = {root: [np.ones_like(loss.array)]}  # node -> gradient of each of its outputs so far
    ready, order = [root], []
    while ready:
        node = ready.pop()
        grads = node.function.backward(node.ctx, *received.pop(node))
        grads = grads if isinstance(grads, tuple) else (grads,)
        order.append(node)
        for edge, grad, (shape, _) in zip(node.edges, grads, node.input_meta):
            if edge is None:  # an input that needs no gradient
                continue
            parent, target = edge
            grad = sum_to_shape(grad, shape)
            if parent is None:  # a leaf: target is the tensor
                target.grad = md.tensor(grad) if target.grad is None else target.grad + md.tensor(grad)
                continue
            slots = received.setdefault(parent, [None] * len(parent.output_meta))  # target: output index
            slots[target] = grad if slots[target] is None else slots[target] + grad
            consumers[parent] -= 1
            if consumers[parent] == 0:
                ready.append(parent)
    return order


CHECKED = {"softplus_backward": Softplus, "sum_to_shape": my_sum_to_shape, "backward": backward}


def _check_prediction():
    a = md.tensor(2.0, requires_grad=True, dtype=md.float64)
    b = md.tensor(5.0, requires_grad=True, dtype=md.float64)
    u = a * b
    (u + u * a).backward()
    return math.isclose(a.grad.item(), PREDICTION["a"]) and math.isclose(b.grad.item(), PREDICTION["b"])


if __name__ == "__main__":
    for name, solution in CHECKED.items():
        assert md.testing.check_exercise(name, solution), name
    assert _check_prediction(), "exercise 2"
    print("exercise 2: correct!")
