# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 · Smaller models: pruning, int8 quantization, and what ensembles cost
#
# A trained network holds many more numbers than it needs. Two classic ways to shrink it after
# training:
#
# 1. **Magnitude pruning**: set the weights with the smallest $|w|$ to zero, betting that they
#    matter least, then *fine-tune* the rest for a little while so they make up for the loss.
#    Zeros compress well and sparse kernels can skip them.
# 2. **Quantization**: store each weight in 8 bits instead of 32. With a *symmetric* int8 scheme
#    a tensor (or one output channel of it) keeps one float scale,
#    $s = \max|w| / 127$, and integers $q = \mathrm{round}(w / s)$ clipped to $[-127, 127]$; the
#    network then runs with $w \approx q\,s$. Each weight moves by at most $s/2$.
#
# Both trade a little accuracy for size. At the end we look at the opposite trade, an
# **ensemble**: several models voting, more accurate and several times larger.
#
# Everything here is in `md.compress` and `md.ensemble`. Run it as a script
# (`python tutorials/06_compression.py`) or open it as a notebook with Jupytext;
# `MINIDL_FAST=1` gives a quick run with fewer sparsities and models. Set `MINIDL_DEVICE=cuda` to run
# it on a GPU: every model is moved there, and pruning and training happen on the device.

# %%
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # draw to files only, no window
import matplotlib.pyplot as plt
import numpy as np

import minidl as md
from minidl.compress import (
    KeepPruned,
    compression_report,
    load_quantized,
    model_size_bytes,
    prunable_weights,
    prune_magnitude,
    quantize_model,
    quantize_tensor,
    sparsity,
)
from minidl.ensemble import VotingClassifier, accuracy
from minidl.tune.examples import digits_splits, make_mlp, train_classifier

FIGURES = Path(os.environ.get("MINIDL_FIGURES", "figures"))  # beside the run: a notebook knows no script path
FIGURES.mkdir(parents=True, exist_ok=True)
FAST = os.environ.get("MINIDL_FAST") == "1"  # CI runs the tutorials in a fast mode
DEVICE = os.environ.get("MINIDL_DEVICE", "cpu")  # "cuda" runs the tutorial on a GPU (CuPy)


def heading(title):
    """Mark the start of a section in the printed output."""
    print(f"\n=== {title} ===")


def save(fig, name):
    fig.tight_layout()
    fig.savefig(FIGURES / name, dpi=60 if FAST else 100)
    plt.close(fig)
    print("saved", FIGURES / name)


# %% [markdown]
# ## 1. A model to compress
#
# An MLP on the 8x8 digits, 64 -> 64 -> 10, trained with Adam. The data is split 60/20/20 into
# train, validation and test sets; we only look at the test accuracy.

# %%
heading("1. A model to compress")
x_train, y_train, x_val, y_val, x_test, y_test = digits_splits()
HIDDEN = 64
model = make_mlp(HIDDEN, seed=0).to(DEVICE)
train_classifier(model, md.optim.Adam(model.parameters(), lr=1e-2), x_train, y_train, epochs=10)
base_accuracy = accuracy(model, x_test, y_test)
print(f"test accuracy {base_accuracy:.4f}, {model_size_bytes(model)} bytes of float32 parameters")


def copy_of_model():
    """A fresh model holding the trained weights: every experiment starts from the same point."""
    twin = make_mlp(HIDDEN).to(DEVICE)
    twin.load_state_dict(model.state_dict())
    return twin


# %% [markdown]
# ## 2. Magnitude pruning
#
# `prune_magnitude(model, amount, scope)` zeroes the fraction `amount` of the weights of every
# `Linear` and `Conv2d` (biases stay) and returns one boolean **mask** per weight, `True` where
# the weight is kept.
#
# - `scope="layer"`: each layer loses the same fraction.
# - `scope="global"`: one threshold for the whole network, so layers with small weights lose more.
#
# How are the magnitudes distributed? Most weights sit near zero, which is why pruning works.

# %%
heading("2. Magnitude pruning")
magnitudes = np.concatenate([np.abs(w.numpy()).ravel() for w in prunable_weights(model).values()])
threshold = np.quantile(magnitudes, 0.8)
fig, ax = plt.subplots(figsize=(6, 3))
ax.hist(magnitudes, bins=60, color="tab:blue")
ax.axvline(threshold, color="tab:red", label="80% of the weights are below this")
ax.set_xlabel("|w|")
ax.set_ylabel("count")
ax.legend()
save(fig, "weight_magnitudes.png")

pruned = copy_of_model()
masks = prune_magnitude(pruned, 0.8, scope="global")
for name, mask in masks.items():
    print(f"{name}: {mask.size} weights, {1 - mask.mean():.1%} pruned")
print(f"overall sparsity {sparsity(pruned):.3f}, "
      f"test accuracy without fine-tuning {accuracy(pruned, x_test, y_test):.4f}")  # fmt: skip

# %% [markdown]
# Globally, the first layer (64 x 64 weights) loses more than the last (10 x 64): its weights are
# smaller on average.
#
# **Fine-tuning** keeps training the pruned network. A plain optimizer would revive the zeros (their
# gradients are not zero), so `KeepPruned(optimizer, model, masks)` re-applies the masks,
# $w \leftarrow w \odot m$, after every `step()`; it otherwise behaves as the optimizer it wraps.
#
# Let us sweep the sparsity, with and without three epochs of fine-tuning.

# %%
SPARSITIES = [0.0, 0.5, 0.8, 0.9] if FAST else [0.0, 0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95]
FINE_TUNE_EPOCHS = 3


def pruned_accuracy(amount, scope, fine_tune):
    pruned = copy_of_model()
    masks = prune_magnitude(pruned, amount, scope=scope)
    if fine_tune:
        optimizer = KeepPruned(md.optim.Adam(pruned.parameters(), lr=3e-3), pruned, masks)
        train_classifier(pruned, optimizer, x_train, y_train, epochs=FINE_TUNE_EPOCHS, seed=1)
    return accuracy(pruned, x_test, y_test)


curves = {
    (scope, fine_tune): [pruned_accuracy(s, scope, fine_tune) for s in SPARSITIES]
    for scope in ("global", "layer")
    for fine_tune in (False, True)
}
print("sparsity  " + "  ".join(f"{s:>6.2f}" for s in SPARSITIES))
for (scope, fine_tune), accuracies in curves.items():
    label = f"{scope}{' + fine-tune' if fine_tune else ''}"
    print(f"{label:<20s}" + "  ".join(f"{a:6.3f}" for a in accuracies))

fig, ax = plt.subplots(figsize=(6, 4))
for (scope, fine_tune), accuracies in curves.items():
    ax.plot(SPARSITIES, accuracies, marker="o", linestyle="-" if fine_tune else "--",
            color="tab:blue" if scope == "global" else "tab:orange",
            label=f"{scope}{', fine-tuned' if fine_tune else ''}")  # fmt: skip
ax.axhline(base_accuracy, color="grey", linewidth=0.8, label="unpruned")
ax.set_xlabel("fraction of weights pruned")
ax.set_ylabel("test accuracy")
ax.legend(fontsize=8)
save(fig, "pruning_accuracy.png")

# %% [markdown]
# Half the weights can go, pruned globally, for less than a point of accuracy and no retraining.
# Beyond that the accuracy falls off a cliff, and three epochs of fine-tuning pull most of it
# back, up to about 80% sparsity for this small network (4,736 weights; at 80% fewer than 1,000
# remain). Neither scope wins everywhere; at the highest sparsities global pruning holds up
# better, because it leaves more weights in the layer whose weights are large.

# %% [markdown]
# ## 3. int8 quantization, per tensor and per channel
#
# One output row of the first layer, quantized both ways. Per tensor, the step $s$ comes from the
# largest weight of the whole matrix; per channel, every row (output unit) gets its own, so rows
# of small weights are rounded on a finer grid.

# %%
heading("3. int8 quantization")
w = model.state_dict()["0.weight"].numpy()
for per_channel in (False, True):
    q, scale = quantize_tensor(w, per_channel=per_channel)
    error = np.abs(q.astype(np.float32) * scale - w)
    kind = "per channel" if per_channel else "per tensor "
    print(f"{kind}: scales {np.ravel(scale)[:3].round(5)}..., max error {error.max():.5f}, "
          f"mean error {error.mean():.6f}, bound s/2 holds: {bool((error <= scale / 2 + 1e-7).all())}")  # fmt: skip

quantized = {pc: quantize_model(model, per_channel=pc) for pc in (False, True)}
rows = [("float32", model, model_size_bytes(model))]
rows += [
    (f"int8 per {'channel' if pc else 'tensor'}", load_quantized(copy_of_model(), qstate), model_size_bytes(qstate))
    for pc, qstate in quantized.items()
]
table, _ = compression_report(rows, x_test, y_test)
print(table)

# %% [markdown]
# Four times smaller (a little less: the biases stay float32 and every channel stores a scale),
# and the accuracy barely moves: the rounding error, at most $s/2$ per weight, is small noise next
# to the weights themselves. Per channel the largest error of each row is never larger than per
# tensor, and the mean error is clearly smaller; on this network that makes no visible difference
# in accuracy (one test image either way), it matters more for layers whose rows differ in scale.
# The small nonzero "sparsity" of the int8 rows: weights below $s/2$ round to exactly 0.
#
# ## 4. Both: prune, fine-tune, quantize
#
# The two combine: a pruned weight is exactly 0 and stays 0 after quantization.

# %%
heading("4. Prune + fine-tune + int8")
small = copy_of_model()
masks = prune_magnitude(small, 0.8, scope="global")
train_classifier(small, KeepPruned(md.optim.Adam(small.parameters(), lr=3e-3), small, masks),
                 x_train, y_train, epochs=FINE_TUNE_EPOCHS, seed=1)  # fmt: skip
small_int8 = quantize_model(small, per_channel=True)
rows = [
    ("float32", model, model_size_bytes(model)),
    ("80% pruned, fine-tuned", small, model_size_bytes(small)),
    ("... then int8", load_quantized(copy_of_model(), small_int8), model_size_bytes(small_int8)),
]
table, _ = compression_report(rows, x_test, y_test)
print(table)

# %% [markdown]
# The sizes are *dense* storage: a pruned matrix still holds its zeros. Stored sparsely (values plus
# their positions), 80% pruning would shrink it a few times more; that is what sparse formats
# such as CSR do.
#
# ## 5. The other way: an ensemble
#
# Five MLPs that differ only in their random seed (initial weights and batch order) make
# different mistakes. Let them vote:
#
# - **hard voting**: each model votes for its top class;
# - **soft voting**: average the predicted probabilities $\mathrm{softmax}(z_m)$, pick the top class.

# %%
heading("5. An ensemble of differently seeded models")
N_MODELS = 3 if FAST else 5
x_fit, y_fit = np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val])
members = []
for seed in range(N_MODELS):
    member = make_mlp(16, seed=seed).to(DEVICE)
    train_classifier(member, md.optim.Adam(member.parameters(), lr=3e-2), x_fit, y_fit, epochs=10, seed=seed)
    members.append(member)
single = [accuracy(m, x_test, y_test) for m in members]
votes = {v: float((VotingClassifier(members, voting=v).predict(x_test) == y_test).mean()) for v in ("hard", "soft")}
print("single models:", " ".join(f"{a:.3f}" for a in single), f"(mean {np.mean(single):.3f})")
print(f"hard vote {votes['hard']:.3f}, soft vote {votes['soft']:.3f}, "
      f"gain of the soft vote over the mean single model {votes['soft'] - np.mean(single):+.3f}")  # fmt: skip
print(f"size: {sum(model_size_bytes(m) for m in members)} bytes, {N_MODELS}x one model")

# %% [markdown]
# ## Exercises
#
# 1. Prune 90% globally and fine-tune for 10 epochs instead of 3. How much comes back?
# 2. Prune *gradually*: 50%, fine-tune, 70%, fine-tune, 80%, fine-tune, ... Does it beat pruning
#    80% at once? (`prune_magnitude` on a pruned model keeps the earlier zeros.)
# 3. Quantize to 4 bits: change `QMAX` to 7 in `minidl/compress/quantization.py` (or write your
#    own `quantize_tensor`). When does per channel start to matter?
# 4. Compress the ensemble: prune and quantize each member. Is a compressed ensemble of five
#    better than one uncompressed model of the same size?
# 5. **Checkable:** write `quantize(w)` returning `(q, scale)` for per-tensor symmetric int8:
#    `scale = max|w| / 127`, `q = round(w / scale)` clipped to [-127, 127], as section 3 showed.
#    `md.testing.check_exercise` compares it with `md.compress.quantize_tensor`.

# %%
def quantize(w):
    raise NotImplementedError("exercise 5: return (q, scale)")


md.testing.check_exercise("quantize_int8", quantize)

# %% [markdown]
# ## Solution to exercise 5

# %%
def quantize_solution(w):
    scale = np.abs(w).max() / 127
    return np.clip(np.round(w / scale), -127, 127).astype(np.int8), scale


assert md.testing.check_exercise("quantize_int8", quantize_solution)
