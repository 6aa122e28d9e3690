"""Each optimizer against its formula written out in plain NumPy, without torch.

The references below are the update rules as printed in the optimizers' docstrings (and in the
papers), one step per loop iteration, with the state in local variables.  The gradients come from
a fixed quadratic and are set on ``p.grad`` directly, so autograd plays no part.  Then a few
closed forms: the first step of each method, and what constant gradients do.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidl as md
from minidl import optim

RNG = np.random.default_rng(7)
W0 = RNG.standard_normal((2, 3))
CURVATURE = np.diag([0.1, 0.5, 1.0, 2.0, 4.0, 8.0]) + 0.05  # an ill-conditioned quadratic
TARGET = RNG.standard_normal(6)


def quadratic_gradient(w):
    """The gradient of 1/2 w.A.w - b.w (w flattened): A w - b."""
    return (CURVATURE @ w.ravel() - TARGET).reshape(w.shape)


# ----------------------------------------------------------------------------- the references
def sgd(w, grad, steps, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False):
    b = None
    for _ in range(steps):
        g = grad(w) + weight_decay * w
        if momentum != 0:
            b = g.copy() if b is None else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        w = w - lr * g
    return w


def classical_momentum(w, grad, steps, lr=1e-3, momentum=0.9, weight_decay=0, nesterov=False):
    v = None
    for _ in range(steps):
        g = grad(w) + weight_decay * w
        v = g if v is None else momentum * v + g
        w = w - lr * (g + momentum * v) if nesterov else w - lr * v
    return w


def rmsprop(w, grad, steps, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
    s, g_mean, b = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for _ in range(steps):
        g = grad(w) + weight_decay * w
        s = alpha * s + (1 - alpha) * g**2
        g_mean = alpha * g_mean + (1 - alpha) * g
        denominator = np.sqrt(s - g_mean**2 if centered else s) + eps
        if momentum > 0:
            b = momentum * b + g / denominator
            w = w - lr * b
        else:
            w = w - lr * g / denominator
    return w


def adam(w, grad, steps, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, decoupled=False):
    (b1, b2), m, v, v_max = betas, np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for t in range(1, steps + 1):
        g = grad(w)
        if decoupled:
            w = w - lr * weight_decay * w
        else:
            g = g + weight_decay * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        v_max = np.maximum(v_max, v)
        m_hat = m / (1 - b1**t)
        v_hat = (v_max if amsgrad else v) / (1 - b2**t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
    return w


def adamw(w, grad, steps, weight_decay=1e-2, **hyper):
    return adam(w, grad, steps, weight_decay=weight_decay, decoupled=True, **hyper)


def adagrad(w, grad, steps, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10):
    s = np.full_like(w, initial_accumulator_value)
    for t in range(1, steps + 1):
        g = grad(w) + weight_decay * w
        s = s + g**2
        w = w - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s) + eps)
    return w


def adadelta(w, grad, steps, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0):
    s, u = np.zeros_like(w), np.zeros_like(w)
    for _ in range(steps):
        g = grad(w) + weight_decay * w
        s = rho * s + (1 - rho) * g**2
        delta = np.sqrt(u + eps) / np.sqrt(s + eps) * g
        u = rho * u + (1 - rho) * delta**2
        w = w - lr * delta
    return w


# name -> (reference, hyperparameters drawn over their useful range)
rate, fraction, small = st.floats(1e-4, 0.1), st.floats(0.5, 0.999), st.floats(1e-8, 1e-2)
decay = st.sampled_from([0.0, 1e-3, 0.1])
REFERENCES = {
    "SGD": (sgd, st.fixed_dictionaries(
        {"lr": rate, "momentum": st.sampled_from([0, 0.5, 0.9]), "dampening": st.sampled_from([0, 0.3]), "weight_decay": decay}
    )),
    "Momentum": (classical_momentum, st.fixed_dictionaries(
        {"lr": rate, "momentum": fraction, "weight_decay": decay, "nesterov": st.booleans()}
    )),
    "RMSprop": (rmsprop, st.fixed_dictionaries(
        {"lr": rate, "alpha": fraction, "eps": small, "weight_decay": decay, "momentum": st.sampled_from([0, 0.5]),
         "centered": st.booleans()}
    )),
    "Adam": (adam, st.fixed_dictionaries(
        {"lr": rate, "betas": st.tuples(fraction, fraction), "eps": small, "weight_decay": decay, "amsgrad": st.booleans()}
    )),
    "AdamW": (adamw, st.fixed_dictionaries(
        {"lr": rate, "betas": st.tuples(fraction, fraction), "eps": small, "weight_decay": decay, "amsgrad": st.booleans()}
    )),
    "Adagrad": (adagrad, st.fixed_dictionaries(
        {"lr": rate, "lr_decay": decay, "weight_decay": decay, "initial_accumulator_value": st.floats(0, 1), "eps": small}
    )),
    "Adadelta": (adadelta, st.fixed_dictionaries({"lr": st.floats(0.1, 1.0), "rho": fraction, "eps": small, "weight_decay": decay})),
}  # fmt: skip


def run_minidl(name, steps, grad=quadratic_gradient, w0=W0, **hyper):
    """Take ``steps`` steps of md.optim.<name> from w0, with the gradient set from ``grad(w)``."""
    p = md.tensor(w0, dtype=md.float64, requires_grad=True)
    optimizer = getattr(optim, name)([p], **hyper)
    for _ in range(steps):
        p.grad = md.tensor(grad(p.numpy()))
        optimizer.step()
    return p.numpy()


@pytest.mark.parametrize("steps", [1, 2, 25])
@pytest.mark.parametrize("name", REFERENCES)
def test_defaults_follow_the_formula(name, steps):
    reference, _ = REFERENCES[name]
    np.testing.assert_allclose(run_minidl(name, steps), reference(W0, quadratic_gradient, steps), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", REFERENCES)
@given(data=st.data())
def test_drawn_hyperparameters_follow_the_formula(name, data):
    reference, hyperparameters = REFERENCES[name]
    hyper = data.draw(hyperparameters)
    if name == "SGD" and hyper["momentum"] and not hyper["dampening"]:
        hyper["nesterov"] = data.draw(st.booleans())
    steps = data.draw(st.sampled_from([1, 3, 10]))
    expected = reference(W0, quadratic_gradient, steps, **hyper)
    np.testing.assert_allclose(run_minidl(name, steps, **hyper), expected, rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------------------- closed forms
G = np.array([[3.0, -0.5, 1e-3], [-2.0, 0.25, 7.0]])  # a constant gradient


def constant_gradient(w):
    return G


def test_sgd_step_is_w_minus_lr_g_exactly():
    np.testing.assert_array_equal(run_minidl("SGD", 1, constant_gradient, lr=0.1), W0 - 0.1 * G)


def test_momentum_starts_with_v_equal_g_then_accumulates():
    lr, mu = 0.1, 0.9
    g0, g1 = quadratic_gradient(W0), quadratic_gradient(W0 - lr * quadratic_gradient(W0))
    expected = W0 - lr * g0 - lr * (mu * g0 + g1)
    np.testing.assert_allclose(run_minidl("Momentum", 2, lr=lr, momentum=mu), expected, rtol=1e-14)
    sgd_twin = run_minidl("SGD", 25, lr=lr, momentum=mu, nesterov=True)
    np.testing.assert_array_equal(run_minidl("Momentum", 25, lr=lr, momentum=mu, nesterov=True), sgd_twin)


def test_momentum_with_a_constant_gradient_reaches_speed_lr_g_over_1_minus_mu():
    """v_t = (1 + mu + ... + mu^(t-1)) g, so the step size tends to lr g / (1 - mu)."""
    lr, mu, t = 0.01, 0.9, 200
    moved = W0 - run_minidl("Momentum", t, constant_gradient, lr=lr, momentum=mu)
    expected = lr * G * sum((1 - mu**k) / (1 - mu) for k in range(1, t + 1))
    np.testing.assert_allclose(moved, expected, rtol=1e-12)


def test_adam_moves_each_weight_by_about_lr_whatever_the_size_of_its_gradient():
    """With a constant gradient m_hat = g and v_hat = g^2 at every step (the bias correction at
    work): each step is lr * g / (|g| + eps), about lr * sign(g), even for g = 1e-3."""
    lr, t = 0.01, 5
    moved = W0 - run_minidl("Adam", t, constant_gradient, lr=lr)
    np.testing.assert_allclose(moved, t * lr * G / (np.abs(G) + 1e-8), rtol=1e-12)
    np.testing.assert_allclose(np.abs(moved), t * lr, rtol=1e-4)


def test_rmsprop_first_step_is_ten_times_lr():
    """s starts at 0, so after one step s = (1 - alpha) g^2 and the step is lr / sqrt(0.01) = 10 lr."""
    moved = W0 - run_minidl("RMSprop", 1, constant_gradient, lr=1e-3)
    np.testing.assert_allclose(moved, 1e-3 * G / (np.sqrt(0.01) * np.abs(G) + 1e-8), rtol=1e-12)
    np.testing.assert_allclose(np.abs(moved), 1e-2, rtol=1e-4)


def test_adagrad_steps_shrink_like_one_over_sqrt_t():
    """With a constant gradient s_t = t g^2, so step t is lr g / (sqrt(t) |g| + eps)."""
    lr, t = 0.1, 30
    moved = W0 - run_minidl("Adagrad", t, constant_gradient, lr=lr)
    expected = sum(lr * G / (np.sqrt(k) * np.abs(G) + 1e-10) for k in range(1, t + 1))
    np.testing.assert_allclose(moved, expected, rtol=1e-12)


def test_adadelta_first_step_is_set_by_eps():
    """u starts at 0: the first step is sqrt(eps) / sqrt((1 - rho) g^2 + eps) * g."""
    moved = W0 - run_minidl("Adadelta", 1, constant_gradient)
    np.testing.assert_allclose(moved, np.sqrt(1e-6) / np.sqrt(0.1 * G**2 + 1e-6) * G, rtol=1e-12)


def test_adamw_without_gradient_only_decays_the_weights():
    """With g = 0, Adam's update is 0 and AdamW's decay alone remains: w_t = (1 - lr lambda)^t w_0.
    Adam's coupled decay instead goes through m and v and moves by about lr per step."""
    zero = lambda w: np.zeros_like(w)  # noqa: E731
    lr, decay, t = 0.1, 0.5, 10
    np.testing.assert_allclose(run_minidl("AdamW", t, zero, lr=lr, weight_decay=decay), (1 - lr * decay) ** t * W0, rtol=1e-13)
    coupled = W0 - run_minidl("Adam", 1, zero, lr=lr, weight_decay=decay)
    np.testing.assert_allclose(coupled, lr * np.sign(W0), rtol=1e-4)


@pytest.mark.parametrize("name", ["SGD", "Momentum", "RMSprop", "Adam", "Adagrad", "Adadelta"])
def test_weight_decay_adds_lambda_w_to_the_gradient(name):
    decay = 0.3
    with_decay = run_minidl(name, 10, weight_decay=decay)
    by_hand = run_minidl(name, 10, grad=lambda w: quadratic_gradient(w) + decay * w)
    np.testing.assert_allclose(with_decay, by_hand, rtol=1e-14)
