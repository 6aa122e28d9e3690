"""Solutions to the exercises of tutorial 03 (optimizers). Try the exercises first!

``CHECKED`` maps each checkable exercise to its solution; run this file from the repository root
(``python tutorials/solutions/03_optimizers.py``) to see ``md.testing.check_exercise`` accept them.
"""
import math

import numpy as np

import minidl as md

# Exercise 1. The first Adam step is lr * g / |g| per coordinate (the bias corrections make
# m_hat = g and v_hat = g^2): -0.1 * sign(g). Both coordinates of the gradient (-155, -50) are
# negative, so both grow by 0.1 (up to eps).
PREDICTION = (-1.4, 2.1)


# Exercise 2. The state starts as zeros like w (NumPy or CuPy: get_array_module picks the module
# of w's array); the update is in place.
class Signum(md.optim.Optimizer):
    """m <- beta * m + (1 - beta) * g,  w <- w - lr * sign(m)."""

    def __init__(self, params, lr=1e-3, beta=0.9):
        super().__init__(params, dict(lr=lr, beta=beta))

    def update(self, w, g, state, group):
        xp = md.backend.get_array_module(w)
        if not state:
            state["m"] = xp.zeros_like(w)
        m = state["m"]
        m *= group["beta"]
        m += (1 - group["beta"]) * g
        w -= group["lr"] * xp.sign(m)


# Exercise 3. gamma^100 = 0.1, so gamma = 0.1^(1/100), about 0.9772.
GAMMA = 0.1 ** (1 / 100)


# Exercise 4. The moments first, then their bias corrections, then the step.
def adam_step(w, g, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8):
    """One Adam update; returns (w, m, v)."""
    b1, b2 = betas
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


CHECKED = {"adam_step": adam_step}

if __name__ == "__main__":
    for name, solution in CHECKED.items():
        assert md.testing.check_exercise(name, solution), name
    assert math.isclose(GAMMA**100, 0.1, rel_tol=1e-12), "exercise 3"
    print("exercise 3: gamma =", round(GAMMA, 4))
