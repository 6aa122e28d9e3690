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
# # 05 · Training and tuning: from raw data to a checked, saved, tuned model
#
# Tutorial 03 wrote the training step in five lines: forward, loss, `zero_grad`, `backward`,
# `step`. A real training run wraps those lines in a lot of care:
#
# 1. **Split** the data three ways: *train* (the model learns from it), *validation* (we decide
#    from it: when to stop, which settings win) and *test* (looked at once, at the very end).
# 2. **Normalize** the inputs with statistics of the training set only.
# 3. **Augment**: show the network slightly changed images, so it learns what does not matter.
# 4. **Fit** with `md.train.fit`, watching the validation loss: **early stopping** ends training
#    when it stops improving and gives back the best weights; a **checkpoint** keeps them on disk.
# 5. **Search** hyperparameters (`md.tune`) and **ensemble** several models (`md.ensemble`).
#
# The data is scikit-learn's 8x8 digits and the network the small CNN of the Keras MNIST example,
# `md.models.cnn`. Run it as a script (`python tutorials/05_training_and_tuning.py`) or open it as a
# notebook with Jupytext; `MINIDL_FAST=1` runs a short version. Set `MINIDL_DEVICE=cuda` to run it on
# a GPU: the models go to the device, and `md.train.fit` moves each batch to the model's device.

# %%
import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # draw to files only, no window
import matplotlib.pyplot as plt
import numpy as np

import minidl as md
from minidl.data import DataLoader, Standardizer, TensorDataset, augment, load_digits, train_test_split
from minidl.train import metrics

FIGURES = Path(os.environ.get("MINIDL_FIGURES", "figures"))  # beside the run: a notebook knows no script path
FIGURES.mkdir(parents=True, exist_ok=True)
RUN = Path(tempfile.mkdtemp(prefix="minidl-tutorial05-"))  # the checkpoint and the CSV log go here
FAST = os.environ.get("MINIDL_FAST") == "1"  # CI runs the tutorials in a fast mode: fewer epochs
EPOCHS = 3 if FAST else 30
DEVICE = os.environ.get("MINIDL_DEVICE", "cpu")  # "cuda" runs the tutorial on a GPU (CuPy)
md.manual_seed(0)


def heading(title):
    """Mark the start of a section in the printed output."""
    print(f"\n=== {title} ===")

# %% [markdown]
# ## 1. Split: train, validation, test
#
# `train_test_split(..., stratify=y)` keeps the share of every digit the same on both sides. We
# split twice: 20% of everything for the test set, then 10% of the rest for validation.

# %%
heading("1. Split")
x, y = load_digits(as_images=True)
x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, stratify=y, seed=0)
x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=0.1, stratify=y_rest, seed=0)
print(f"train {x_train.shape}, validation {x_val.shape}, test {x_test.shape}")

# %% [markdown]
# ## 2. Normalize with training statistics only
#
# Standardizing, $x' = (x - \mu) / \sigma$, puts the inputs around 0 with unit spread, where the
# initial weights expect them. $\mu$ and $\sigma$ come from the **training set only**: computing
# them on the test set too would leak information about it into training. `axis=(0, 2, 3)` gives
# one $\mu$ and $\sigma$ per channel (here, one channel).

# %%
heading("2. Normalize")
scaler = Standardizer(axis=(0, 2, 3)).fit(x_train)
x_train_std, x_val, x_test = scaler.transform(x_train), scaler.transform(x_val), scaler.transform(x_test)
print(f"mean {scaler.mean.ravel()[0]:.3f}, std {scaler.std.ravel()[0]:.3f}; "
      f"train now has mean {x_train_std.mean():.2e} and std {x_train_std.std():.3f}")

# %% [markdown]
# ## 3. Augment
#
# A digit rotated by a few degrees or shifted by a pixel is still the same digit. Augmentation
# makes these changes at random, every epoch anew, so the network cannot memorize exact pixels.
# The transforms work on NumPy batches; the `DataLoader` applies them to the inputs of each batch.
# (A horizontal flip would be wrong here: a mirrored 3 is not a 3.)
#
# Order matters: augment the raw images, *then* standardize. Pixels that a rotation or a crop
# brings in from outside the image are 0, the black background of a raw digit; after
# standardizing, 0 would be the average grey instead.

# %%
heading("3. Augment")
augmentation = augment.Compose([augment.RandomRotation(10), augment.RandomCrop(8, padding=1)], seed=0)
examples = augmentation(np.repeat(x_train[:1], 8, axis=0))
fig, axes = plt.subplots(1, 9, figsize=(9, 1.3))
for ax, image, title in zip(axes, [x_train[0]] + list(examples), ["original"] + [""] * 8):
    ax.imshow(image[0], cmap="gray")
    ax.set_title(title, fontsize=8)
    ax.axis("off")
fig.savefig(FIGURES / "05_augmented.png", dpi=80)
plt.close(fig)
print("saved", FIGURES / "05_augmented.png")


def augment_then_standardize(images):
    """The DataLoader's transform: a random change of the raw images, then the scaler's formula."""
    return scaler.transform(augmentation(images))

# %% [markdown]
# ## 4. Fit with early stopping and a checkpoint
#
# `md.train.fit` runs the five-line step over every batch, then scores the validation set and
# gives the **callbacks** their turn:
#
# - `EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)`: stop when the
#   validation loss has not improved for 5 epochs, and go back to the weights of the best epoch.
#   The training loss keeps falling long after the model stops getting better on new data; the
#   validation loss is what tells.
# - `ModelCheckpoint(path, save_best_only=True)`: save the model and optimizer at every new best
#   (atomically: a crash mid-save leaves the previous file intact).
# - `CSVLogger`: one row per epoch, to watch a long run from another terminal.
#
# `fit` returns a `History`: one value per epoch of `loss`, the metrics, their `val_` twins and `lr`.

# %%
heading("4. Fit")
model = md.models.cnn(in_channels=1, image_size=8).to(DEVICE)
optimizer = md.optim.Adam(model.parameters(), lr=1e-3)
train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=32, shuffle=True, seed=0,
                          transform=augment_then_standardize)
val_loader = DataLoader(TensorDataset(x_val, y_val), batch_size=256)
checkpoint_path = RUN / "best.npz"
callbacks = [
    md.train.EarlyStopping("val_loss", patience=5, restore_best_weights=True),
    md.train.ModelCheckpoint(checkpoint_path, "val_loss", save_best_only=True),
    md.train.CSVLogger(RUN / "log.csv"),
]
history = md.train.fit(model, md.nn.CrossEntropyLoss(), optimizer, train_loader, EPOCHS, val_loader, callbacks,
                       metrics=["accuracy"], verbose=not FAST)
best_epoch, best_loss = history.best("val_loss")
print(f"{len(history)} epochs; best validation loss {best_loss:.4f} at epoch {best_epoch}; log and checkpoint in {RUN}")
md.viz.plot_history(history, FIGURES / "05_curves.png")
print("saved", FIGURES / "05_curves.png")

# %% [markdown]
# The curves show the usual picture: the training loss (measured on augmented images, while the
# weights change) and the validation loss fall together at first; when the validation loss
# flattens, more epochs would only fit the training set.
#
# ## 5. Back from the checkpoint, and the test set at last
#
# `md.load` returns the dict that was saved: the model's and the optimizer's state dicts and the
# epoch. Loading them into a fresh model and optimizer is how a run resumes after a crash.

# %%
heading("5. Checkpoint and test")
saved = md.load(checkpoint_path)
restored = md.models.cnn(in_channels=1, image_size=8).to(DEVICE)
restored.load_state_dict(saved["model"])
md.optim.Adam(restored.parameters()).load_state_dict(saved["optimizer"])
predicted = md.train.predict(restored, x_test).argmax(axis=1)
print(f"checkpoint of epoch {saved['epoch']}: test accuracy {metrics.accuracy(y_test, predicted):.4f}, "
      f"macro F1 {metrics.f1(y_test, predicted):.4f}")
md.viz.plot_confusion_matrix(metrics.confusion_matrix(y_test, predicted, 10), FIGURES / "05_confusion.png")
md.viz.plot_filters(restored[0].weight, FIGURES / "05_filters.png")
print("saved", FIGURES / "05_confusion.png", "and", FIGURES / "05_filters.png")

# %% [markdown]
# ## 6. Hyperparameter search
#
# Which learning rate, which width? We let `md.tune.random_search` try combinations drawn from
# distributions: the learning rate **log-uniformly** (1e-4 is as far from 1e-3 as 1e-3 from 1e-2,
# so each decade gets the same share of trials), the hidden width uniformly over integers. Each
# trial trains a small MLP with `md.train.fit` and returns its **validation** accuracy: the test
# set stays out of every decision. Trials are seeded, so the search is reproducible; passing
# `executor=ProcessPoolExecutor()` would run them in parallel.

# %%
heading("6. Search")


def mlp_trial(params, seed):
    """Train md.models.mlp with these hyperparameters; return the validation accuracy."""
    md.manual_seed(seed)
    net = md.models.mlp(64, int(params["hidden"])).to(DEVICE)
    adam = md.optim.Adam(net.parameters(), lr=params["lr"])
    loader = DataLoader(TensorDataset(x_train_std, y_train), batch_size=32, shuffle=True, seed=seed)
    md.train.fit(net, md.nn.CrossEntropyLoss(), adam, loader, 3 if FAST else 15, verbose=False)
    return md.train.evaluate(net, md.nn.CrossEntropyLoss(), val_loader, ["accuracy"])["accuracy"]


space = {"lr": md.tune.LogUniform(1e-4, 1e-1), "hidden": md.tune.IntUniform(16, 128)}
results = md.tune.random_search(mlp_trial, space, n_trials=3 if FAST else 12, seed=0)
print(results.to_text())
md.tune.plot_results(results, FIGURES / "05_search.png", log_scale=("lr",))
print("saved", FIGURES / "05_search.png")

# %% [markdown]
# ## 7. An ensemble
#
# Models trained from different starting points make different mistakes. Averaging their
# predicted probabilities (**soft voting**) cancels part of them. We train three MLPs with the
# best hyperparameters of the search and different seeds, and compare each alone with the three
# together on the test set. Read the numbers with care: one test image is 0.28% of 360, so a
# difference of one or two images is noise; the gain of an ensemble shows on larger test sets
# and with members that differ more (other architectures, other data).

# %%
heading("7. Ensemble")
best = results.best["params"]
members = []
for seed in range(3):
    md.manual_seed(seed)
    net = md.models.mlp(64, int(best["hidden"])).to(DEVICE)
    loader = DataLoader(TensorDataset(x_train_std, y_train), batch_size=32, shuffle=True, seed=seed)
    md.train.fit(net, md.nn.CrossEntropyLoss(), md.optim.Adam(net.parameters(), lr=best["lr"]), loader,
                 3 if FAST else 15, verbose=False)
    members.append(net)
alone = [metrics.accuracy(y_test, md.train.predict(net, x_test).argmax(axis=1)) for net in members]
together = metrics.accuracy(y_test, md.ensemble.VotingClassifier(members, voting="soft").predict(x_test))
print("each alone:", ", ".join(f"{a:.4f}" for a in alone), f"| soft vote of the three: {together:.4f}")

# %% [markdown]
# ## Exercises
#
# 1. Train without augmentation (`transform=scaler.transform`). Does early stopping stop sooner?
#    Is the test accuracy lower?
# 2. Set `patience=0`. Why does training now end at the first noisy epoch?
# 3. Add `md.train.LearningRateScheduler(lambda epoch, lr: 1e-3 * 0.9**epoch)` to the callbacks and
#    look at `md.viz.plot_lr(history, ...)`.
# 4. Search over `batch_size` too (`md.tune.Choice([16, 32, 64])`). Which hyperparameter matters most?
# 5. **Checkable:** write `standardize(train, test)` that returns both arrays scaled with the
#    *training set's* mean and standard deviation per feature (population std; a constant feature
#    gets std 1), as section 2 taught. `md.testing.check_exercise` compares it with
#    `md.data.Standardizer` on random data.

# %%
heading("Exercises")


def standardize(train, test):
    raise NotImplementedError("exercise 5: scale train and test with the training statistics")


md.testing.check_exercise("standardize", standardize)

# %% [markdown]
# ## Solution to exercise 5
#
# The statistics come from `train` alone: scaling `test` with its own mean and std would leak
# information about the test set into the model's inputs.

# %%
heading("Solution")


def standardize_solution(train, test):
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (train - mean) / std, (test - mean) / std


assert md.testing.check_exercise("standardize", standardize_solution)
