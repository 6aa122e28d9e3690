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
# # 10 · Initialization and activation statistics
#
# A network's first forward pass runs on random weights. How random decides whether it can learn
# at all: draw the weights of a 10-layer network a little too small and the signal shrinks at
# every layer until the output no longer depends on the input, and the gradient shrinks on its
# way back until the first layers never move; draw them a little too large and both blow up.
#
# We watch this happen with **hooks**, functions a module or a tensor calls for us during the
# forward and the backward pass: they record the mean and standard deviation of every layer's
# output and of the gradient arriving there, with naive, Xavier and He initialization, at the
# start and during training. A variance argument then predicts every number we measured, and
# shows why Xavier's and He's formulas fix the problem. Prerequisites: tutorials 02 (`Module`,
# the training loop) and 03 (SGD); tutorial 08's first section shows the same fading signal.
#
# Run it as a script (`python tutorials/10_initialization.py`) or open `10_initialization.ipynb`;
# `MINIDL_FAST=1` runs a short version and `MINIDL_DEVICE=cuda` runs the networks on a GPU.

# %%
import math
import os

import matplotlib.pyplot as plt
import numpy as np

import minidl as md
import minidl.functional as F
from minidl.data import DataLoader, TensorDataset, load_digits, train_test_split

FAST = os.environ.get("MINIDL_FAST") == "1"  # CI runs the tutorials in a fast mode: fewer steps
STEPS = 150 if FAST else 600
DEVICE = os.environ.get("MINIDL_DEVICE", "cpu")  # "cuda" runs the networks on a GPU (CuPy)


def heading(title):
    """Mark the start of a section in the printed output."""
    print(f"\n=== {title} ===")


x_all, y_all = load_digits(as_images=False)  # 1797 digits, 64 pixels each
x_train, x_test, y_train, y_test = train_test_split(x_all, y_all, test_size=0.2, stratify=y_all, seed=0)
pixel_mean, pixel_std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-6
x_train, x_test = ((x - pixel_mean) / pixel_std for x in (x_train, x_test))  # each pixel: mean 0, std 1 (or 0)
print(f"inputs: {x_train.shape[0]} training digits of 64 pixels, mean {x_train.mean():+.3f}, std {x_train.std():.3f}")

# %% [markdown]
# ## 1. Hooks
#
# `module.register_forward_hook(hook)` makes every call of the module end with
# `hook(module, args, output)`; the hook may look at the output (or return a replacement).
# It returns a **handle**: `handle.remove()` takes the hook out again.

# %%
heading("1. Hooks")
md.manual_seed(0)
layer = md.nn.Linear(3, 2)


def show_output(module, args, output):
    print(f"{type(module).__name__} got input {tuple(args[0].shape)}, output mean {output.mean().item():+.3f}, "
          f"std {output.std().item():.3f}")  # fmt: skip


handle = layer.register_forward_hook(show_output)
x = md.randn(4, 3, requires_grad=True)
layer(x)
handle.remove()
layer(x)  # the hook is gone: this call prints nothing
print("(second call: no hook, no line)")

# %% [markdown]
# The backward pass has hooks too. `tensor.register_hook(hook)` calls `hook(grad)` with the
# gradient of the loss with respect to that tensor, once it is complete (summed over every use of
# the tensor), before it flows on; a tensor the hook returns replaces the gradient.
# `module.register_full_backward_hook(hook)` calls `hook(module, grad_input, grad_output)` with
# the gradients with respect to the module's inputs and outputs. They run in the same order, with
# the same tensors, as PyTorch's (`tests/test_hooks.py` compares them event by event).

# %%
layer.register_full_backward_hook(lambda module, grad_input, grad_output: print(
    f"backward hook of {type(module).__name__}: grad_output {tuple(grad_output[0].shape)}, "
    f"grad_input {tuple(grad_input[0].shape)}"))  # fmt: skip
out = layer(x)  # backward hooks are attached when the module runs
out.register_hook(lambda grad: print(f"gradient arriving at the output: shape {tuple(grad.shape)}, "
                                      f"std {grad.std().item():.3f}"))  # fmt: skip
out.register_hook(lambda grad: 2 * grad)  # replaces the gradient: everything below sees it doubled
layer.weight.register_hook(lambda grad: print(f"gradient of the weight: shape {tuple(grad.shape)}"))
(out * md.tensor([[1.0, -1.0]])).sum().backward()
print(f"x.grad, first row: {x.grad[0].numpy().round(3)} = 2 * (w[0] - w[1]) = "
      f"{(2 * (layer.weight[0] - layer.weight[1])).detach().numpy().round(3)}")

# %% [markdown]
# ## 2. A 10-layer network at initialization
#
# Ten hidden layers of 100 units (`Linear` then an activation), then a `Linear` to the 10 classes.
# Biases start at 0; the weights come from one of four rules:
#
# | name | weights drawn from | |
# | --- | --- | --- |
# | naive small | $\mathcal N(0, 0.01^2)$ | "small random numbers" |
# | naive large | $\mathcal N(0, 1)$ | "standard normal" |
# | xavier | $\mathcal N\big(0, \frac{2}{\text{fan\_in} + \text{fan\_out}}\big)$ | Glorot & Bengio 2010, `nn.init.xavier_normal_` |
# | he | $\mathcal N\big(0, \frac{2}{\text{fan\_in}}\big)$ | He et al. 2015, `nn.init.kaiming_normal_(w, nonlinearity="relu")` |
#
# `ActivationStats` puts a forward hook on every activation module. At each forward pass it
# records the mean and standard deviation of the module's output and registers a tensor hook on
# that output, which records the standard deviation of the gradient that arrives there.

# %%
heading("2. The activations of a 10-layer network at initialization")
INITS = {
    "naive small": lambda w: md.nn.init.normal_(w, std=0.01),
    "naive large": lambda w: md.nn.init.normal_(w, std=1.0),
    "xavier": md.nn.init.xavier_normal_,
    "he": lambda w: md.nn.init.kaiming_normal_(w, nonlinearity="relu"),
}
ACTIVATIONS = {"tanh": md.nn.Tanh, "relu": md.nn.ReLU}


def deep_mlp(activation, init, depth=10, width=100):
    """``depth`` x (Linear + activation), then a Linear to 10 classes; weights by ``init``, biases 0."""
    layers, fan_in = [], 64
    for _ in range(depth):
        layers += [md.nn.Linear(fan_in, width), ACTIVATIONS[activation]()]
        fan_in = width
    model = md.nn.Sequential(*layers, md.nn.Linear(fan_in, 10))
    for module in model:
        if isinstance(module, md.nn.Linear):
            INITS[init](module.weight)
            md.nn.init.zeros_(module.bias)
    return model.to(DEVICE)


class ActivationStats:
    """Hooks on every activation module of ``model``: per layer, the mean and std of its output at
    each forward pass, and the std of the gradient with respect to that output at each backward."""

    def __init__(self, model):
        self.layers = [m for m in model.modules() if isinstance(m, tuple(ACTIVATIONS.values()))]
        self.means, self.stds, self.grad_stds = ([[] for _ in self.layers] for _ in range(3))
        self.handles = [layer.register_forward_hook(self.hook(i)) for i, layer in enumerate(self.layers)]

    def hook(self, i):
        def record(module, args, output):
            self.means[i].append(output.mean().item())
            self.stds[i].append(output.std().item())
            if output.requires_grad:
                output.register_hook(lambda grad: self.grad_stds[i].append(grad.std().item()))

        return record

    def remove(self):
        for handle in self.handles:
            handle.remove()


def latest(records):
    """The last value recorded for each layer (``stats.stds``, ...), as an array, layer 1 first."""
    return np.array([values[-1] for values in records])


batch = md.tensor(x_train[:512], device=DEVICE)
labels = md.tensor(y_train[:512], device=DEVICE)
at_init = {}  # (activation, init) -> ActivationStats after one forward and backward pass
for activation in ACTIVATIONS:
    for init in INITS:
        md.manual_seed(0)
        model = deep_mlp(activation, init)
        stats = ActivationStats(model)
        loss = F.cross_entropy(model(batch), labels)
        loss.backward()
        stats.remove()
        at_init[activation, init] = stats
        print(f"{activation:4} {init:11}  loss {loss.item():9.3g}   output std by layer: "
              + " ".join(f"{s:8.1e}" for s in latest(stats.stds)))

relu_std = {init: latest(at_init["relu", init].stds) for init in INITS}
print(f"activation std at layer 10: naive {relu_std['naive small'][-1]:.2e}, xavier {relu_std['xavier'][-1]:.2e}, "
      f"he {relu_std['he'][-1]:.2e}")  # fmt: skip
print(f"He: layer 10's std is {relu_std['he'][-1] / relu_std['he'][0]:.2f} x layer 1's; "
      f"naive small: {relu_std['naive small'][-1] / relu_std['naive small'][0]:.1e} x")

layer_numbers = np.arange(1, 11)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
for ax, activation in zip(axes, ACTIVATIONS):
    for init in INITS:
        stats = at_init[activation, init]
        ax.semilogy(layer_numbers, latest(stats.stds), marker="o", label=init)
    ax.set(title=f"{activation} network", xlabel="layer", xticks=layer_numbers)
axes[0].set_ylabel("std of the layer's output")
axes[1].legend()
md.viz.show(fig, "10_activation_std.png")

# %% [markdown]
# With ReLU, naive small weights shrink the signal by a factor of about 14 per layer: after ten
# layers it is $10^{-12}$ and every digit gives the same output. Naive large weights grow it by
# about 7 per layer, to $10^{8}$, and the first loss is astronomical. Xavier loses a factor
# $\sqrt 2$ per layer; He keeps it level. With tanh, naive large weights do not explode (tanh
# stays in $[-1, 1]$) but **saturate**: almost every unit sits at $\pm 1$.

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
for ax, init in zip(axes, ["naive small", "naive large", "xavier"]):
    md.manual_seed(0)
    outputs = {}
    model = deep_mlp("tanh", init)
    handles = [model[2 * k - 1].register_forward_hook(lambda m, a, out, k=k: outputs.update({k: out.numpy().ravel()}))
               for k in (1, 5, 10)]  # fmt: skip
    with md.no_grad():
        model(batch)
    for handle in handles:
        handle.remove()
    for k, values in outputs.items():
        ax.hist(values, bins=np.linspace(-1, 1, 51), histtype="step", label=f"layer {k}")
    saturated = np.mean(np.abs(outputs[10]) > 0.99)
    ax.set(title=f"tanh, {init}: {saturated:.0%} of layer 10 at ±1", xlabel="output value", ylabel="count")
axes[0].legend()
md.viz.show(fig, "10_tanh_histograms.png")

# %% [markdown]
# ## 3. Why: the variance of a layer's output
#
# A unit computes $y = \sum_{j=1}^{\text{fan\_in}} w_j x_j$. With weights drawn independently of
# the inputs, with mean 0 and variance $\operatorname{Var}(w)$, the terms are uncorrelated, so
# their variances add:
#
# $$\operatorname{Var}(y) = \text{fan\_in}\cdot\operatorname{Var}(w)\cdot E[x^2]
#   \qquad\big(= \text{fan\_in}\cdot\operatorname{Var}(w)\cdot\operatorname{Var}(x)\ \text{for inputs of mean 0}\big).$$
#
# Then ReLU zeroes the negative half of the symmetric $y$, which halves its mean square:
# $E[\operatorname{relu}(y)^2] = \tfrac12 \operatorname{Var}(y)$. So from one layer to the next the
# **root mean square** of the activations is multiplied by
#
# $$\text{factor} = \sqrt{\tfrac12\,\text{fan\_in}\cdot\operatorname{Var}(w)} .$$
#
# It is 1 exactly when $\operatorname{Var}(w) = 2/\text{fan\_in}$: He's rule. Xavier's rule, made
# for activations that are linear near 0 (tanh), gives $\operatorname{Var}(w) = 2/(100 + 100)$
# here and a factor $1/\sqrt 2$. We put the variance of each network's weights (layers 2 to 10 all
# have fan_in 100) into the formula and compare with the factor measured in section 2 from layer 1
# to layer 10:

# %%
heading("3. The variance argument, checked")
for init in INITS:
    md.manual_seed(0)
    hidden = deep_mlp("relu", init)[2]  # the second Linear: fan_in 100, like layers 3..10
    predicted = math.sqrt(0.5 * hidden.in_features * hidden.weight.var().item())
    stats = at_init["relu", init]
    rms = np.sqrt(latest(stats.stds) ** 2 + latest(stats.means) ** 2)
    measured = (rms[-1] / rms[0]) ** (1 / 9)  # the geometric mean of the 9 ratios from layer 1 to 10
    print(f"{init:11}  Var(w) = {hidden.weight.var().item():.2e}   factor per layer: predicted {predicted:.3f}, "
          f"measured {measured:.3f}")  # fmt: skip

# %% [markdown]
# The argument predicts the measured factors to within about 5% (this one draw of weights
# comes out slightly above the average the formula describes). Over ten layers a factor
# compounds: $0.07^{10} \approx 3 \cdot 10^{-12}$, $7^{10} \approx 3 \cdot 10^{8}$,
# $0.71^{10} \approx 0.03$ and $1^{10} = 1$.
#
# For tanh the factor is $\sqrt{\text{fan\_in}\cdot\operatorname{Var}(w)}$ while the signal is
# small (there $\tanh y \approx y$, no half is lost): Xavier's 1. But tanh squashes large values,
# so the std drifts slowly down instead of staying exactly level, and with $\operatorname{Var}(w)
# = 1$ the pre-activations have std about 10 and tanh saturates, as the histograms show.
#
# ## 4. The gradients on the way back
#
# Backward runs the same argument in reverse. The gradient with respect to a layer's input is
# $\partial L/\partial x = W^\top\, \partial L/\partial y$: a sum over the layer's **fan_out**
# units, so $\operatorname{Var}(\partial L/\partial x) = \text{fan\_out}\cdot\operatorname{Var}(w)
# \cdot \operatorname{Var}(\partial L/\partial y)$, halved again by ReLU's derivative (0 for half
# the units). Keeping both directions level would need $\operatorname{Var}(w) = 1/\text{fan\_in}$
# *and* $1/\text{fan\_out}$; Xavier takes the compromise $2/(\text{fan\_in} + \text{fan\_out})$.
# The tensor hooks recorded the std of the gradient arriving at each layer's output:

# %%
heading("4. The gradients at initialization")
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
for ax, activation in zip(axes, ACTIVATIONS):
    for init in INITS:
        stats = at_init[activation, init]
        grad_stds = latest(stats.grad_stds)
        ax.semilogy(layer_numbers, grad_stds, marker="o", label=init)
        if activation == "relu":
            print(f"relu {init:11}  gradient std at layer 1 / at layer 10: {grad_stds[0] / grad_stds[-1]:.1e}")
    ax.set(title=f"{activation} network", xlabel="layer", xticks=layer_numbers)
axes[0].set_ylabel("std of the gradient at the layer's output")
axes[1].legend()
md.viz.show(fig, "10_gradient_std.png")

# %% [markdown]
# The backward pass mirrors the forward one, read from right to left: with naive small weights
# the gradient reaching the first layer is $10^{10}$ times smaller than at the last one (it
# **vanishes**), with naive large weights it is $5 \cdot 10^{7}$ times larger (it **explodes**),
# Xavier's shrinks by $\sqrt 2$ per layer (about 20 times over nine layers), and He's stays
# level.
#
# ## 5. During training
#
# The hooks stay on while we train the ReLU network with each rule: SGD with momentum 0.9,
# learning rate 0.01, batches of 64. (Naive large weights start with a loss of about $10^{9}$;
# they are left out.) Each forward pass appends to the records, so we get every layer's
# statistics at every step.

# %%
heading("5. Training the ReLU network")


def train(model, steps, optimizer=None):
    """``steps`` steps of ``optimizer`` (default: SGD, momentum 0.9, lr 0.01) on ``model`` with hooks
    on; returns (stats, losses, test accuracy)."""
    stats = ActivationStats(model)
    optimizer = optimizer or md.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loader = DataLoader(TensorDataset(md.tensor(x_train), md.tensor(y_train)), batch_size=64, shuffle=True)
    losses = []
    while len(losses) < steps:
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb.to(DEVICE)), yb.to(DEVICE))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if len(losses) == steps:
                break
    stats.remove()
    with md.no_grad():
        predictions = model(md.tensor(x_test, device=DEVICE)).argmax(dim=1).cpu().numpy()
    return stats, losses, np.mean(predictions == y_test)


runs = {}
for init in ["naive small", "xavier", "he"]:
    md.manual_seed(0)
    runs[init] = train(deep_mlp("relu", init), STEPS)
    stats, losses, accuracy = runs[init]
    print(f"{init:11}  loss over the first 20 steps {np.mean(losses[:20]):.3f}, over the last 20 "
          f"{np.mean(losses[-20:]):.3f}; test accuracy {accuracy:.1%}; gradient std at layer 1 at the last step "
          f"{stats.grad_stds[0][-1]:.1e}")  # fmt: skip

fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
for init, (stats, losses, _) in runs.items():
    axes[0].plot(losses, label=init, alpha=0.8)
    axes[1].semilogy(stats.stds[-1], label=init)
    axes[2].semilogy(stats.grad_stds[0], label=init)
axes[0].axhline(math.log(10), color="grey", linestyle=":", label="ln 10: guessing")
axes[0].set(title="training loss", xlabel="step")
axes[1].set(title="std of layer 10's output", xlabel="step")
axes[2].set(title="std of the gradient at layer 1's output", xlabel="step")
axes[0].legend()
md.viz.show(fig, "10_training.png")

# %% [markdown]
# He's network learns from the first steps. Xavier's sits at $\ln 10$ for a while, until the
# updates have grown its weights enough to let the signal through, then catches up. The naive
# small network never learns: the gradient at its first layer stays around $10^{-15}$, so its
# weights never move, and the last layers see an input that does not depend on the digit.
#
# Careful initialization is one fix. Batch norm (tutorial 08) is another: it rescales every
# layer's output to unit spread whatever the weights did. Residual connections (also tutorial 08)
# give the gradient a path around the layers.
#
# ## Exercises
#
# The solutions are in `tutorials/solutions/10_initialization.py`; try first.
#
# 1. **Statistics with hooks.** Write `activation_stds(model, x)`: run `model(x)` once with a
#    forward hook on every `ReLU` and `Tanh` module (`model.modules()` lists them in order), and
#    return the list of the standard deviations of their outputs (`output.std().item()`). Remove
#    the hooks before returning: the checker fails a model left with hooks.

# %%
def activation_stds(model, x):
    raise NotImplementedError("exercise 1: a forward hook per activation module, one forward pass, remove the hooks")


md.testing.check_exercise("activation_stds", activation_stds)

# %% [markdown]
# 2. **Predict before you measure.** From section 3, predict the std at layer 10 of the ReLU
#    network with Xavier's weights, from its std at layer 1 (in section 2's table).
#
#    **Expected observation:** the 9 Linear layers between layer 1 and layer 10 have
#    fan_in = fan_out = 100, so each multiplies the std by $\sqrt{\tfrac12 \cdot 100 \cdot \tfrac{2}{200}}
#    = 1/\sqrt 2$: from layer 1's 0.52, $0.52 \cdot 0.71^9 \approx 0.023$. The table shows
#    $3.2 \cdot 10^{-2}$: this draw's factors came out a little above $1/\sqrt 2$ (0.75 in section 3).
#
# 3. **Deeper.** Build the ReLU network with `depth=30` for Xavier and He, and record the std
#    of each layer's output with your `activation_stds`.
#
#    **Expected observation:** He's std stays between about 0.5 and 1.5 at every layer; Xavier's
#    falls by $\sqrt 2$ per layer, to about $10^{-5}$ at layer 30.
#
# 4. **Xavier with a gain.** `md.nn.init.xavier_normal_(w, gain=md.nn.init.calculate_gain("relu"))`
#    multiplies Xavier's std by $\sqrt 2$. Use it as the `"xavier"` rule and rerun section 2.
#
#    **Expected observation:** the ReLU network's std now stays level, like He's: with
#    fan_in = fan_out, $2 \cdot \frac{2}{\text{fan\_in} + \text{fan\_out}} = \frac{2}{\text{fan\_in}}$,
#    which is He's variance.
#
# 5. **Adam to the rescue?** Adam divides each step by a running root mean square of the
#    gradient (tutorial 03), so one might hope that tiny gradients still give normal-sized steps.
#    Train the naive small network with
#    `train(model, STEPS, optimizer=md.optim.Adam(model.parameters(), lr=1e-3))`.
#
#    **Expected observation:** the loss still stays at $\ln 10$. Adam's step is
#    $\text{lr}\cdot\hat m / (\sqrt{\hat v} + \varepsilon)$, and with gradients around $10^{-15}$ the
#    $\varepsilon = 10^{-8}$ dominates the denominator: the first layers' steps are $10^{-7}$ of
#    their usual size. No optimizer brings back a signal that is gone; the initialization must.

# %%
md.testing.progress()
