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
# # 08 · Normalization and residual networks: how deep networks become trainable
#
# Stack eight layers and plain SGD stops working: the signal shrinks (or grows) by a factor at
# every layer, and so does the gradient on its way back. Two ideas from 2015 fixed this and are
# in almost every network since:
#
# 1. **Batch normalization** (Ioffe & Szegedy): after a layer, standardize each channel over
#    the batch, then let the network rescale it with learned $\gamma$ and $\beta$.
#    Layer norm and group norm standardize over other axes.
# 2. **Residual connections** (He et al.): a block computes a *correction* $F(x)$ and adds it
#    to its input, $x + F(x)$, so the gradient has a path that skips every layer's weights.
#
# We measure the problem, build batch norm by hand and check it against `nn.BatchNorm2d`,
# train with and without it, derive its backward pass, and compare a plain and a residual network
# of the same depth. Prerequisites: tutorials 02 (training loop), 03 (SGD) and 04 (convolution).
#
# Run it as a script (`python tutorials/08_normalization_and_resnets.py`) or open
# `08_normalization_and_resnets.ipynb`; `MINIDL_FAST=1` runs a short version, and
# `MINIDL_DEVICE=cuda` trains the networks on a GPU.

# %%
import math
import os

import matplotlib.pyplot as plt
import numpy as np

import minidl as md
import minidl.functional as F
from minidl.data import DataLoader, TensorDataset, load_digits, train_test_split

FAST = os.environ.get("MINIDL_FAST") == "1"  # CI runs the tutorials in a fast mode: fewer epochs
EPOCHS = 3 if FAST else 10
DEVICE = os.environ.get("MINIDL_DEVICE", "cpu")  # "cuda" runs the tutorial on a GPU (CuPy)


def heading(title):
    """Mark the start of a section in the printed output."""
    print(f"\n=== {title} ===")


x_all, y_all = load_digits(as_images=True)  # (1797, 1, 8, 8), pixels scaled to [0, 1]
x_train, x_test, y_train, y_test = train_test_split(x_all, y_all, test_size=0.2, stratify=y_all, seed=0)

# %% [markdown]
# ## 1. The problem: the signal fades layer by layer
#
# An MLP with eight hidden layers of 64 ReLU units, PyTorch's default initialization. We push
# 256 digits through it and measure, after each hidden layer, how much a unit's output varies
# **from one digit to the next** (the standard deviation over the batch, averaged over the
# units). That variation is the information about the input the layer passes on.

# %%
heading("1. The signal through a deep MLP")


def deep_mlp(batch_norm, depth=8, width=64):
    """Flatten, then ``depth`` times Linear (+ BatchNorm1d) + ReLU, then Linear to 10 classes."""
    layers, fan_in = [md.nn.Flatten()], 64
    for _ in range(depth):
        layers += [md.nn.Linear(fan_in, width)] + ([md.nn.BatchNorm1d(width)] if batch_norm else []) + [md.nn.ReLU()]
        fan_in = width
    return md.nn.Sequential(*layers, md.nn.Linear(fan_in, 10))


md.manual_seed(0)
plain_mlp = deep_mlp(batch_norm=False)
signal = md.tensor(x_train[:256])
with md.no_grad():
    for layer in plain_mlp:
        signal = layer(signal)
        if isinstance(layer, md.nn.ReLU):
            print(f"after a hidden layer: variation over the digits {signal.std(dim=0).mean().item():.2e}, "
                  f"size of the outputs {signal.abs().mean().item():.2e}")

# %% [markdown]
# Each layer shrinks the variation by a factor of about 2.5 (its weights have variance
# $1/(3 \cdot \text{fan\_in})$ and ReLU drops half of the signal), while the biases keep the
# outputs themselves at a constant size. After eight layers the output hardly depends on the
# digit: every input gets nearly the same logits, the loss starts at $\ln 10 \approx 2.303$, and
# the gradient shrinks by the same factors on its way back to the first layers.
#
# ## 2. Batch normalization by hand
#
# For a batch of images $x$ of shape $(N, C, H, W)$, batch norm takes, **per channel** $c$, the
# mean and the (biased) variance over the $N \cdot H \cdot W$ values of that channel:
#
# $$\mu_c = \frac{1}{m}\sum x_{n,c,h,w}, \qquad \sigma^2_c = \frac{1}{m}\sum (x_{n,c,h,w} - \mu_c)^2, \qquad
#   \hat x = \frac{x - \mu_c}{\sqrt{\sigma^2_c + \varepsilon}}, \qquad y = \gamma_c \hat x + \beta_c$$
#
# $\gamma$ and $\beta$ are learned (they start at 1 and 0), so the network can undo the
# standardization where that helps. We compute it with NumPy and compare with `nn.BatchNorm2d`.

# %%
heading("2. Batch norm by hand")
rng = np.random.default_rng(0)
images = (3 * rng.standard_normal((16, 4, 5, 5)) + 2).astype(np.float32)
mean = images.mean(axis=(0, 2, 3), keepdims=True)
var = images.var(axis=(0, 2, 3), keepdims=True)  # biased: divides by m
by_hand = (images - mean) / np.sqrt(var + 1e-5)

layer = md.nn.BatchNorm2d(4)
out = layer(md.tensor(images))
print(f"largest difference from nn.BatchNorm2d: {np.abs(out.numpy() - by_hand).max():.1e}")
print(f"per-channel mean after: {out.numpy().mean(axis=(0, 2, 3)).round(6)}, std: {out.numpy().std(axis=(0, 2, 3)).round(4)}")

# %% [markdown]
# At test time a single image has no batch to take statistics from, and predictions must not
# depend on which other images happen to share the batch. So in training the layer also keeps
# **running** estimates, updated after every batch with momentum 0.1:
#
# $$\text{running\_mean} \leftarrow 0.9\,\text{running\_mean} + 0.1\,\mu, \qquad
#   \text{running\_var} \leftarrow 0.9\,\text{running\_var} + 0.1\,\frac{m}{m-1}\sigma^2$$
#
# (the running variance takes the *unbiased* batch variance, as PyTorch does), and `layer.eval()`
# normalizes with them instead.

# %%
expected_mean = 0.9 * 0.0 + 0.1 * mean.ravel()
expected_var = 0.9 * 1.0 + 0.1 * var.ravel() * images.size / 4 / (images.size / 4 - 1)
print(f"running_mean {layer.running_mean.numpy().round(4)} (by hand {expected_mean.round(4)})")
print(f"running_var  {layer.running_var.numpy().round(4)} (by hand {expected_var.round(4)})")
print(f"batches seen: {layer.num_batches_tracked.item()}")
layer.eval()
in_eval = layer(md.tensor(images[:1])).numpy()
by_hand_eval = (images[:1] - expected_mean.reshape(1, 4, 1, 1)) / np.sqrt(expected_var.reshape(1, 4, 1, 1) + 1e-5)
print(f"eval mode, one image, largest difference from the formula with running statistics: "
      f"{np.abs(in_eval - by_hand_eval).max():.1e}")

# %% [markdown]
# ## 3. Training with and without batch norm
#
# The same eight-layer MLP twice, once with a `BatchNorm1d` after every hidden `Linear`, trained
# with the same SGD (learning rate 0.05, batch 64) from the same seed.

# %%
heading("3. Training curves with and without BatchNorm")


def train(model, epochs, lr, momentum=0.0):
    """Plain SGD on the training digits; the mean training loss of each epoch."""
    model.to(DEVICE)
    optimizer = md.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    loader = DataLoader(TensorDataset(md.tensor(x_train), md.tensor(y_train)), batch_size=64, shuffle=True)
    curve = []
    for _ in range(epochs):
        total = 0.0
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb.to(DEVICE)), yb.to(DEVICE))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(yb)
        curve.append(total / len(y_train))
    return curve


curves = {}
for batch_norm in (False, True):
    md.manual_seed(0)
    curves[batch_norm] = train(deep_mlp(batch_norm), EPOCHS, lr=0.05)
print(f"after {EPOCHS} epochs: training loss without BatchNorm {curves[False][-1]:.3f}, "
      f"with BatchNorm {curves[True][-1]:.3f}")

fig, ax = plt.subplots(figsize=(5, 3.5))
epochs = range(1, EPOCHS + 1)
ax.plot(epochs, curves[False], marker="o", label="without BatchNorm")
ax.plot(epochs, curves[True], marker="o", label="with BatchNorm1d")
ax.axhline(math.log(10), color="grey", linestyle=":", label="ln 10: guessing")
ax.set(xlabel="epoch", ylabel="training loss", title="8 hidden layers, SGD lr 0.05")
ax.legend()
md.viz.show(fig, "08_batchnorm_curves.png")

# %% [markdown]
# Without normalization the loss sits at $\ln 10$: the network guesses. With it, each layer
# receives inputs of unit spread whatever the weights before it did, and training proceeds.
#
# ## 4. The backward pass of batch norm in one formula
#
# $\mu$ and $\sigma^2$ depend on every input of the channel, so the gradient of $x_i$ has three
# paths: through $\hat x_i$ directly, through $\mu$ and through $\sigma^2$. Summing them (with
# $g_i = \partial L / \partial y_i$, $\hat g_i = \gamma g_i$ and sums over the $m$ values of the
# channel) gives
#
# $$\frac{\partial L}{\partial x_i} = \frac{1}{m\sqrt{\sigma^2+\varepsilon}}
#   \Big(m\,\hat g_i - \sum_j \hat g_j - \hat x_i \sum_j \hat g_j \hat x_j\Big), \qquad
#   \frac{\partial L}{\partial \gamma} = \sum_j g_j \hat x_j, \qquad \frac{\partial L}{\partial \beta} = \sum_j g_j .$$
#
# minidl computes batch norm's backward with exactly this formula (`minidl/ops/normalization.py`,
# and in compiled passes on the CPU, `kernels/normalization.py`), not as a graph of mean and
# variance ops. `gradcheck` compares it with central differences in float64:

# %%
heading("4. The backward of batch norm, checked")
x64 = md.tensor(rng.standard_normal((6, 3, 2, 2)), dtype=md.float64, requires_grad=True)
gamma64 = md.tensor(rng.uniform(0.5, 1.5, 3), dtype=md.float64, requires_grad=True)
beta64 = md.tensor(rng.standard_normal(3), dtype=md.float64, requires_grad=True)
md.testing.gradcheck(lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True), [x64, gamma64, beta64])
print("gradcheck of F.batch_norm (float64, training mode): passed")

# %% [markdown]
# ## 5. Layer norm and group norm
#
# Batch norm ties each sample to the rest of its batch. **Layer norm** (`nn.LayerNorm`)
# standardizes each sample over its own features instead: no batch statistics, no running
# estimates, the same computation in training and at test time; it is the normalization of
# Transformers (tutorial 09). **Group norm** (`nn.GroupNorm`) standardizes each sample over groups
# of channels: it works for a batch of one image.

# %%
heading("5. Layer norm and group norm")
features = rng.standard_normal((3, 8)).astype(np.float32)
layer_norm = md.nn.LayerNorm(8)(md.tensor(features)).detach().numpy()
formula = (features - features.mean(axis=1, keepdims=True)) / np.sqrt(features.var(axis=1, keepdims=True) + 1e-5)
print(f"LayerNorm(8) against the per-sample formula: largest difference {np.abs(layer_norm - formula).max():.1e}")
grouped = images[:1].reshape(1, 2, -1)  # one image, its 4 channels in 2 groups of 2
group_norm = md.nn.GroupNorm(2, 4)(md.tensor(images[:1])).detach().numpy()
formula = ((grouped - grouped.mean(axis=2, keepdims=True)) / np.sqrt(grouped.var(axis=2, keepdims=True) + 1e-5))
print(f"GroupNorm(2, 4) on a batch of one: largest difference {np.abs(group_norm - formula.reshape(1, 4, 5, 5)).max():.1e}")

# %% [markdown]
# ## 6. Residual networks: a path for the gradient
#
# Batch norm keeps the forward signal in range, but the gradient still passes through every
# layer on its way back. He et al. found that a deeper plain network trained *worse* than a
# shallower one, and proposed the **residual block** (`md.models.BasicBlock`, torchvision's
# layout):
#
# $$\text{out} = \operatorname{relu}\big(F(x) + x\big), \qquad F(x) = \text{BN}(\text{conv}(\operatorname{relu}(\text{BN}(\text{conv}(x)))))$$
#
# The addition passes the gradient to $x$ unchanged, *plus* what flows through $F$. Where a block
# changes the number of channels or halves the size, the shortcut is a 1x1 convolution with
# stride 2 (a projection). `md.models.resnet(depth=6n+2)` stacks three stages of $n$ blocks
# (16, 32 and 64 channels) as in the paper's CIFAR experiments; `shortcut=False` builds the
# plain network with the same layers.
#
# We compare the gradient norm of every 3x3 convolution after one backward pass, at depth 56.

# %%
heading("6. Gradient norms, plain against residual")
print(md.models.BasicBlock(16, 16))


def conv_gradient_norms(model, images, labels):
    """The gradient norm of every 3x3 convolution's weight (input side first) after one backward."""
    F.cross_entropy(model(images), labels).backward()
    return np.array([(m.weight.grad ** 2).sum().item() ** 0.5 for name, m in model.named_modules()
                     if isinstance(m, md.nn.Conv2d) and "downsample" not in name])  # fmt: skip


batch, labels = md.tensor(x_train[:32], device=DEVICE), md.tensor(y_train[:32], device=DEVICE)
norms = {}
for shortcut in (False, True):
    md.manual_seed(0)
    norms[shortcut] = conv_gradient_norms(md.models.resnet(1, 10, depth=56, shortcut=shortcut).to(DEVICE), batch, labels)
spread = {shortcut: n.max() / n.min() for shortcut, n in norms.items()}
print(f"gradient norm spread over the layers at depth 56: plain {spread[False]:.0f}x, residual {spread[True]:.0f}x")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogy(norms[False], label="plain", marker=".")
ax.semilogy(norms[True], label="residual", marker=".")
ax.set(xlabel="3x3 convolution (input side first)", ylabel="gradient norm of its weight", title="ResNet-56 at initialization")
ax.legend()
md.viz.show(fig, "08_gradient_norms.png")

# %% [markdown]
# In the plain network the gradient is multiplied by a similar factor at every layer, so its
# size changes geometrically with depth: the layers near the input get gradients hundreds of
# times larger than those near the output, and no single learning rate suits them all. With
# shortcuts the norms stay within a narrow band. Training shows the difference: ResNet-20
# against its plain twin, SGD with momentum 0.9, learning rate 0.1.

# %%
heading("6b. Training plain and residual networks")
resnet_epochs = 2 if FAST else 6
resnet_curves = {}
for shortcut in (False, True):
    md.manual_seed(0)
    resnet_curves[shortcut] = train(md.models.resnet(1, 10, depth=20, shortcut=shortcut), resnet_epochs, lr=0.1, momentum=0.9)
print(f"after {resnet_epochs} epochs at depth 20: training loss plain {resnet_curves[False][-1]:.3f}, "
      f"residual {resnet_curves[True][-1]:.3f}")

# %% [markdown]
# ## Exercises
#
# Solutions are in `tutorials/solutions/08_normalization_and_resnets.py`; try first.
#
# 1. **Batch norm forward.** Write `batch_norm_forward(x, gamma, beta, eps)` for an input of
#    shape $(N, C)$ or $(N, C, H, W)$ (NumPy arrays) in training mode: statistics per channel
#    over every axis but the channels. `md.testing.check_exercise("batch_norm_forward", ...)`
#    compares it with `F.batch_norm`.

# %%
def batch_norm_forward(x, gamma, beta, eps):
    raise NotImplementedError("exercise 1: standardize per channel, then scale by gamma and shift by beta")


md.testing.check_exercise("batch_norm_forward", batch_norm_forward)

# %% [markdown]
# 2. **Batch norm backward.** Write `batch_norm_backward(x, gamma, grad, eps) -> (dx, dgamma, dbeta)`
#    with the formula of section 4 (recompute $\hat x$ from $x$). The checker compares with
#    minidl's backward pass on several shapes.

# %%
def batch_norm_backward(x, gamma, grad, eps):
    raise NotImplementedError("exercise 2: the one-formula backward of section 4")


md.testing.check_exercise("batch_norm_backward", batch_norm_backward)

# %% [markdown]
# 3. **Train mode on one image.** Call a `BatchNorm2d` in training mode on a batch of one image
#    of size 1x1 (`md.randn(1, 4, 1, 1)`), then on one image of size 5x5.
#
#    **Expected observation:** the first raises a ValueError ("Expected more than 1 value per
#    channel"), as PyTorch does: one value has no variance. The second works (25 values per
#    channel), but every image is then normalized on its own, so it would look the same
#    whatever its brightness: that is why prediction uses `eval()` and the running statistics.
#
# 4. **Depth.** Repeat section 6 at depth 110 (`md.models.resnet(1, 10, depth=110, shortcut=...)`).
#
#    **Expected observation:** the plain network's spread grows from thousands to millions (the
#    per-layer factor compounds over twice as many layers), while the residual network's
#    roughly doubles (about 30x to about 50x).
#
# 5. **Where the shortcut matters.** Train the plain and residual depth-8 networks of
#    `md.models.resnet(1, 10, depth=8, shortcut=...)` with `train(...)` for a few epochs.
#
#    **Expected observation:** at depth 8 (three blocks) both reach a low training loss within
#    three epochs (about 0.10 plain, 0.07 residual): the gap between them widens with depth
#    (compare section 6b at depth 20).

# %%
md.testing.progress()
