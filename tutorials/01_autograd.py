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
# # 01 · Reverse-mode autograd, one step at a time
#
# Training a network means asking: *if I nudge this weight, how does the loss change?*
# That is the derivative of the loss with respect to every parameter. Reverse-mode automatic
# differentiation (backpropagation) gets all of them in one backward sweep:
#
# 1. **Forward**: every operation computes its output *and* leaves a record, a *node*, saying
#    which function ran and where its inputs came from. The nodes form a graph.
# 2. **Backward**: starting from the loss with gradient 1, each node receives the gradient of
#    the loss with respect to its output and, using only its *local* derivatives, turns it
#    into gradients with respect to its inputs (the chain rule). They flow along the edges
#    until they reach the *leaves*, the tensors you created with `requires_grad=True`.
#
# In this tutorial we build a tiny graph by hand, look at its nodes, walk backward through it
# node by node, and check the result twice: against `loss.backward()` and against numerical
# derivatives, whose error we measure. Then: gradient accumulation, `no_grad`, `detach`,
# broadcasting, and exercises, the last of which has you write the backward pass itself.
#
# Run it from the repository root as a script (`python tutorials/01_autograd.py`, with minidl
# installed by `pip install -e .` or found through `PYTHONPATH=.`), or open
# `tutorials/01_autograd.ipynb` in Jupyter, VS Code or Colab. As a script, figures are saved to
# `figures/` (or `$MINIDL_FIGURES`); in a notebook they appear inline. Set `MINIDL_DEVICE=cuda`
# to run it on a GPU (with CuPy, `pip install -e ".[gpu]"`): the picture of section 7 is then
# computed there; the single numbers of the other sections stay on the CPU, where a scalar is
# cheapest.

# %%
import math
import os

import matplotlib.pyplot as plt
import numpy as np

import minidl as md
from minidl.autograd import Function, iter_backward
from minidl.testing import GradcheckError, gradcheck

DEVICE = os.environ.get("MINIDL_DEVICE", "cpu")  # "cuda" runs the tutorial on a GPU (CuPy)

# Numerical derivatives need float64: in float32 the rounding error of (f(v+eps) - f(v-eps))
# would swamp the difference we are trying to measure.
md.set_default_dtype(md.float64)


def heading(title):
    """Mark the start of a section in the printed output."""
    print(f"\n=== {title} ===")

# %% [markdown]
# ## 1. A tiny graph
#
# One neuron with one input, squashed by `tanh`, and a squared error against a target `t`:
#
# $$z = w x + b, \qquad y = \tanh(z), \qquad \text{loss} = (y - t)^2$$
#
# `x`, `w` and `b` are leaves that require gradients; the target `t` is a constant.

# %%
heading("1. A tiny graph")
x = md.tensor(0.5, requires_grad=True)
w = md.tensor(2.0, requires_grad=True)
b = md.tensor(-0.3, requires_grad=True)
t = md.tensor(0.8)


def forward(x, w, b):
    """z = w x + b,  y = tanh(z),  loss = (y - t)^2; returns all three."""
    z = w * x + b
    y = md.tanh(z)
    loss = (y - t) ** 2
    return z, y, loss


z, y, loss = forward(x, w, b)
print("z    =", z)
print("y    =", y)
print("loss =", loss)

# %% [markdown]
# Every computed tensor carries `grad_fn`, the node that produced it. A node knows its
# function and has one *edge* per input: `(node, output_index)` when the input was computed
# by another node, `(None, leaf)` when it is a leaf that requires grad, and `None` for an
# input that needs no gradient (like `t`, or the exponent `2`).
#
# Starting from `loss.grad_fn` and following the edges, we can print the whole graph.

# %%
print("loss.grad_fn       =", loss.grad_fn)
print("loss.grad_fn.edges =", loss.grad_fn.edges)


def leaf_names(**leaves):
    """A lookup from a leaf tensor (by identity) to the name we gave it."""
    return {id(tensor): name for name, tensor in leaves.items()}


def show_graph(node, names, depth=0):
    """Print the node, then, indented, what each of its inputs is."""
    print("    " * depth + repr(node))
    for edge in node.edges:
        indent = "    " * (depth + 1)
        if edge is None:
            print(indent + "constant (needs no gradient)")
        elif edge[0] is None:
            print(indent + f"leaf {names[id(edge[1])]}")
        else:
            show_graph(edge[0], names, depth + 1)


names = leaf_names(x=x, w=w, b=b)
show_graph(loss.grad_fn, names)

# %% [markdown]
# Read it from the bottom up and you get the forward computation: `Mul(w, x)`, then `Add`
# with `b`, `Tanh`, `Sub` of the constant `t`, and `Pow` with the constant `2`.
#
# ## 2. Walking backward, node by node
#
# `md.autograd.iter_backward(loss)` performs exactly what `loss.backward()` does, but pauses
# after each node and hands us a `BackwardStep`:
#
# - `inputs`: the shapes of the node's inputs (`()` is a scalar);
# - `grad in`: the gradient of the loss with respect to the node's output, $\partial L/\partial\,\text{out}$;
# - `grad out`: what the node sends to each input, $\partial L/\partial\,\text{in}_i =
#   \partial L/\partial\,\text{out} \cdot \partial\,\text{out}/\partial\,\text{in}_i$ (the chain rule).
#
# The node only needs its **local** derivative $\partial\,\text{out}/\partial\,\text{in}_i$; the rest
# of the graph is summarized by the single number it receives. We also print where each
# gradient is sent.

# %%
def where_to(edge, names):
    """Where a gradient travels along an edge: to a node, into a leaf's .grad, or nowhere."""
    if edge is None:
        return "nowhere (input needs no gradient)"
    node, target = edge
    return f"{names[id(target)]}.grad" if node is None else repr(node)


def show_step(step, names):
    print(step)
    print("  sent to : " + ", ".join(where_to(edge, names) for edge in step.node.edges))


heading("2. Walking backward, node by node")
steps = iter_backward(loss)

# %% [markdown]
# **Pow**: $L = u^2$ with $u = y - t$. The walk starts with $\partial L/\partial L = 1$.
# The local derivative is $\partial L/\partial u = 2u$, so the node sends $1 \cdot 2(y - t)$ to `Sub`.

# %%
show_step(next(steps), names)
print(f"check: 2 (y - t) = {2 * (y.item() - t.item()):.4f}")

# %% [markdown]
# **Sub**: $u = y - t$, so $\partial u/\partial y = 1$ and $\partial u/\partial t = -1$. The
# incoming gradient passes through to `Tanh` unchanged. A gradient for `t` is computed too
# (`Sub.backward` does not know who needs it), but the edge for `t` is `None`, so it is dropped.

# %%
show_step(next(steps), names)

# %% [markdown]
# **Tanh**: $y = \tanh(z)$, with $\partial y/\partial z = 1 - \tanh^2(z) = 1 - y^2$.
# That is why `Tanh` saves its *output* during forward: the backward needs nothing else.

# %%
show_step(next(steps), names)
print(f"check: grad in * (1 - y^2) = {2 * (y.item() - t.item()) * (1 - y.item() ** 2):.4f}")

# %% [markdown]
# **Add**: $z = m + b$ with $m = w x$. Both local derivatives are 1: addition copies the
# gradient to both inputs. The copy for `b` lands in `b.grad`, since `b` is a leaf.

# %%
show_step(next(steps), names)
print("b.grad so far:", b.grad)

# %% [markdown]
# **Mul**: $m = w x$, so $\partial m/\partial w = x$ and $\partial m/\partial x = w$. Each
# input receives the incoming gradient times *the other* input, which is why `Mul` saves both
# inputs during forward.

# %%
show_step(next(steps), names)
assert next(steps, None) is None  # every node has been visited: the walk is over
print("x.grad =", x.grad, "  w.grad =", w.grad, "  b.grad =", b.grad)

# %% [markdown]
# Multiplying the local derivatives along the path from the loss to `w` gives the whole chain rule:
#
# $$\frac{\partial L}{\partial w} = \underbrace{2(y - t)}_{\text{Pow}}
#   \cdot \underbrace{1}_{\text{Sub}} \cdot \underbrace{(1 - y^2)}_{\text{Tanh}}
#   \cdot \underbrace{1}_{\text{Add}} \cdot \underbrace{x}_{\text{Mul}}$$

# %%
by_hand = 2 * (y.item() - t.item()) * (1 - y.item() ** 2) * x.item()
print(f"dL/dw by hand: {by_hand:.6f}   autograd: {w.grad.item():.6f}")

# %% [markdown]
# ### The same walk, printed by the library, and a picture of the graph
#
# `md.autograd.step_through(loss)` is this walk ready-made: each step prints the gradient the node
# receives and, for every input, its shape, the gradient sent to it and where it goes. Pass
# `leaf_names` to see the leaves by name. (In a notebook, a step shows itself when it is the last
# expression of a cell.)
#
# `md.viz.draw_graph(loss)` draws the graph: ops with their output shapes, the leaves that
# require grad and constants, data flowing upwards. It uses Graphviz when it is installed and a
# matplotlib drawing otherwise, and returns the picture as PNG bytes; `md.viz.to_dot(loss)` gives
# the Graphviz text. `show_grad_norms=True` adds the size of each leaf's gradient, once
# `backward()` has run. `md.viz.show(picture, name)` shows a picture inline in a notebook and
# saves it as `name` when run as a script; every figure of the course goes through it.

# %%
x1, w1, b1 = (leaf.detach().requires_grad_() for leaf in (x, w, b))
loss1 = forward(x1, w1, b1)[-1]
names1 = {"x": x1, "w": w1, "b": b1}
for step in md.autograd.step_through(loss1, leaf_names=names1):
    print(step)
md.viz.show(md.viz.draw_graph(loss1, show_grad_norms=True, leaf_names=names1), "01_graph.png")

# %% [markdown]
# ## 3. Two independent checks
#
# **`loss.backward()`** runs the same walk without pausing. A graph is used up by one backward
# pass (its saved arrays are freed), so we build a fresh one on fresh leaves.

# %%
heading("3. Two independent checks")
x2, w2, b2 = (leaf.detach().requires_grad_() for leaf in (x, w, b))
forward(x2, w2, b2)[-1].backward()
for name, walked, direct in [("x", x, x2), ("w", w, w2), ("b", b, b2)]:
    print(f"{name}: iter_backward {walked.grad.item():+.8f}   backward() {direct.grad.item():+.8f}")

# %% [markdown]
# **Central differences** need no autograd at all: nudge one input by a small $\varepsilon$
# both ways and measure the slope,
#
# $$\frac{\partial L}{\partial v} \approx \frac{L(v + \varepsilon) - L(v - \varepsilon)}{2\varepsilon}.$$
#
# The error of this estimate shrinks like $\varepsilon^2$, until floating-point rounding takes over.

# %%
def loss_value(x, w, b):
    """The loss as a plain number, for plain numbers x, w, b (no graph is recorded)."""
    with md.no_grad():
        return forward(md.tensor(x), md.tensor(w), md.tensor(b))[-1].item()


def central_difference(f, values, eps=1e-6):
    """dF/dv for each named input v: (f(v + eps) - f(v - eps)) / (2 eps), the others fixed."""
    slopes = {}
    for name, value in values.items():
        plus = f(**{**values, name: value + eps})
        minus = f(**{**values, name: value - eps})
        slopes[name] = (plus - minus) / (2 * eps)
    return slopes


numeric = central_difference(loss_value, {"x": x.item(), "w": w.item(), "b": b.item()})
for name, leaf in [("x", x), ("w", w), ("b", b)]:
    difference = abs(leaf.grad.item() - numeric[name])
    print(f"{name}: autograd {leaf.grad.item():+.8f}   numeric {numeric[name]:+.8f}   differ by {difference:.0e}")

# %% [markdown]
# ### How small should $\varepsilon$ be?
#
# Expand $L(v \pm \varepsilon)$ in a Taylor series around $v$: in the difference the even
# powers of $\varepsilon$ cancel, and
#
# $$\frac{L(v + \varepsilon) - L(v - \varepsilon)}{2\varepsilon} = L'(v) + \frac{L'''(v)}{6}\,\varepsilon^2 + O(\varepsilon^4).$$
#
# So the **truncation error** shrinks like $\varepsilon^2$: a ten times smaller $\varepsilon$, a
# hundred times smaller error. But each value of $L$ is rounded to float64, with an error of up to
# $u\,|L|$, where $u = 2^{-53} \approx 1.1 \cdot 10^{-16}$ is the unit roundoff, and the difference
# of the two is divided by $2\varepsilon$: the **rounding error** grows like $u\,|L| / \varepsilon$.
#
# We measure the error of the estimate of $\partial L/\partial w$ against autograd's value (exact
# up to rounding) for $\varepsilon$ from $10^{-1}$ down to $10^{-12}$. On log-log axes a power law
# $\varepsilon^k$ is a straight line of slope $k$. We fit the slope on $10^{-4} \le \varepsilon \le 10^{-1}$,
# where the rounding error, below $u\,|L| / 10^{-4} \approx 4 \cdot 10^{-14}$, is far smaller than
# what we measure.

# %%
x0, w0, b0 = x.item(), w.item(), b.item()  # the point of section 1, kept for later sections
exact = w.grad.item()  # autograd's dL/dw there
EPSILONS = np.logspace(-1, -12, 45)  # four values per decade, from 0.1 down to 1e-12


def loss_of_w(v):
    """The loss of section 1 as a function of w alone (x and b fixed)."""
    return loss_value(x0, v, b0)


def difference_errors(estimate):
    """|estimate(eps) - exact| for every eps of EPSILONS, where estimate(eps) approximates dL/dw."""
    return np.array([abs(estimate(eps) - exact) for eps in EPSILONS])


def fit_power_law(errors, smallest, largest):
    """(slope, intercept) of the least-squares line through log10(error) against log10(eps),
    for smallest <= eps <= largest."""
    chosen = (EPSILONS >= smallest) & (EPSILONS <= largest)
    return np.polyfit(np.log10(EPSILONS[chosen]), np.log10(errors[chosen]), 1)


central_errors = difference_errors(lambda eps: (loss_of_w(w0 + eps) - loss_of_w(w0 - eps)) / (2 * eps))
slope, intercept = fit_power_law(central_errors, 1e-4, 1e-1)
rounding_slope, _ = fit_power_law(central_errors, 1e-12, 1e-8)
best = np.argmin(central_errors)
print(f"finite-difference error slope: {slope:.2f}")
print(f"(fitted for 1e-4 <= eps <= 1e-1; for eps <= 1e-8 the slope is {rounding_slope:.2f})")
print(f"smallest error {central_errors[best]:.1e}, at eps = {EPSILONS[best]:.1e}")

fig, ax = plt.subplots(figsize=(6.5, 4))
ax.axvspan(1e-4, 1e-1, color="tab:blue", alpha=0.08, label="range of the fit")
ax.loglog(EPSILONS, central_errors, "o-", markersize=3, label="|central difference - autograd|")
ax.loglog(EPSILONS, 10**intercept * EPSILONS**slope, "--", color="tab:blue", label=f"fit: slope {slope:.2f}")
unit_roundoff = np.finfo(np.float64).eps / 2  # u = 2^-53
ax.loglog(EPSILONS, unit_roundoff * abs(loss_of_w(w0)) / EPSILONS, ":", color="black", label="u |L| / eps (rounding)")
ax.set_ylim(1e-14, 1e-2)
ax.set_xlabel("eps")
ax.set_ylabel("error of dL/dw")
ax.legend(fontsize=8)
ax.grid(alpha=0.3, which="both")
md.viz.show(fig, "01_finite_difference_error.png")

# %% [markdown]
# From $\varepsilon = 10^{-1}$ down to about $10^{-5}$ the errors lie on the line of slope 2.
# Below that, rounding takes over: the error grows again, like $1/\varepsilon$ (the dotted line),
# and jumps around, because the rounding errors of the two values of $L$ are as good as random.
# The best $\varepsilon$ balances the two, $\varepsilon^2 \sim u / \varepsilon$, near
# $u^{1/3} \approx 5 \cdot 10^{-6}$; that is why `gradcheck` below uses $\varepsilon = 10^{-6}$, and
# why numerical derivatives need float64: in float32, $u \approx 6 \cdot 10^{-8}$.

# %% [markdown]
# `minidl.testing.gradcheck(fn, inputs)` automates this for tensors of any shape: it compares
# every element of every input's gradient with a central difference and raises
# `GradcheckError` naming the first element that disagrees.

# %%
print("gradcheck passed:", gradcheck(lambda x, w, b: forward(x, w, b)[-1], [x, w, b]))

# %% [markdown]
# And it does catch mistakes. Here is a `Function` whose backward forgot the square in
# $1 - y^2$. A `Function` works on raw NumPy arrays: `forward(ctx, a)` computes the output and
# saves what backward needs, `backward(ctx, grad)` returns one gradient per input.

# %%
class BuggyTanh(Function):
    """out = tanh(a);  da = g * (1 - out)   <- wrong, should be g * (1 - out^2)."""

    @staticmethod
    def forward(ctx, a):
        out = np.tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved
        return grad * (1 - out)


try:
    gradcheck(BuggyTanh.apply, [md.tensor([0.3, -1.2], requires_grad=True)])
except GradcheckError as error:
    print("caught:", error)

# %% [markdown]
# ## 4. Gradients add up: the diamond
#
# When a value is used twice, the loss depends on it through two paths, and the total
# derivative is the **sum** over the paths. Take
#
# $$x = a + b, \qquad y = x \cdot a .$$
#
# `a` feeds both `Add` and `Mul`. Directly, $\partial y/\partial a = x$; through `x`,
# $\partial y/\partial x \cdot \partial x/\partial a = a$. In total $\partial y/\partial a = x + a = 2a + b$,
# while $\partial y/\partial b = a$. Watch `a.grad` grow as the two contributions arrive.

# %%
heading("4. Gradients add up: the diamond")
a = md.tensor(3.0, requires_grad=True)
b = md.tensor(4.0, requires_grad=True)
x = a + b
y = x * a
names = leaf_names(a=a, b=b)
show_graph(y.grad_fn, names)
for step in iter_backward(y):
    show_step(step, names)
    print("  a.grad is now", a.grad)
print("a.grad =", a.grad, " b.grad =", b.grad, "  (expected 2a + b = 10 and a = 3)")

# %% [markdown]
# The same diamond as a page to click through (arrow keys or the slider): the forward pass, then
# each backward step with the node, the gradient it receives, its local derivative with the
# numbers filled in, and the gradient it sends to each input. `a` feeds two ops, so the page shows
# both contributions and their sum. `md.viz.backprop_page` records the engine's own backward pass
# (the walk above, not a second implementation), and `md.viz.show` displays the page inline in a
# notebook or saves it as an HTML file to open in a browser.

# %%
a_page, b_page = md.tensor(3.0, requires_grad=True), md.tensor(4.0, requires_grad=True)
y_page = (a_page + b_page) * a_page
md.viz.show(md.viz.backprop_page(y_page, names={"a": a_page, "b": b_page}), "01_backprop.html")

# %% [markdown]
# The same happens to an intermediate node used twice, as in $y = x \cdot x$: the engine
# counts how many consumers each node has and waits until all of them have sent their
# gradient. The node then runs once, on the sum: below, `Add` receives $x + x = 2x = 14$.

# %%
print("\ny = x * x:")
x = a + b
y = x * x
for step in iter_backward(y):
    show_step(step, names)

# %% [markdown]
# Leaves keep accumulating across backward passes too: `.grad` is *added to*, never
# overwritten. That is why training loops zero the gradients before each step.
# (`retain_graph=True` keeps the saved arrays so that the graph can be walked a second time.)

# %%
print("\ny = a * a, backward twice:")
a.grad = None
y = a * a
y.backward(retain_graph=True)
print("after one backward :", a.grad, "  (dy/da = 2a = 6)")
y.backward()
print("after two backwards:", a.grad, " (6 + 6)")

# %% [markdown]
# ## 5. Switching the graph off: `no_grad` and `detach`
#
# Recording costs memory (saved arrays) and time. Inside `with md.no_grad():` operations
# record nothing: the results have no `grad_fn`. Use it for evaluation and for updating
# parameters (`p.array -= lr * p.grad.array` must not itself become part of the graph).

# %%
heading("5. no_grad and detach")
w = md.tensor(2.0, requires_grad=True)
with md.no_grad():
    frozen = w * 3
tracked = w * 3
print("inside no_grad :", frozen, "  requires_grad =", frozen.requires_grad)
print("outside        :", tracked)

# %% [markdown]
# `tensor.detach()` returns a new leaf that shares the data but is cut off from the graph:
# gradients stop there. Below, $y = \text{detach}(w^2) \cdot w$: only the right-hand factor
# passes a gradient back, so `w.grad` is $w^2 = 4$ instead of $3w^2 = 12$.

# %%
y = (w * w).detach() * w
y.backward()
print("w.grad =", w.grad, " (w^2; without detach it would be 3 w^2 = 12)")

# %% [markdown]
# ## 6. Broadcasting: gradients are summed back
#
# NumPy broadcasting silently reuses an input along new or size-1 axes. Adding a bias of
# shape `(3,)` to a batch of shape `(4, 3)` uses each bias element 4 times, once per row,
# so, by the diamond rule, its gradient is the **sum** of the 4 row gradients.
#
# A node's backward may return gradients in the broadcast shape `(4, 3)`; the engine then
# calls `md.autograd.sum_to_shape` to sum them back to each input's shape.

# %%
heading("6. Broadcasting")
batch = md.tensor(np.arange(12.0).reshape(4, 3))
weight = md.tensor([1.0, -1.0, 0.5], requires_grad=True)
bias = md.tensor([0.0, 0.0, 0.0], requires_grad=True)
out = (batch * weight + bias).sum()
for step in iter_backward(out):
    pairs = [f"input {shape} <- gradient {g.shape}" for shape, g in zip(step.input_shapes, step.grad_inputs)]
    print(f"{step.op}Backward: " + ", ".join(pairs))
print("weight.grad =", weight.grad, "= column sums of batch:", batch.numpy().sum(axis=0))
print("bias.grad   =", bias.grad, "= 4 rows, each contributing 1")

# %% [markdown]
# ## 7. A picture: autograd draws derivatives
#
# Since $\partial/\partial x_i \sum_j \tanh(x_j) = \tanh'(x_i)$, one backward through a sum gives
# the derivative at every point at once. Here the 201 points live on `DEVICE` (a GPU with
# `MINIDL_DEVICE=cuda`); matplotlib draws NumPy arrays, so `.numpy()` copies the values back to
# the CPU.

# %%
heading("7. A picture")
grid = md.tensor(np.linspace(-4, 4, 201), requires_grad=True, device=DEVICE)
curve = md.tanh(grid)
curve.sum().backward()
print(f"grid.device = {grid.device!r}, and its gradient is there too: grid.grad.device = {grid.grad.device!r}")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(grid.numpy(), curve.numpy(), label="tanh(x)")
ax.plot(grid.numpy(), grid.grad.numpy(), label="d/dx tanh(x) from backward()")
ax.plot(grid.numpy()[::10], 1 - curve.numpy()[::10] ** 2, "k.", label="1 - tanh(x)² (formula)")
ax.set_xlabel("x")
ax.legend()
ax.grid(alpha=0.3)
md.viz.show(fig, "01_tanh_derivative.png")

# %% [markdown]
# ## 8. Exercises
#
# Each exercise ends with a check: a cell that says "not done yet" until you fill in the code, or,
# for exercise 4, an **Expected observation**. Worked solutions are in
# `tutorials/solutions/01_autograd.py`; try first!
#
# **Exercise 1, a new op.** $\text{softplus}(a) = \log(1 + e^a)$ is a smooth ReLU. Write its
# backward: the derivative is $\sigma(a) = 1 / (1 + e^{-a})$. (Forward uses
# `np.logaddexp(0, a)`, a stable $\log(e^0 + e^a)$.)

# %%
heading("8. Exercises")


class Softplus(Function):
    """out = log(1 + e^a);  da = g * sigmoid(a)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.logaddexp(0, a)

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("exercise 1: return the gradient for a")


# `md.testing.check_exercise(name, your_answer)` runs your answer and the engine on the same random
# inputs (here including large ones where e^a overflows) and prints the verdict: "correct!", "not
# done yet", or which case differs and by how much.
md.testing.check_exercise("softplus_backward", Softplus)

# %% [markdown]
# **Exercise 2, predict before you run.** For $u = a b$ and $y = u + u a$ with $a = 2, b = 5$,
# work out $\partial y/\partial a$ and $\partial y/\partial b$ on paper (count the paths!) and
# write them below.

# %%
prediction = {"a": None, "b": None}  # exercise 2: replace None by your numbers


def check_prediction(prediction):
    """Compare the predicted gradients with what backward computes."""
    if None in prediction.values():
        print("exercise 2: not done yet")
        return
    a = md.tensor(2.0, requires_grad=True)
    b = md.tensor(5.0, requires_grad=True)
    u = a * b
    (u + u * a).backward()
    for name, leaf in [("a", a), ("b", b)]:
        guess, actual = prediction[name], leaf.grad.item()
        assert math.isclose(guess, actual), f"dy/d{name}: you predicted {guess}, backward says {actual}"
    print("exercise 2: correct!")


check_prediction(prediction)

# %% [markdown]
# **Exercise 3, undo broadcasting.** Write `sum_to_shape(grad, shape)`: sum a gradient of the
# broadcast shape back to an input's `shape`. Remember the two things broadcasting does: it
# adds leading axes, and it stretches axes of size 1.

# %%
def my_sum_to_shape(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched, to get ``shape``."""
    raise NotImplementedError("exercise 3")


md.testing.check_exercise("sum_to_shape", my_sum_to_shape)  # the engine's version on several patterns

# %% [markdown]
# **Exercise 4, the one-sided difference.** The *forward difference*
# $\big(L(w + \varepsilon) - L(w)\big) / \varepsilon$ needs one evaluation of $L$ instead of two.
# Write it below; the cell then measures its error over the same values of $\varepsilon$ as in
# section 3. Before you run it, predict with a Taylor expansion the slope of the truncation part,
# and where the best $\varepsilon$ will be now.
#
# **Expected observation:** no even terms cancel, so the error falls only like $\varepsilon$: a
# slope of 1.00. The truncation error $\tfrac12 |L''|\,\varepsilon$ meets the rounding error
# $u\,|L| / \varepsilon$ near $\varepsilon \approx \sqrt{u} \approx 10^{-8}$, so the smallest errors,
# of order $10^{-9}$ (the luckiest one lower), sit near $\varepsilon = 10^{-8}$: roughly a thousand
# times worse than the central difference's best, at an $\varepsilon$ a hundred times smaller.

# %%
def forward_difference(eps):
    """dL/dw estimated as (L(w + eps) - L(w)) / eps at the point of section 1 (use loss_of_w and w0)."""
    raise NotImplementedError("exercise 4")


try:
    forward_errors = difference_errors(forward_difference)
except NotImplementedError:
    print("exercise 4: not done yet")
else:
    print(f"forward difference: slope {fit_power_law(forward_errors, 1e-4, 1e-1)[0]:.2f} for 1e-4 <= eps <= 1e-1; "
          f"smallest error {forward_errors.min():.1e}, at eps = {EPSILONS[np.argmin(forward_errors)]:.1e}")  # fmt: skip

# %% [markdown]
# **Exercise 5, write the backward pass.** `loss.backward()` is a few dozen lines of
# `minidl/autograd.py`; write your own `backward(loss)`. What you have to work with (section 1
# showed the edges):
#
# - `loss.grad_fn`, the node that made the loss: the walk starts there, with the gradient
#   `np.ones_like(loss.array)` ($\partial L / \partial L = 1$).
# - `node.edges`, one per input: `(parent_node, output_index)`, `(None, leaf)` or `None` (no
#   gradient wanted). `node.parents` lists the parent nodes, once per edge: in $y \cdot y$ the node
#   of $y$ appears twice, and it has two consumers.
# - `node.function.backward(node.ctx, *grad_outputs)`: give it the gradient of each of the node's
#   outputs (every node in this exercise has one output, so `output_index` is 0) and it returns
#   the gradient for each input: one array, or a tuple of them when there are several inputs.
#   `node.input_meta[i][0]` is the shape of input `i`: pass the gradient through
#   `md.autograd.sum_to_shape` (exercise 3) in case the op broadcast.
#
# The rule of section 4: a node may run only once *all* its consumers have sent their gradient,
# and then it runs once, on their sum. So:
#
# 1. walk the graph from `loss.grad_fn` once and **count the consumers** of every node (one per edge
#    pointing at it);
# 2. keep a list of nodes that are ready, starting with `loss.grad_fn`; take one, run its backward
#    on the gradient it has received, and send each input's gradient along its edge: **add** it to
#    the leaf's `.grad` (`leaf.grad = md.tensor(g)` the first time), or add it to what the parent
#    node has received so far and take one off the parent's count; at 0 the parent is ready;
# 3. return the list of nodes in the order their backward ran.
#
# `md.testing.check_exercise("backward", backward)` runs it on chains, diamonds, a reused leaf
# and random graphs, checks the order (every node once, after all its consumers) and compares
# the leaves' `.grad` with the engine's. A depth-first recursion that follows every edge gets the
# gradients right but runs a shared node once per path, which the check rejects: in a stack of
# diamonds the number of paths doubles with every level. When yours passes, compare it with
# `iter_backward` in `minidl/autograd.py`, the engine's version of the same walk.

# %%
def backward(loss):
    """Run the backward pass of ``loss``, filling each leaf's .grad; return the nodes in the order
    their backward ran."""
    raise NotImplementedError("exercise 5")


md.testing.check_exercise("backward", backward)

# %% [markdown]
# Which exercises of the course have you passed so far? (`check_exercise` remembers every pass.)

# %%
md.testing.progress()
