"""Solutions to the exercises of tutorial 02, from a neuron to a classifier.

Run from the repository root, ``python tutorials/solutions/02_neuron_to_classifier.py`` checks the
solutions of exercises 1 and 2 with ``md.testing.check_exercise`` and runs exercise 3 on the digits.
``CHECKED`` maps each checkable exercise's name to its solution.
"""
import math

import numpy as np

import minidl as md
import minidl.nn.functional as F
from minidl.data import load_digits


def matmul_backward(a, b, grad):
    """Exercise 1.  For c = a @ b: dL/da = grad @ b^T and dL/db = a^T @ grad, the only products
    whose shapes fit.  A batch of matrices a (..., m, k) times one b (k, n) is the same as one tall
    matrix (batch * m, k) times b, so dL/db is that tall matrix's transpose times grad, made tall
    the same way: this sums b's gradient over the batch.  (``a.T`` would reverse all three axes of
    a batch, not transpose each matrix.)"""
    grad_a = grad @ b.T
    tall_a, tall_grad = a.reshape(-1, a.shape[-1]), grad.reshape(-1, grad.shape[-1])
    return grad_a, tall_a.T @ tall_grad


def softmax_cross_entropy_backward(logits, targets):
    """Exercise 2.  dL/dz = (softmax(z) - onehot(y)) / N.  Subtracting each row's largest logit
    first leaves the softmax unchanged and keeps every exponent at most e^0 = 1: no overflow, and
    the row sum is at least 1, so no 0 / 0."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    probabilities = np.exp(shifted)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    n = len(targets)
    probabilities[np.arange(n), targets] -= 1  # minus the one-hot of the targets
    return probabilities / n


CHECKED = {
    "matmul_backward": matmul_backward,
    "softmax_cross_entropy_backward": softmax_cross_entropy_backward,
}


def initial_loss_with_scaled_weights(model, x, y, scale=10):
    """Exercise 3.  In the tutorial: ``initial_loss_with_scaled_weights(make_model().to(DEVICE),
    x_train, y_train)``.  Every weight and bias times 10 makes the logits about 100 times larger
    (two layers), the softmax nearly one-hot and mostly wrong: the loss is several times ln 10."""
    with md.no_grad():
        for parameter in model.parameters():
            parameter.mul_(scale)
        return F.cross_entropy(model(x), y).item()


def too_high_learning_rates(fit_line):
    """Exercise 4.  In the tutorial: ``too_high_learning_rates(fit_line)``.  What we saw:

        lr 0.9: 2.191 0.5844 0.2927 0.1961 0.144 ... last 0.0461   (falls; b zigzags around its best value)
        lr 1.1: 2.191 0.8616 1.152 1.683 2.477 ... last 2.47e+06   (grows about 1.5 times per step)
        lr 1.5: 2.191 2.108 8.462 34.56 141.6 ... last 4.01e+23    (grows about 4 times per step)

    The loss is a quadratic with curvature d2L/db2 = 2 along b, so each step multiplies b's distance
    from its best value by (1 - 2 lr): it shrinks for lr < 1 (alternating in sign above 0.5) and
    grows for lr > 1, and the loss with its square, (1 - 2 lr)^2 = 1.44 for lr = 1.1 and 4 for 1.5.
    """
    for lr in (0.9, 1.1, 1.5):
        losses, _ = fit_line(lr)
        print(f"lr {lr}: " + " ".join(f"{loss:.4g}" for loss in losses[:5]) + f" ... last {losses[-1]:.3g}")


if __name__ == "__main__":
    for name, solution in CHECKED.items():
        assert md.testing.check_exercise(name, solution), name
    md.manual_seed(0)
    x, y = (md.tensor(a) for a in load_digits(as_images=False))
    model = md.nn.Sequential(md.nn.Linear(64, 32), md.nn.ReLU(), md.nn.Linear(32, 10))
    scaled_loss = initial_loss_with_scaled_weights(model, x, y)
    print(f"exercise 3: initial loss with weights x10: {scaled_loss:.2f} (ln 10 = {math.log(10):.2f})")
    assert scaled_loss > 2 * math.log(10)
