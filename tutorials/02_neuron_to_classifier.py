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
# # 02 · From a neuron to a classifier
#
# Tutorial 01 differentiated graphs of single numbers. A network is the same kind of graph, with
# matrices flowing through it and a loss that compares scores with labels. In this tutorial we go
# from one neuron to a trained digit classifier, deriving the gradients of the new pieces by hand
# and checking each against the engine:
#
# 1. **Linear regression**: the gradient of the mean squared error by hand, and gradient descent
#    with the update written by hand.
# 2. **A layer is a matrix product**: its backward derived from the shapes alone, checked with
#    `md.testing.gradcheck`.
# 3. **Softmax with cross-entropy**: the gradient $\text{softmax}(z) - \text{onehot}(y)$, and why
#    the log-sum-exp form is the stable one.
# 4. **`Parameter`, `Module`, `Linear`, `Sequential`**: the objects that hold the weights.
# 5. **The five-line training loop** with `md.optim.SGD`, CS231n's two sanity checks, and an MLP
#    trained on the 8x8 digits.
#
# Prerequisite: tutorial 01. How optimizers other than plain SGD work comes in tutorial 03,
# convolution in tutorial 04.
#
# Run it from the repository root as a script (`python tutorials/02_neuron_to_classifier.py`, with
# minidl installed by `pip install -e .` or found through `PYTHONPATH=.`), or open
# `tutorials/02_neuron_to_classifier.ipynb` in Jupyter; `MINIDL_FAST=1` runs a short version. Set
# `MINIDL_DEVICE=cuda` to run the regression and the classifier on a GPU (with CuPy installed); the
# small checks of sections 2 and 3 stay on the CPU.

# %%
import math
import os

import matplotlib.pyplot as plt
import numpy as np

import minidl as md
import minidl.nn.functional as F  # PyTorch: import torch.nn.functional as F
from minidl.data import DataLoader, TensorDataset, load_digits, train_test_split

DEVICE = os.environ.get("MINIDL_DEVICE", "cpu")  # "cuda" runs the tutorial on a GPU (CuPy)
FAST = os.environ.get("MINIDL_FAST") == "1"  # CI runs the tutorials in a fast mode: fewer epochs
EPOCHS = 5 if FAST else 40
md.manual_seed(0)


def heading(title):
    """Mark the start of a section in the printed output."""
    print(f"\n=== {title} ===")

# %% [markdown]
# ## 1. One neuron: linear regression by hand
#
# A neuron without its squashing function draws a line, $\hat y = w x + b$. Fitting the line to
# $N$ points $(x_i, y_i)$ by the **mean squared error**
#
# $$L(w, b) = \frac{1}{N} \sum_{i=1}^{N} (w x_i + b - y_i)^2$$
#
# is linear regression. Every sample is one path from $w$ to $L$, and the paths add up (tutorial
# 01, section 4). With the residual $r_i = w x_i + b - y_i$ the chain rule gives
#
# $$\frac{\partial L}{\partial w} = \frac{2}{N} \sum_i r_i\, x_i, \qquad
#   \frac{\partial L}{\partial b} = \frac{2}{N} \sum_i r_i .$$
#
# Our data: 40 points on the line $y = 2x - 1$, with noise. We start from $w = b = 0$ and compare
# the two formulas with `backward()`.

# %%
heading("1. Linear regression by hand")
x = md.rand(40, device=DEVICE) * 2 - 1  # 40 points in [-1, 1)
y = 2 * x - 1 + 0.2 * md.randn(40, device=DEVICE)
w = md.tensor(0.0, requires_grad=True, device=DEVICE)
b = md.tensor(0.0, requires_grad=True, device=DEVICE)

loss = ((w * x + b - y) ** 2).mean()
loss.backward()
with md.no_grad():  # the formulas are arithmetic on numbers we know: nothing to record
    residual = w * x + b - y
    by_hand = {"w": (2 * residual * x).mean(), "b": (2 * residual).mean()}
for name, leaf in [("w", w), ("b", b)]:
    print(f"dL/d{name}: by hand {by_hand[name].item():+.6f}   backward() {leaf.grad.item():+.6f}")

# %% [markdown]
# **Gradient descent** moves every parameter a little against its gradient,
# $w \leftarrow w - \eta\, \partial L / \partial w$, with a learning rate $\eta$. Three details:
#
# - the update runs under `md.no_grad()`: it is not part of the model, and must not be recorded;
# - it is **in place** (`w -= ...`): `w` stays the same leaf, which the next forward uses;
# - `w.grad = None` afterwards, since `backward()` *adds* into `.grad` (tutorial 01, section 4).
#
# `fit_line` takes `steps` such steps from $w = b = 0$ and records the loss before each. The
# least-squares line, which `np.polyfit` computes directly, is where it should end up.

# %%
def fit_line(lr, steps=40):
    """Gradient descent on the mean squared error from w = b = 0: the loss before each step, and
    (w, b) after each step."""
    w = md.tensor(0.0, requires_grad=True, device=DEVICE)
    b = md.tensor(0.0, requires_grad=True, device=DEVICE)
    losses, lines = [], []
    for _ in range(steps):
        loss = ((w * x + b - y) ** 2).mean()
        loss.backward()
        with md.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad = None
        b.grad = None
        losses.append(loss.item())
        lines.append((w.item(), b.item()))
    return losses, lines


losses, lines = fit_line(lr=0.3)
for step in [0, 2, 5, 10, 20, len(losses) - 1]:
    print(f"after {step:2d} steps: loss {losses[step]:.4f}")
best_w, best_b = np.polyfit(x.numpy(), y.numpy(), 1)
print(f"gradient descent: w = {lines[-1][0]:.4f}, b = {lines[-1][1]:.4f}")
print(f"least squares   : w = {best_w:.4f}, b = {best_b:.4f}")

# %%
fig, (ax_fit, ax_loss) = plt.subplots(1, 2, figsize=(10, 3.8))
ax_fit.plot(x.numpy(), y.numpy(), "k.", label="data")
grid = np.array([-1.0, 1.0])
for step in [0, 2, 5, len(lines) - 1]:
    line_w, line_b = lines[step]
    ax_fit.plot(grid, line_w * grid + line_b, label=f"after step {step + 1}")
ax_fit.set_xlabel("x")
ax_fit.set_ylabel("y")
ax_fit.legend(fontsize=8)
ax_loss.semilogy(losses)
ax_loss.axhline(np.mean((best_w * x.numpy() + best_b - y.numpy()) ** 2), color="k", ls="--", label="least squares")
ax_loss.set_xlabel("steps taken")
ax_loss.set_ylabel("mean squared error")
ax_loss.legend()
for ax in (ax_fit, ax_loss):
    ax.grid(alpha=0.3)
fig.tight_layout()
md.viz.show(fig, "02_regression.png")

# %% [markdown]
# ## 2. A layer is a matrix product
#
# A neuron with $k$ inputs computes $\hat y = \sum_l x_l w_l + b$. Put $n$ such neurons side by side,
# all reading the same inputs, and feed them $N$ samples at once: that is one matrix product,
#
# $$Y = X W + b, \qquad X: (N, k), \quad W: (k, n), \quad Y: (N, n),$$
#
# with the bias broadcast over the $N$ rows. So a layer's backward is the matrix product's.
#
# **Dimension analysis.** For $C = A B$ with $A: (m, k)$ and $B: (k, n)$, the engine hands the node
# $G = \partial L / \partial C$, shaped like $C$: $(m, n)$. The node must return
# $\partial L / \partial A$, shaped like $A$: $(m, k)$, and $\partial L / \partial B$: $(k, n)$.
# $C$ is linear in $A$, so $\partial L / \partial A$ is a product of $G$ and $B$ alone; the only
# such product with the shape $(m, k)$ is $G B^\top$, and likewise the only product of $A$ and $G$
# with the shape $(k, n)$ is $A^\top G$:
#
# $$\frac{\partial L}{\partial A} = G B^\top, \qquad \frac{\partial L}{\partial B} = A^\top G .$$
#
# Element by element, the same: $C_{ij} = \sum_l A_{il} B_{lj}$, so $A_{il}$ reaches every $C_{ij}$
# of row $i$ with slope $B_{lj}$, and $\partial L / \partial A_{il} = \sum_j G_{ij} B_{lj} =
# (G B^\top)_{il}$.
#
# `c.backward(G)` starts the backward pass with $G$ instead of 1, as if $C$ fed a larger graph.

# %%
heading("2. A layer is a matrix product")
A = md.randn(4, 3, requires_grad=True)
B = md.randn(3, 2, requires_grad=True)
G = md.randn(4, 2)
(A @ B).backward(G)
print("dL/dA = G @ B.T  differs from backward() by", np.abs((G @ B.T - A.grad).numpy()).max())
print("dL/dB = A.T @ G  differs from backward() by", np.abs((A.T @ G - B.grad).numpy()).max())

# %% [markdown]
# The bias is used once per row, so its gradient is the sum of $G$'s rows (tutorial 01, section 6).
# `gradcheck` compares every element of the whole layer's gradients with central differences; it
# needs float64.

# %%
X64, W64, b64 = (md.randn(*shape, dtype=md.float64, requires_grad=True) for shape in [(4, 3), (3, 2), (2,)])
(X64 @ W64 + b64).backward(G.to(md.float64))
print("dL/db = G.sum(dim=0):", G.sum(dim=0), "  backward():", b64.grad.to(md.float32))
print("gradcheck of X @ W + b (float64):", md.testing.gradcheck(lambda x, w, b: x @ w + b, [X64, W64, b64]))

# %% [markdown]
# ## 3. Softmax with cross-entropy
#
# A classifier gives each sample one score per class, the **logits** $z_1, \dots, z_C$. The
# softmax turns them into probabilities, and the **cross-entropy** is minus the log-probability
# of the true class $y$, averaged over the batch:
#
# $$p_c = \frac{e^{z_c}}{\sum_j e^{z_j}}, \qquad
#   \ell = -\log p_y = -z_y + \log \sum_j e^{z_j}, \qquad L = \frac{1}{N} \sum_{n=1}^{N} \ell_n .$$
#
# `F.cross_entropy(logits, targets)` computes $L$ (from logits, not from probabilities). Its
# gradient: $\partial (\log \sum_j e^{z_j}) / \partial z_c = e^{z_c} / \sum_j e^{z_j} = p_c$, and
# $\partial(-z_y) / \partial z_c$ is $-1$ for $c = y$ and 0 otherwise. So
#
# $$\frac{\partial \ell}{\partial z_c} = p_c - [c = y], \qquad
#   \frac{\partial L}{\partial z} = \frac{\text{softmax}(z) - \text{onehot}(y)}{N} .$$
#
# The gradient raises the true class's logit by $1 - p_y$ and lowers every other logit by its
# probability; it vanishes when the classifier is sure and right.

# %%
heading("3. Softmax with cross-entropy")
N, C = 5, 4
logits = md.randn(N, C, requires_grad=True)
targets = md.tensor([0, 3, 1, 1, 2])
loss = F.cross_entropy(logits, targets)
by_definition = -F.log_softmax(logits, dim=1)[md.arange(N), targets].mean()
print(f"F.cross_entropy {loss.item():.6f}   -mean(log p_y) {by_definition.item():.6f}")
loss.backward()
with md.no_grad():
    by_hand = (F.softmax(logits, dim=1) - F.one_hot(targets, C)) / N
print("(softmax - onehot) / N differs from backward() by", np.abs((by_hand - logits.grad).numpy()).max())
print(f"each row of the gradient sums to 0, up to rounding: {logits.grad.sum(dim=1).abs().max().item():.1e}")

# %% [markdown]
# **Why log-softmax is the stable form.** $e^z$ overflows float32 above $z \approx 88.7$ (float64
# above 709.8). A network whose logits grow that large (a too-high learning rate will do it) would
# compute $\infty / \infty$ = nan in the softmax. The cure: softmax does not change when the same
# number is subtracted from every logit. Subtracting the largest, $m = \max_j z_j$, makes the largest
# exponent $e^0 = 1$ and every other one at most 1:
#
# $$\log p_c = z_c - m - \log \sum_j e^{z_j - m} \qquad (\text{log-sum-exp}).$$
#
# The sum is at least 1, so its logarithm is safe too. And taking the log of the softmax is not
# enough: a probability that underflows to 0 has the log $-\infty$, while log-softmax computes it
# exactly. `F.log_softmax` and `F.cross_entropy` use this form. (Below, `np.errstate` silences
# NumPy's warnings about the overflow: we want to look at the numbers.)

# %%
z = md.tensor([[1000.0, 999.0, 0.0]])
with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
    naive = md.exp(z) / md.exp(z).sum(dim=1, keepdim=True)
    shifted = z - z.max(dim=1, keepdim=True).values
    stable = md.exp(shifted) / md.exp(shifted).sum(dim=1, keepdim=True)
    log_of_stable = md.log(stable)
    naive_losses = -md.log(naive[0])  # the cross-entropy of each class as the target, through the naive softmax
log_sum_exp = shifted - md.log(md.exp(shifted).sum(dim=1, keepdim=True))
print("logits            :", z)
print("naive softmax     :", naive)
print("softmax of z - max:", stable)
print("log of that       :", log_of_stable)
print("log-sum-exp form  :", log_sum_exp)
print("F.log_softmax     :", F.log_softmax(z, dim=1))
for target in [0, 2]:
    stable_loss = F.cross_entropy(z, md.tensor([target])).item()
    print(f"cross-entropy with target {target}: naive {naive_losses[target].item()}, log-softmax {stable_loss:.4f}")

# %% [markdown]
# ## 4. `Parameter`, `Module`, `Linear`, `Sequential`
#
# In section 1 we kept `w` and `b` in loose variables and updated them one by one. A network has
# many; a **Module** keeps them together. Assign its **Parameters** (tensors that require grad) and
# its sub-modules as attributes in `__init__`, write `forward`; calling the module runs `forward`,
# and `parameters()` finds every Parameter, however deeply nested. Here is section 2's layer:

# %%
heading("4. Parameter, Module, Linear, Sequential")


class TinyLinear(md.nn.Module):
    """y = x @ weight + bias, with weight (n_in, n_out)."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = md.nn.Parameter(md.randn(n_in, n_out) / math.sqrt(n_in))
        self.bias = md.nn.Parameter(md.zeros(n_out))

    def forward(self, x):
        return x @ self.weight + self.bias


tiny = TinyLinear(3, 2)
for name, parameter in tiny.named_parameters():
    print(f"{name}: shape {parameter.shape}, requires_grad={parameter.requires_grad}")
inputs = md.randn(5, 3)
print("tiny(inputs) has shape", tiny(inputs).shape)

# %% [markdown]
# `md.nn.Linear(n_in, n_out)` is this layer with PyTorch's conventions: its weight is stored as
# $(n_\text{out}, n_\text{in})$, so it computes $x W^\top + b$, and both start uniform in
# $\pm 1/\sqrt{n_\text{in}}$. Copy our weights into one and the outputs agree:

# %%
linear = md.nn.Linear(3, 2)
print("linear.weight has shape", linear.weight.shape)
with md.no_grad():
    linear.weight.copy_(tiny.weight.T)
    linear.bias.copy_(tiny.bias)
print("|linear(inputs) - tiny(inputs)| <=", np.abs((linear(inputs) - tiny(inputs)).numpy()).max())

# %% [markdown]
# `md.nn.Sequential(...)` chains modules, each feeding the next. Our classifier reads the 64
# pixels of a digit, computes 32 hidden features with a ReLU, and gives 10 logits. The ReLU
# matters: two Linear layers in a row are one linear map, $W_2 (W_1 x + b_1) + b_2 =
# (W_2 W_1) x + (W_2 b_1 + b_2)$, no more expressive than a single layer.

# %%
def make_model():
    """The digit classifier: 64 pixels -> 32 ReLU features -> 10 logits."""
    return md.nn.Sequential(md.nn.Linear(64, 32), md.nn.ReLU(), md.nn.Linear(32, 10))


print(make_model())
print("parameters:", sum(p.numel() for p in make_model().parameters()), "= 64*32 + 32 + 32*10 + 10")
first, second = md.nn.Linear(64, 32), md.nn.Linear(32, 10)
pixels = md.rand(3, 64)
with md.no_grad():
    merged = pixels @ (second.weight @ first.weight).T + (second.weight @ first.bias + second.bias)
    difference = np.abs((second(first(pixels)) - merged).numpy()).max()
print("Linear-Linear without a ReLU equals one Linear: differ by", difference)

# %% [markdown]
# ## 5. Training a classifier on the digits
#
# The data: scikit-learn's 1797 handwritten digits, 8x8 pixels scaled to [0, 1], flattened to 64
# numbers. 20% are held out as a test set, with every digit equally represented (`stratify=labels`).

# %%
heading("5. Training a classifier")
images, labels = load_digits(as_images=False)
x_train, x_test, y_train, y_test = train_test_split(images, labels, test_size=0.2, stratify=labels, seed=0)
x_train, y_train, x_test, y_test = (md.tensor(a, device=DEVICE) for a in (x_train, y_train, x_test, y_test))
print(f"train {x_train.shape}, test {x_test.shape}")

# %% [markdown]
# **Sanity check 1 (CS231n): the initial loss.** With small random weights the logits are near 0,
# the softmax is near uniform, $p_y \approx 1/10$, and the loss is $\approx -\log(1/10) = \ln 10$.
# A much larger value means the weights start too large (exercise 3); check this before training.

# %%
model = make_model().to(DEVICE)
with md.no_grad():
    initial_loss = F.cross_entropy(model(x_train), y_train).item()
print(f"initial loss: {initial_loss:.4f} (ln 10 = {math.log(10):.4f})")

# %% [markdown]
# **The five-line training loop.** An optimizer holds the parameters and applies the update of
# section 1 to all of them: `md.optim.SGD(model.parameters(), lr)` does $p \leftarrow p - \eta\, g$
# for every parameter $p$. One step on a batch is the five numbered lines below. A `DataLoader` cuts
# the training set into shuffled batches (on `DEVICE`, where the data is), and one pass over all of
# them is an **epoch**. Tutorial 03 shows what other optimizers (Momentum, Adam, ...) do with the
# gradient; tutorial 06 wraps this loop with validation, early stopping and checkpoints.

# %%
def train_one_epoch(model, optimizer, loader):
    """One pass over the loader's batches; the mean training loss."""
    total = 0.0
    for xb, yb in loader:
        optimizer.zero_grad()  # 1. forget the last step's gradients (backward adds into .grad)
        logits = model(xb)  # 2. forward
        loss = F.cross_entropy(logits, yb)  # 3. the loss
        loss.backward()  # 4. the gradient of every parameter
        optimizer.step()  # 5. p -= lr * p.grad, for every parameter
        total += loss.item() * len(yb)
    return total / len(loader.dataset)


def accuracy(model, x, y):
    """The share of samples whose largest logit is the true class."""
    with md.no_grad():
        return (model(x).argmax(dim=1) == y).float().mean().item()

# %% [markdown]
# **Sanity check 2 (CS231n): overfit a tiny subset.** A correct model, loss and loop can learn 20
# examples by heart: the training accuracy must reach 100%. If it does not, look for the bug before
# training on everything.

# %%
few = DataLoader(TensorDataset(x_train[:20], y_train[:20]), batch_size=20)
model = make_model().to(DEVICE)
optimizer = md.optim.SGD(model.parameters(), lr=0.5)
for _ in range(100):
    few_loss = train_one_epoch(model, optimizer, few)
print(f"overfitting 20 examples: training accuracy {100 * accuracy(model, x_train[:20], y_train[:20]):.1f}% "
      f"after 100 steps (loss {few_loss:.4f}); on the test set {100 * accuracy(model, x_test, y_test):.1f}%")

# %% [markdown]
# 20 examples learned by heart say little about the 360 test digits. Now the real run, on all
# 1437 training digits, in batches of 32.

# %%
model = make_model().to(DEVICE)
optimizer = md.optim.SGD(model.parameters(), lr=0.1)
loader = DataLoader(TensorDataset(x_train, y_train), batch_size=32, shuffle=True)
train_losses, test_accuracies = [], []
for epoch in range(EPOCHS):
    train_losses.append(train_one_epoch(model, optimizer, loader))
    test_accuracies.append(accuracy(model, x_test, y_test))
    if epoch % 5 == 0 or epoch == EPOCHS - 1:
        print(f"epoch {epoch + 1:2d}: training loss {train_losses[-1]:.4f}, "
              f"test accuracy {100 * test_accuracies[-1]:.1f}%")
print(f"test accuracy after {EPOCHS} epochs: {100 * test_accuracies[-1]:.1f}%")

fig, (ax_loss, ax_accuracy) = plt.subplots(1, 2, figsize=(10, 3.5))
epochs = np.arange(1, EPOCHS + 1)
ax_loss.plot(epochs, train_losses, "o-")
ax_loss.axhline(math.log(10), color="k", ls="--", label="ln 10 (the initial loss)")
ax_loss.set_ylabel("mean training loss")
ax_loss.legend()
ax_accuracy.plot(epochs, 100 * np.array(test_accuracies), "o-", color="C1")
ax_accuracy.set_ylabel("test accuracy (%)")
for ax in (ax_loss, ax_accuracy):
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
fig.tight_layout()
md.viz.show(fig, "02_training.png")

# %% [markdown]
# ## 6. Exercises
#
# The solutions are in `tutorials/solutions/02_neuron_to_classifier.py`: try first!
#
# **Exercise 1, the matrix product's backward.** Write `matmul_backward(a, b, grad)` on NumPy
# arrays: for $c = a\,@\,b$ and `grad` $= \partial L / \partial c$, return
# `(grad_a, grad_b)`, shaped like `a` and `b`. The checker also feeds a batch of matrices
# `a` of shape `(3, 2, 4)` with a single `b` of shape `(4, 5)`, as when a layer's weight is applied
# to every sequence of a batch. Two hints: `.T` reverses *all* axes of a 3-D array; and `b` is used
# by every matrix of the batch, so its gradient is summed over the batch (tutorial 01, section 6).

# %%
heading("6. Exercises")


def matmul_backward(a, b, grad):
    """(dL/da, dL/db) for c = a @ b, given grad = dL/dc."""
    raise NotImplementedError("exercise 1")


md.testing.check_exercise("matmul_backward", matmul_backward)

# %% [markdown]
# **Exercise 2, softmax with cross-entropy, backward.** Write
# `softmax_cross_entropy_backward(logits, targets)` on NumPy arrays: $\partial L / \partial z$ of the
# *mean* cross-entropy, from section 3's formula. The checker feeds logits near $\pm 1000$: compute
# the softmax in the stable way.

# %%
def softmax_cross_entropy_backward(logits, targets):
    """dL/dlogits (N, C) of F.cross_entropy(logits, targets), for logits (N, C) and int targets (N,)."""
    raise NotImplementedError("exercise 2")


md.testing.check_exercise("softmax_cross_entropy_backward", softmax_cross_entropy_backward)

# %% [markdown]
# **Exercise 3, the initial loss of large weights.** Multiply every parameter of a fresh
# `make_model()` by 10 (in place, under `md.no_grad()`: `p.mul_(10)`) and print its initial loss on
# the training set, next to section 5's.
#
# **Expected observation:** a loss several times $\ln 10 \approx 2.3$ (10 to 20 in our runs). The logits are now
# about 100 times larger (two layers, each 10 times), so the softmax is nearly one-hot: confident,
# and wrong for about 9 samples in 10, each of which costs $-\log p_y$, a large number. This is what
# sanity check 1 catches.

# %%
# exercise 3: your code here

# %% [markdown]
# **Exercise 4, a learning rate that is too high.** Run `fit_line(lr)` of section 1 for `lr` =
# 0.9, 1.1 and 1.5, and print the losses of the first few steps and the last.
#
# **Expected observation:** with 0.9 the loss still falls to the least-squares value, though $b$
# now overshoots its best value at every step, landing alternately above and below it; with 1.1
# and 1.5 the loss *grows* at every step, by a nearly constant factor (about 1.5 and 4), and the
# line runs away. Here the curvature of $L$ along $b$ is
# $\partial^2 L / \partial b^2 = 2$, and gradient descent diverges when $\eta$ exceeds $2 / 2 = 1$;
# tutorial 03 works this stability limit out.

# %%
# exercise 4: your code here

# %% [markdown]
# Which exercises have you passed so far (in every tutorial)?

# %%
md.testing.progress()
