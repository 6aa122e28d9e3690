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
# # 11 · Transfer learning: reuse what a network learned on a big data set
#
# Labels are expensive. A network trained on a large labelled data set has learned, in its
# convolutional layers, detectors of strokes, edges and curves that are useful well beyond that
# data set. **Transfer learning** keeps those layers and trains only a new last layer (the
# *head*) on the few labels of the new task:
#
# 1. **Pre-train** the CNN of tutorial 04 (`md.models.cnn(image_size=28)`) on MNIST: 60,000
#    handwritten digits of 28x28 pixels.
# 2. **Freeze** its convolutional layers (`requires_grad_(False)`): no gradient, no update.
# 3. **Fine-tune** a new head on a *different* data set with only 10 to 50 labels per class:
#    scikit-learn's 8x8 digits (other writers, another scanner, a far coarser grid), brought to
#    MNIST's format with `F.interpolate`.
# 4. **Compare** with the same network trained from scratch on the same few labels.
#
# Prerequisites: tutorials 04 (convolution) and 06 (training). Run it as a script
# (`python tutorials/11_transfer_learning.py`) or open `11_transfer_learning.ipynb`;
# `MINIDL_FAST=1` runs a short version and `MINIDL_DEVICE=cuda` trains on a GPU.
# MNIST is read from the directory `$MINIDL_MNIST` (default `../shared/data/mnist`, the four IDX
# files); without it the tutorial says so and pre-trains on a stand-in made of the 8x8 digits.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import minidl as md
import minidl.functional as F
from minidl.data import DataLoader, TensorDataset, load_digits, load_mnist, train_test_split

FAST = os.environ.get("MINIDL_FAST") == "1"  # CI runs the tutorials in a fast mode: less pre-training
DEVICE = os.environ.get("MINIDL_DEVICE", "cpu")  # "cuda" runs the tutorial on a GPU (CuPy)
MNIST_DIR = Path(os.environ.get("MINIDL_MNIST", "../shared/data/mnist"))
PRETRAIN_IMAGES = 6000 if FAST else 60000
PRETRAIN_STEPS = 375 if FAST else 3750  # Adam steps of 32 images: two passes over PRETRAIN_IMAGES
STEPS = 100 if FAST else 150  # Adam steps of 32 images for each network trained on the few labels
LABELS_PER_CLASS = (10, 30) if FAST else (10, 20, 30, 50)


def heading(title):
    """Mark the start of a section in the printed output."""
    print(f"\n=== {title} ===")

# %% [markdown]
# ## 1. Bringing 8x8 digits to MNIST's format: `F.interpolate`
#
# The new task's images are 8x8, MNIST's 28x28 (both with values in [0, 1] as minidl loads them),
# and each MNIST digit was scaled to fit a **20x20** box and centred, leaving a 4-pixel margin. We do
# the same: scale the 8x8 image up to 20x20, then pad 4 zero pixels on every side.
#
# Upsampling asks, for every output pixel $i$, which input point it corresponds to. With
# `align_corners=False` (the default, and the convention of image libraries) pixels are squares
# and their *centres* are matched:
#
# $$\text{src}(i) = (i + 0.5)\,\frac{\text{in}}{\text{out}} - 0.5 .$$
#
# `mode="nearest"` copies the input pixel $\lfloor i \cdot \text{in}/\text{out} \rfloor$: blocks.
# `mode="bilinear"` mixes the two neighbouring rows, then the two neighbouring columns, in
# proportion to how close $\text{src}$ is to each: a smooth image. Both are linear maps of the
# input, so the gradient flows back through them (each input pixel receives the gradients of the
# outputs it was copied or mixed into, with the same weights).

# %%
heading("1. Upsampling the 8x8 digits")
digits_x, digits_y = load_digits(as_images=True)  # (1797, 1, 8, 8), values 0..1


def to_mnist_format(images, mode="bilinear"):
    """8x8 images -> 20x20 with F.interpolate -> 28x28 with a 4-pixel margin, like MNIST."""
    with md.no_grad():
        big = F.interpolate(md.tensor(images), size=(20, 20), mode=mode)
        return F.pad(big, (4, 4, 4, 4)).numpy()


digits_28 = to_mnist_format(digits_x)
print(f"digits: {digits_x.shape} -> {digits_28.shape}, values in [{digits_28.min():.2f}, {digits_28.max():.2f}]")

one = md.tensor(digits_x[:1], requires_grad=True)
F.interpolate(one, size=(20, 20), mode="bilinear").sum().backward()
print(f"gradient of the sum of the 400 outputs w.r.t. the 64 inputs: total {one.grad.sum().item():.1f} "
      f"(each output's weights sum to 1), per input pixel from {one.grad.min().item():.2f} to {one.grad.max().item():.2f}")

# %% [markdown]
# The gradient of the sum sends each output's weights (which add up to 1) back to the inputs it
# read, so the 64 gradients add up to the 400 outputs; here every input pixel is read with the
# same total weight $400/64 = 6.25$ (the clamping at the edges gives the border pixels exactly
# what the mixing takes from them).
#
# ## 2. Pre-training on MNIST

# %%
heading("2. Pre-training the CNN on MNIST")
_, rest_x, _, rest_y = train_test_split(digits_28, digits_y, test_size=0.6, stratify=digits_y, seed=0)
pool_x, test_x, pool_y, test_y = train_test_split(rest_x, rest_y, test_size=0.5, stratify=rest_y, seed=0)
if (MNIST_DIR / "train-labels-idx1-ubyte.gz").is_file() or (MNIST_DIR / "train-labels-idx1-ubyte").is_file():
    source_x, source_y = load_mnist(MNIST_DIR)
    source_x, source_y = source_x[:PRETRAIN_IMAGES], source_y[:PRETRAIN_IMAGES]
    print(f"pre-training on {len(source_y)} MNIST images from {MNIST_DIR}")
else:
    source_x, _, source_y, _ = train_test_split(digits_28, digits_y, test_size=0.6, stratify=digits_y, seed=0)
    print(f"MNIST not found in {MNIST_DIR} (set MINIDL_MNIST): pre-training instead on the {len(source_y)} "
          "upsampled 8x8 digits kept out of the labelled pool and the test set (a weaker stand-in: the same source as the new task)")
print(f"new task: a pool of {len(pool_y)} upsampled digits to take the labels from, {len(test_y)} test digits")


def train(model, images, labels, steps, lr=1e-3, batch_size=32):
    """Adam on the parameters that require grad, cross-entropy, shuffled minibatches: whole
    passes over the images until at least ``steps`` steps are done."""
    model.to(DEVICE).train()
    optimizer = md.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    loader = DataLoader(TensorDataset(md.tensor(images), md.tensor(labels)), batch_size=batch_size, shuffle=True)
    for _ in range(-(-steps // len(loader))):
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb.to(DEVICE)), yb.to(DEVICE))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model


def accuracy(model, images, labels):
    """The share of ``images`` the model classifies correctly (eval mode, no graph)."""
    model.eval()
    with md.no_grad():
        predictions = np.concatenate([model(md.tensor(images[i:i + 500], device=DEVICE)).argmax(1).numpy()
                                      for i in range(0, len(images), 500)])  # fmt: skip
    return float((predictions == labels).mean())


md.manual_seed(0)
pretrained = train(md.models.cnn(image_size=28), source_x, source_y, PRETRAIN_STEPS)
print(f"pre-trained CNN, accuracy on the new task's test digits without any of their labels: "
      f"{accuracy(pretrained, test_x, test_y):.3f}")
print(pretrained)

# %% [markdown]
# Even before it has seen a single label of the new data set, the MNIST network reads most of the
# upsampled digits: the two data sets share their classes, and the formatting of section 1 makes
# the new images look like MNIST to it. Transfer learning does not need the classes to be the same,
# though: it keeps only the convolutional layers and learns a new head.
#
# ## 3. Freezing the convolutional layers
#
# `module.requires_grad_(False)` sets `requires_grad = False` on every parameter of the module.
# A frozen parameter takes no part in the graph: `backward()` leaves its `.grad` at `None`, and
# the optimizer, which we give only the parameters that require grad, never changes it. The new
# head is a fresh `Linear(64 * 5 * 5, 10)` in place of the old last layer.

# %%
heading("3. Freezing the convolutional layers")


def fine_tuned_model(pretrained):
    """A copy of the pre-trained CNN with its convolutional layers frozen and a new head."""
    copy = md.models.cnn(image_size=28)
    copy.load_state_dict(pretrained.state_dict())
    features = copy[:6].requires_grad_(False)  # Conv-ReLU-Pool-Conv-ReLU-Pool
    return md.nn.Sequential(*features, md.nn.Flatten(), md.nn.Linear(64 * 5 * 5, 10)).to(DEVICE)  # a new head


model = fine_tuned_model(pretrained)
trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
print(f"trainable parameters: {trainable:,} (the head), frozen: {frozen:,}")
F.cross_entropy(model(md.tensor(pool_x[:8], device=DEVICE)), md.tensor(pool_y[:8], device=DEVICE)).backward()
for name, p in model.named_parameters():
    print(f"  {name:10} requires_grad={p.requires_grad!s:5}  grad {'None' if p.grad is None else 'computed'}")

# %% [markdown]
# ## 4. Fine-tuning against training from scratch
#
# For each number of labels per class we draw that many labelled digits per class from the pool
# and train two networks of the same architecture with the same optimizer and number of steps
# (`STEPS` minibatches of 32, so several passes over the few labelled images):
# the frozen pre-trained one with its new head, and one from a random initialization.

# %%
heading("4. Fine-tuned against from scratch")


def labelled_subset(n, seed=0):
    """``n`` labelled digits of each class from the pool."""
    rng = np.random.default_rng(seed)
    chosen = np.concatenate([rng.choice(np.flatnonzero(pool_y == c), n, replace=False) for c in range(10)])
    return pool_x[chosen], pool_y[chosen]


results = {"fine-tuned": [], "from scratch": []}
for n in LABELS_PER_CLASS:
    x, y = labelled_subset(n)
    md.manual_seed(1)
    results["fine-tuned"].append(accuracy(train(fine_tuned_model(pretrained), x, y, STEPS), test_x, test_y))
    md.manual_seed(1)
    results["from scratch"].append(accuracy(train(md.models.cnn(image_size=28), x, y, STEPS), test_x, test_y))
    print(f"with {n} labels per class: fine-tuned {results['fine-tuned'][-1]:.3f}, "
          f"from scratch {results['from scratch'][-1]:.3f}")

fig, ax = plt.subplots(figsize=(5, 3.5))
for name, values in results.items():
    ax.plot(LABELS_PER_CLASS, values, marker="o", label=name)
ax.set(xlabel="labels per class", ylabel="test accuracy", title="8x8 digits, upsampled, same CNN")
ax.legend()
md.viz.show(fig, "11_accuracy_vs_labels.png")

# %% [markdown]
# With 10 labels per class the network trained from scratch has seen 100 images: its
# convolutional filters are fitted to them and it generalizes poorly. The frozen network only has
# to learn which combinations of its MNIST features mean which class, a linear classifier on
# 1,600 features, and it reaches a much higher accuracy. The gap narrows as labels are added:
# with enough data, training from scratch catches up.
#
# ## 5. Adaptive pooling: a head for any image size
#
# The head above only fits 28x28 inputs: `Linear(64 * 5 * 5, 10)` expects a 5x5 feature map.
# `nn.AdaptiveAvgPool2d(output_size)` chooses its windows from the size it receives
# ($\text{start}_i = \lfloor i\,H / \text{out} \rfloor$, $\text{end}_i = \lceil (i+1)\,H/\text{out} \rceil$),
# so it always returns `output_size`. Torchvision's networks end with `AdaptiveAvgPool2d(1)`
# (one average per channel), which is why they accept images of any size.

# %%
heading("5. Adaptive pooling")
features = fine_tuned_model(pretrained)[:6]
for size in (28, 36):
    with md.no_grad():
        maps = features(md.tensor(np.zeros((1, 1, size, size), np.float32), device=DEVICE))
        pooled = md.nn.AdaptiveAvgPool2d(1)(maps)
    print(f"{size}x{size} input: feature maps {tuple(maps.shape)}, after AdaptiveAvgPool2d(1) {tuple(pooled.shape)}")

# %% [markdown]
# ## Exercises
#
# Solutions are in `tutorials/solutions/11_transfer_learning.py`; try first. Each exercise ends
# with a check cell or an **Expected observation**.
#
# 1. **Nearest upsampling by hand.** Write `upsample_nearest(x, size)` for a NumPy array `x` of
#    shape (N, C, H, W) and `size = (out_h, out_w)`, with PyTorch's rule: output row $i$ copies
#    input row $\min(\lfloor i \cdot H / \text{out\_h} \rfloor, H - 1)$, and the same for columns.
#    Use index arrays, no loop over pixels. The check cell compares it with `F.interpolate`.

# %%
def upsample_nearest(x, size):
    raise NotImplementedError("exercise 1: index arrays for the rows and the columns, then x[:, :, rows, cols]")


try:
    check_x = np.random.default_rng(0).standard_normal((2, 3, 5, 7))
    for check_size in ((10, 14), (8, 3), (5, 7)):
        expected = F.interpolate(md.tensor(check_x), size=check_size).numpy()
        assert np.array_equal(upsample_nearest(check_x, check_size), expected), f"size {check_size} differs"
    print("exercise 1: correct!")
except NotImplementedError:
    print("exercise 1: not done yet")

# %% [markdown]
# 2. **Unfreeze everything.** Fine-tune the whole pre-trained network (no `requires_grad_(False)`,
#    still a new head) with 10 labels per class, once with `lr=1e-3` and once with `lr=1e-4`.
#
#    **Expected observation:** with `lr=1e-3` the accuracy is about the frozen network's (within
#    a point or two; 0.880 against 0.885 in fast mode with MNIST): with 100 images, also moving the 19,000
#    convolution weights gains little. With `lr=1e-4` it is clearly lower (0.800): the new head
#    starts from random and learns too slowly in the same number of steps. That is why one gives
#    the pre-trained layers a smaller learning rate than the head, with two parameter groups:
#    `md.optim.Adam([{"params": features.parameters(), "lr": 1e-4}, {"params": head.parameters()}], lr=1e-3)`.
#
# 3. **A head with adaptive pooling.** Replace `model[6:]` (Flatten and the 1,600-input Linear) by
#    `AdaptiveAvgPool2d(1)`, `Flatten()` and `Linear(64, 10)` and fine-tune it with 10 labels per
#    class (train it for 3 times as many steps: it has fewer parameters to move and learns slower).
#
#    **Expected observation:** the head has 650 parameters instead of 16,010, and its accuracy is
#    far lower (about 0.26 in fast mode with MNIST, against 0.885): averaging each channel over the whole
#    image throws away *where* a stroke is, which is what tells a 6 from a 9 here. Global pooling
#    suits the large, deep feature maps of big networks (a ResNet's 512 channels), not two
#    layers of 64.

# %%
md.testing.progress()
