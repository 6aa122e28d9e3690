# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 12 · Gradients of gradients: backprop is a program too
#
# `loss.backward()` runs a program: the backward formulas of every op, in reverse order. If that
# program is *recorded* like any forward computation, it can be differentiated again. That gives
# second derivatives (curvature), Newton's method, Hessian-vector products, gradient penalties,
# and, with the first derivative alone but taken with respect to the *input*, saliency maps.
#
# In minidl, `md.autograd.grad(y, x, create_graph=True)` records the backward pass: each op's
# backward formula runs on Tensors instead of raw arrays (`minidl/higher_order.py`). We plot f, f'
# and f'' of a scalar function, check f'' numerically, run Newton's method, compute a
# Hessian-vector product without ever forming the Hessian, and draw what a trained digit
# classifier looks at. Prerequisites: tutorials 01 (autograd) and 04 (the CNN).
#
# Run it as a script (`python tutorials/12_higher_order.py`) or open `12_higher_order.ipynb`;
# `MINIDL_FAST=1` runs a short version.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import minidl as md
import minidl.functional as F
from minidl.data import load_digits, train_test_split

FAST = os.environ.get("MINIDL_FAST") == "1"  # CI runs the tutorials in a fast mode: fewer epochs
DEVICE = os.environ.get("MINIDL_DEVICE", "cpu")  # "cuda" trains the CNN of section 4 on a GPU (CuPy)
md.set_default_dtype(md.float64)  # numerical checks of derivatives need float64


def heading(title):
    """Mark the start of a section in the printed output."""
    print(f"\n=== {title} ===")

# %% [markdown]
# ## 1. f, f' and f'' of one function
#
# $f(x) = \sin(x)\,e^{-x^2/4}$. `grad(y, x, create_graph=True)` returns $f'(x)$ as a Tensor that
# has a graph of its own; `grad` of its sum gives $f''(x)$ at every point at once (each $f'(x_i)$
# depends only on $x_i$). We check $f''$ against central differences of $f'$.

# %%
heading("1. f, f' and f''")


def f(x):
    return md.sin(x) * md.exp(-x * x / 4)


x = md.tensor(np.linspace(-6, 6, 241), requires_grad=True)
(first,) = md.autograd.grad(f(x).sum(), x, create_graph=True)
(second,) = md.autograd.grad(first.sum(), x)



def derivative(values):
    """f' at ``values`` (an ordinary first-order gradient)."""
    points = md.tensor(values, requires_grad=True)
    return md.autograd.grad(f(points).sum(), points)[0].numpy()


eps = 1e-5
numeric = (derivative(x.numpy() + eps) - derivative(x.numpy() - eps)) / (2 * eps)
print(f"f'' against central differences of f': max error {np.abs(second.numpy() - numeric).max():.1e}")

fig, ax = plt.subplots(figsize=(6, 3.5))
for values, label in ((f(x).detach(), "f"), (first.detach(), "f'"), (second, "f''")):
    ax.plot(x.numpy(), values.numpy(), label=label)
ax.axhline(0, color="grey", linewidth=0.5)
ax.set(xlabel="x", title="sin(x) exp(-x²/4) and two derivatives, by autograd")
ax.legend()
md.viz.show(fig, "12_derivatives.png")

# %% [markdown]
# ## 2. Newton's method
#
# Gradient descent steps by $-\eta f'(x)$ and needs a learning rate. Newton's method divides by
# the curvature instead: $x \leftarrow x - f'(x) / f''(x)$, the minimum of the parabola that
# matches $f$, $f'$ and $f''$ at $x$. Near a minimum it converges *quadratically*: the number of
# correct digits doubles every step. We look for the minimum of $f$ near $x = -1$.

# %%
heading("2. Newton's method")
point = md.tensor(-1.0, requires_grad=True)
for step in range(6):
    (slope,) = md.autograd.grad(f(point), point, create_graph=True)
    (curvature,) = md.autograd.grad(slope, point)
    point = (point - slope.detach() / curvature).detach().requires_grad_()
    print(f"step {step + 1}: x = {point.item():.15f}, f'(x) = {slope.item():+.2e}")
(final_slope,) = md.autograd.grad(f(point), point)
print(f"Newton's method: |f'(x)| after 6 steps {abs(final_slope.item()):.1e}")

# %% [markdown]
# ## 3. Hessian-vector products
#
# For a function of many variables the matrix of second derivatives (the Hessian $H$) has $n^2$
# entries, too many to form for a network. But $H v$ for one direction $v$ is the gradient of
# $\nabla f \cdot v$: one backward pass of a backward pass, at about twice the cost of a gradient.
# `md.autograd.functional.hvp` does exactly that; for a small problem we compare it with the full
# `hessian`.

# %%
heading("3. Hessian-vector products")
rng = np.random.default_rng(0)
w = md.tensor(rng.standard_normal(5))
data = md.tensor(rng.standard_normal((20, 5)))


def loss(w):
    """A logistic-regression loss: mean of log(1 + exp(-x . w)) over the data (sigmoid form)."""
    return -md.log(md.sigmoid(data @ w)).mean()


v = md.tensor(rng.standard_normal(5))
_, product = md.autograd.functional.hvp(loss, w, v)
full = md.autograd.functional.hessian(loss, w)
print(f"hvp against hessian @ v: max difference {np.abs(product.numpy() - full.numpy() @ v.numpy()).max():.1e}")
print(f"the Hessian is symmetric: {np.allclose(full.numpy(), full.numpy().T)}; its eigenvalues "
      f"{np.linalg.eigvalsh(full.numpy()).round(4)} (all >= 0: this loss is convex)")

# %% [markdown]
# ## 4. What the network looks at: a saliency map
#
# A first derivative, but with respect to the **input**: $\partial\, \text{score}_c / \partial\, x$
# says which pixels would change the class score most. We train the small CNN of tutorial 04 on
# the 8x8 digits and show the gradient of the right class's score for a few test images.

# %%
heading("4. Saliency maps")
md.set_default_dtype(md.float32)
images, labels = load_digits(as_images=True)
x_train, x_test, y_train, y_test = train_test_split(images, labels, test_size=0.2, stratify=labels, seed=0)
md.manual_seed(0)
cnn = md.nn.Sequential(md.nn.Conv2d(1, 8, 3, padding=1), md.nn.ReLU(), md.nn.MaxPool2d(2), md.nn.Flatten(),
                       md.nn.Linear(8 * 4 * 4, 10)).to(DEVICE)  # fmt: skip
optimizer = md.optim.Adam(cnn.parameters(), lr=0.01)
for epoch in range(3 if FAST else 10):
    for start in range(0, len(x_train), 64):
        batch = md.tensor(x_train[start:start + 64], device=DEVICE)
        loss_value = F.cross_entropy(cnn(batch), md.tensor(y_train[start:start + 64], device=DEVICE))
        optimizer.zero_grad()
        loss_value.backward()
        optimizer.step()
with md.no_grad():
    accuracy = (cnn(md.tensor(x_test, device=DEVICE)).numpy().argmax(1) == y_test).mean()
print(f"test accuracy {accuracy:.3f}")

shown = md.tensor(x_test[:6], device=DEVICE, requires_grad=True)
scores = cnn(shown)
right_class = scores[np.arange(6), md.tensor(y_test[:6], device=DEVICE)].sum()
(saliency,) = md.autograd.grad(right_class, shown)
fig, axes = plt.subplots(2, 6, figsize=(9, 3.2))
for column in range(6):
    axes[0, column].imshow(x_test[column, 0], cmap="gray")
    axes[0, column].set_title(f"digit {y_test[column]}")
    axes[1, column].imshow(np.abs(saliency.numpy()[column, 0]), cmap="hot")
for ax in axes.flat:
    ax.axis("off")
fig.suptitle("top: test images; bottom: |d score / d pixel| for the right class")
md.viz.show(fig, "12_saliency.png")

# %% [markdown]
# The bright pixels are where a small change would move the score most: mostly on and around
# the strokes that tell this digit from its neighbours.
#
# ## Exercises
#
# Solutions are in `tutorials/solutions/12_higher_order.py`; try first.
#
# 1. **Newton from farther away.** Start Newton's method at $x = 1.5$ instead of $-1$.
#
#    **Expected observation:** it converges, but to a *maximum* of $f$ (at $x = 1.0769$, where
#    $f'' < 0$): Newton's method finds where $f' = 0$, whatever the curvature's sign. Gradient
#    descent would have walked away from the maximum.
#
# 2. **A second derivative by hand.** For $f(x) = \sin(x) e^{-x^2/4}$, write $f''(x)$ with pencil
#    and paper and compare it with `second` at a few points.
#
#    **Expected observation:** $f'' = e^{-x^2/4}\big(-\sin x - x\cos x + (x^2/4 - 1/2)\sin x\big)$
#    agrees with `second` to about 1e-15.
#
# 3. **A fused op.** Every op of minidl has a second derivative, except the fused kernels of the
#    recurrent layers, which keep only what their own backward needs. Run an `md.nn.LSTM(1, 3)` on
#    `x` seen as a sequence (`x.reshape(3, 1, 1)`) and ask `md.autograd.grad(out.sum(), x,
#    create_graph=True)`; then the same inside `with md.config.override(recurrent_algorithm="unfused"):`.
#
#    **Expected observation:** the first raises a NotImplementedError naming LSTMSequence and the
#    switch, before anything runs (never a silently wrong zero); the second works: the layer is
#    then a graph of small ops, each twice differentiable.

# %%
md.testing.progress()
