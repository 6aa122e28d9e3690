"""Solutions to the exercises of tutorial 12, gradients of gradients.

Run from the repository root, ``python tutorials/solutions/12_higher_order.py`` runs all three.
No exercise of this tutorial has a checker (``CHECKED`` is empty): each has an expected observation.
"""
import numpy as np

import minidl as md

CHECKED = {}


def f(x):
    return md.sin(x) * md.exp(-x * x / 4)


def newton(start, steps=8):
    """Exercise 1: Newton's method from ``start``; returns x and f''(x) at the end."""
    point = md.tensor(start, dtype=md.float64, requires_grad=True)
    for _ in range(steps):
        (slope,) = md.autograd.grad(f(point), point, create_graph=True)
        (curvature,) = md.autograd.grad(slope, point)
        point = (point - slope.detach() / curvature).detach().requires_grad_()
    (slope,) = md.autograd.grad(f(point), point, create_graph=True)
    (curvature,) = md.autograd.grad(slope, point)
    return point.item(), curvature.item()


def second_derivative_by_hand(x):
    """Exercise 2: f'' = e^{-x^2/4} (-sin x - x cos x + (x^2/4 - 1/2) sin x)."""
    return np.exp(-x * x / 4) * (-np.sin(x) - x * np.cos(x) + (x * x / 4 - 0.5) * np.sin(x))


def fused_lstm_then_unfused():
    """Exercise 3: the fused LSTM names itself and the switch; unfused, the second derivative exists."""
    x = md.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    md.manual_seed(0)
    lstm = md.nn.LSTM(1, 3).double()
    out, _ = lstm(x.reshape(3, 1, 1))
    try:
        md.autograd.grad(out.sum(), x, create_graph=True)
        raise AssertionError("expected a NotImplementedError")
    except NotImplementedError as error:
        message = str(error)
    with md.config.override(recurrent_algorithm="unfused"):
        out, _ = lstm(x.reshape(3, 1, 1))
        (slope,) = md.autograd.grad(out.sum(), x, create_graph=True)
        (curvature,) = md.autograd.grad(slope.sum(), x)
    return message, curvature.numpy()


if __name__ == "__main__":
    x, curvature = newton(1.5)
    print(f"1. Newton from 1.5 ends at x = {x:.4f}, where f'' = {curvature:.3f} < 0: a maximum")
    points = md.tensor(np.array([0.7, -2.0, 3.1]), dtype=md.float64, requires_grad=True)
    (first,) = md.autograd.grad(f(points).sum(), points, create_graph=True)
    (second,) = md.autograd.grad(first.sum(), points)
    print("2. autograd minus the formula:", second.numpy() - second_derivative_by_hand(points.numpy()))
    message, curvature = fused_lstm_then_unfused()
    print("3.", message)
    print("   unfused, d/dx of the slopes:", curvature)
