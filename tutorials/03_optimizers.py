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
# # 03 · Optimizers: SGD, Momentum, RMSprop and Adam, formula by formula
#
# Backpropagation (tutorial 01) gives the gradient $g = \partial L / \partial w$ of the loss with
# respect to every weight. An **optimizer** decides what to do with it. The simplest rule walks
# downhill, $w \leftarrow w - \eta\, g$, with a learning rate $\eta$. Everything else in this
# tutorial is a refinement of that line:
#
# | optimizer | update (per weight, $t$ = step count from 1) |
# | --- | --- |
# | SGD | $w \leftarrow w - \eta\, g$ |
# | Momentum | $v \leftarrow \mu v + g$ ($v$ starts at $g$), $\quad w \leftarrow w - \eta\, v$ |
# | RMSprop | $s \leftarrow \alpha s + (1-\alpha) g^2$, $\quad w \leftarrow w - \eta\, g / (\sqrt{s} + \epsilon)$ |
# | Adam | $m \leftarrow \beta_1 m + (1-\beta_1) g$, $\; v \leftarrow \beta_2 v + (1-\beta_2) g^2$, $\; \hat m = m/(1-\beta_1^t)$, $\; \hat v = v/(1-\beta_2^t)$, $\; w \leftarrow w - \eta\, \hat m / (\sqrt{\hat v} + \epsilon)$ |
#
# `md.optim` implements each exactly like this (the docstring of each class states its formula), with
# the same defaults and arithmetic as `torch.optim`, so trajectories agree with PyTorch step for step.
#
# We will: check one step of each against the formula; race the four on three 2-D surfaces and
# watch their paths; run SGD on both sides of its stability limit and measure momentum's top
# speed; see what learning-rate schedules do; and find out why multiplying the learning rate by
# 0.1 every epoch stops learning for good. The training loop of tutorial 02 calls
# `optimizer.step()`; this is what happens inside it.
#
# Run it as a script (`python tutorials/03_optimizers.py`, figures saved to `figures/`) or open
# `tutorials/03_optimizers.ipynb` in Jupyter, VS Code or Colab (figures inline). Set
# `MINIDL_DEVICE=cuda` to run the races and the training on a GPU (with CuPy installed).

# %%
import math
import os

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm

import minidl as md
from minidl.optim import lr_scheduler

FAST = os.environ.get("MINIDL_FAST") == "1"  # CI runs the tutorials in a fast mode: fewer steps
STEPS = 60 if FAST else 1000
DEVICE = os.environ.get("MINIDL_DEVICE", "cpu")  # "cuda" runs the tutorial on a GPU (CuPy)
md.set_default_dtype(md.float64)
md.manual_seed(0)


def heading(title):
    """Mark the start of a section in the printed output."""
    print(f"\n=== {title} ===")


def finish_epoch_axes(*axes):
    """Label the x axis "epoch", add a light grid and a legend."""
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9)


# %% [markdown]
# ## 1. Three test surfaces
#
# Each is a function of a point $w = (x, y)$, written with minidl ops so that `backward()` gives
# its gradient:
#
# - **Rosenbrock**, $(1 - x)^2 + 100 (y - x^2)^2$: a long, curved, flat-bottomed valley with the
#   minimum at $(1, 1)$. Finding the valley is easy; following it is hard.
# - **Beale**, $(1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2$: flat plateaus and
#   steep walls, minimum at $(3, 0.5)$.
# - **An ill-conditioned quadratic**, $\tfrac12 (x^2 + 50 y^2)$: 50 times steeper across $y$
#   than along $x$, the minimum at $(0, 0)$. Near any minimum, a loss looks like some quadratic.

# %%
heading("1. Three test surfaces")


def rosenbrock(w):
    x, y = w[0], w[1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def beale(w):
    x, y = w[0], w[1]
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def ill_conditioned(w):
    return 0.5 * (w[0] ** 2 + 50 * w[1] ** 2)


# For each surface: the function, where we start, the minimum, the plotted window, and the learning
# rate of each optimizer: the best of 1e-3, 3e-3, 1e-2, 3e-2, 0.1 that does not diverge (SGD on the
# quadratic gets 0.036, just under its limit of 2/50: see below).
SURFACES = {
    "Rosenbrock": dict(f=rosenbrock, start=(-1.5, 2.0), minimum=(1.0, 1.0), window=((-2, 2), (-1, 3)),
                       lr={"SGD": 1e-3, "Momentum": 1e-3, "RMSprop": 1e-2, "Adam": 0.1}),
    "Beale": dict(f=beale, start=(1.0, 1.4), minimum=(3.0, 0.5), window=((-0.5, 4), (-1, 2)),
                  lr={"SGD": 3e-2, "Momentum": 1e-2, "RMSprop": 1e-2, "Adam": 0.1}),
    "ill-conditioned quadratic": dict(f=ill_conditioned, start=(-4.0, 1.0), minimum=(0.0, 0.0),
                                      window=((-4.5, 1.5), (-1.5, 1.5)),
                                      lr={"SGD": 0.036, "Momentum": 1e-2, "RMSprop": 3e-2, "Adam": 0.1}),
}  # fmt: skip
OPTIMIZERS = {"SGD": md.optim.SGD, "Momentum": md.optim.Momentum, "RMSprop": md.optim.RMSprop, "Adam": md.optim.Adam}
COLORS = {"SGD": "tab:blue", "Momentum": "tab:orange", "RMSprop": "tab:green", "Adam": "tab:red"}

for name, surface in SURFACES.items():
    print(f"{name:26s} f(start) = {surface['f'](md.tensor(surface['start'])).item():9.3f}   "
          f"f(minimum) = {surface['f'](md.tensor(surface['minimum'])).item():.1f}")  # fmt: skip

# %% [markdown]
# ## 2. One step, checked against the formula
#
# An optimizer is built from the parameters it updates, `md.optim.Adam([w], lr=0.1)`. A training
# step is always the same three lines: forget old gradients, backpropagate, update.
#
# Before racing anything, let us make sure that one step of each optimizer is what its formula says,
# by redoing the arithmetic in plain NumPy from the same gradient $g$.

# %%
heading("2. One step, checked against the formula")
start = np.array(SURFACES["Rosenbrock"]["start"])
w = md.tensor(start, requires_grad=True)
rosenbrock(w).backward()
g = w.grad.numpy().copy()
print("gradient at the start:", g)

lr, mu, alpha, eps, (b1, b2) = 1e-3, 0.9, 0.99, 1e-8, (0.9, 0.999)
by_formula = {
    "SGD": start - lr * g,
    "Momentum": start - lr * g,  # v starts at g
    "RMSprop": start - lr * g / (np.sqrt((1 - alpha) * g**2) + eps),  # s = (1 - alpha) g^2 after one step
    "Adam": start - lr * (((1 - b1) * g) / (1 - b1)) / (np.sqrt(((1 - b2) * g**2) / (1 - b2)) + eps),
}
for name, optimizer_class in OPTIMIZERS.items():
    w = md.tensor(start, requires_grad=True)
    optimizer = optimizer_class([w], lr=lr)
    optimizer.zero_grad()
    rosenbrock(w).backward()
    optimizer.step()
    agrees = np.allclose(w.numpy(), by_formula[name], rtol=1e-14)
    print(f"{name:9s} moved by {w.numpy() - start}   formula agrees: {agrees}")

# %% [markdown]
# Look at the sizes. SGD moves by $\eta g$: far along $x$, where the gradient is large. RMSprop
# moves by $10\eta$ in *both* coordinates: after one step $s = 0.01 g^2$, so $g / \sqrt{s} = \pm 10$.
# Adam moves by $\eta$ in both: with one gradient seen, the bias corrections make $\hat m = g$ and
# $\hat v = g^2$, so the step is $\eta\, g / |g| = \pm\eta$. The adaptive methods care about the
# *sign* and the *consistency* of the gradient, much less about its size.
#
# ## 3. The race
#
# `descend` runs an optimizer from the start and records the path and the loss.

# %%
heading("3. The race")


def descend(surface, name, steps=STEPS, lr=None, **options):
    """Minimize the surface with optimizer ``name`` at its tuned learning rate (or ``lr``, and
    further ``options`` such as ``momentum``); return the path (steps + 1 points) and the loss
    before each step."""
    w = md.tensor(surface["start"], requires_grad=True, device=DEVICE)
    optimizer = OPTIMIZERS[name]([w], lr=lr or surface["lr"][name], **options)
    path, losses = [w.numpy().copy()], []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = surface["f"](w)
        loss.backward()
        optimizer.step()
        path.append(w.numpy().copy())
        losses.append(loss.item())
    return np.array(path), np.array(losses)


runs = {(surface, name): descend(SURFACES[surface], name) for surface in SURFACES for name in OPTIMIZERS}
for (surface, name), (path, losses) in runs.items():
    print(f"{surface:26s} {name:9s} after {STEPS} steps: w = {np.round(path[-1], 4)}, loss = {losses[-1]:.2e}")


# %%
def contour(ax, surface, resolution=30 if FAST else 300):
    """The surface over its window as filled contours, log-spaced, and its minimum as a star."""
    (x0, x1), (y0, y1) = surface["window"]
    x, y = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    with md.no_grad():
        z = surface["f"](md.tensor(np.stack([x, y]))).numpy()  # the ops broadcast over the grid
    levels = np.logspace(-2, math.log10(z.max()), 20)
    ax.contourf(x, y, z, levels=levels, norm=LogNorm(), cmap="Blues_r", alpha=0.45)
    ax.contour(x, y, z, levels=levels, colors="gray", linewidths=0.4)
    ax.plot(*surface["minimum"], "k*", markersize=12)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)


fig, axes = plt.subplots(len(SURFACES), len(OPTIMIZERS), figsize=(16, 11))
for row, (surface_name, surface) in zip(axes, SURFACES.items()):
    for ax, name in zip(row, OPTIMIZERS):
        contour(ax, surface)
        path, losses = runs[surface_name, name]
        ax.plot(path[:, 0], path[:, 1], ".-", color=COLORS[name], markersize=3, linewidth=1)
        ax.plot(*surface["start"], "ko", markersize=6)
        ax.set_title(f"{surface_name}: {name}, lr={surface['lr'][name]:g}\nloss after {STEPS} steps: {losses[-1]:.1e}",
                     fontsize=10)  # fmt: skip
md.viz.show(fig, "03_trajectories.png")

fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
for ax, surface_name in zip(axes, SURFACES):
    for name in OPTIMIZERS:
        ax.semilogy(runs[surface_name, name][1], color=COLORS[name], label=name)
    ax.set_title(surface_name)
    ax.set_ylim(1e-20, 1e3)  # further down, only rounding is left to watch
    ax.set_xlabel("step")
    ax.set_ylabel("loss (0 at the minimum)")
    ax.grid(alpha=0.3)
    ax.legend()
md.viz.show(fig, "03_loss_curves.png")

# %% [markdown]
# What the pictures show:
#
# - **SGD** is limited by the steepest direction. On the quadratic, a step larger than $2/50$ would
#   make $y$ overshoot more and more; at 0.036 it zig-zags across the narrow direction while creeping
#   along $x$, where the slope is 50 times gentler. On Rosenbrock the same happens across the valley.
# - **Momentum** averages the gradients: the zig-zags cancel out and the steady component along the
#   valley builds up speed, up to $\eta g / (1 - \mu)$, ten times faster with $\mu = 0.9$. It overshoots
#   and oscillates around the minimum before settling.
# - **RMSprop** and **Adam** divide each coordinate by its own running gradient size, so both
#   directions of the quadratic look alike to them: a cure for ill-conditioning *along the axes*.
#   Adam adds momentum on top. Their steps are about $\eta$ per coordinate whatever the gradient:
#   that is why they cross Beale's plateaus quickly, and also why they keep jittering near the minimum
#   unless the learning rate comes down. Which brings us to schedules.
# - RMSprop's **spikes**: once a gradient is smaller than $\epsilon = 10^{-8}$, the denominator
#   $\sqrt{s} + \epsilon$ is about $\epsilon$ and the step becomes $(\eta / \epsilon)\, g$, a learning rate
#   of millions: the loss jumps back up until $s$ has caught up. Near an exact minimum, $\epsilon$ is
#   not a detail. (Adam's $\hat v$ forgets slowly, over about $1/(1-\beta_2) = 1000$ steps against
#   RMSprop's 100, so within these 1000 steps its denominator still remembers the large early gradients.)
#
# ### SGD's stability limit, run
#
# On a quadratic $f(w) = \tfrac{L}{2} w^2$ with curvature $L$ the gradient is $L w$, so one SGD
# step gives
#
# $$w \leftarrow w - \eta L w = (1 - \eta L)\, w .$$
#
# Every step multiplies the distance to the minimum by $|1 - \eta L|$: it shrinks for
# $0 < \eta < 2/L$ and grows for $\eta > 2/L$, flipping sign at every step once $\eta > 1/L$.
# The ill-conditioned quadratic is two such quadratics side by side, with curvatures 1 (along $x$)
# and 50 (along $y$); the steeper one sets the limit for both, $\eta < 2/50 = 0.04$. We run
# `md.optim.SGD` from the race's start at 0.9 times that limit, exactly at it, and at 1.1 times it.

# %%
heading("3b. SGD's stability limit")
CURVATURE = 50  # the largest curvature of the ill-conditioned quadratic: along y
LIMIT = 2 / CURVATURE
LIMIT_STEPS = 30
quadratic = SURFACES["ill-conditioned quadratic"]
limit_paths = {factor: descend(quadratic, "SGD", LIMIT_STEPS, lr=factor * LIMIT)[0] for factor in (0.9, 1.0, 1.1)}
distances = {factor: np.linalg.norm(path, axis=1) for factor, path in limit_paths.items()}
for factor, path in limit_paths.items():
    print(f"lr = {factor:.1f} x 2/L = {factor * LIMIT:.3f}: y is multiplied by {path[1, 1] / path[0, 1]:+.2f} "
          f"per step (1 - lr L = {1 - factor * LIMIT * CURVATURE:+.2f}); after {LIMIT_STEPS} steps w = ({path[-1, 0]:.3f}, {path[-1, 1]:.3g})")  # fmt: skip
below, above = (distances[factor][-1] / distances[factor][0] for factor in (0.9, 1.1))
print(f"distance to the minimum x {below:.3g} at 0.9x the stability limit, x {above:.3g} at 1.1x")

fig, (y_ax, distance_ax) = plt.subplots(1, 2, figsize=(12, 4))
for factor, path in limit_paths.items():
    label = f"lr = {factor:.1f} x 2/L"
    y_ax.plot(path[:16, 1], ".-", label=label)
    distance_ax.semilogy(distances[factor], label=label)
y_ax.set_ylabel("y, the steep coordinate")
y_ax.set_title("the first 15 steps: y flips sign at every step")
distance_ax.set_ylabel("distance to the minimum")
distance_ax.set_title(f"{LIMIT_STEPS} steps")
for ax in (y_ax, distance_ax):
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
    ax.legend()
md.viz.show(fig, "03_stability_limit.png")

# %% [markdown]
# Just below the limit, $y$ shrinks by $0.8$ per step and the distance falls (slowly: $x$, along the
# gentle direction, only shrinks by $1 - 0.036 = 0.964$ per step). Exactly at the limit $y$ bounces
# between $+1$ and $-1$ forever. Just above it, $y$ grows by $1.2$ per step and the run diverges.
# A loss that explodes after a few steps usually means this: the learning rate is above
# $2/L$ for the steepest direction of the loss.
#
# ### Momentum's terminal velocity, run
#
# On a constant slope, $f(w) = g\,w$, the gradient is $g$ at every step, and the velocity of
# `SGD(momentum=mu)` sums a geometric series: $v_t = g\,(1 + \mu + \dots + \mu^{t-1}) \to g / (1 - \mu)$.
# Each step then moves $w$ by $\eta\, g / (1 - \mu)$: with $\mu = 0.9$, ten times as far as plain
# SGD. We let `md.optim.SGD` run down the slope $g = 3$ with $\eta = 0.01$ for 100 steps.

# %%
heading("3c. Momentum's terminal velocity")
SLOPE = 3.0
slope_surface = dict(f=lambda w: SLOPE * w[0], start=(0.0,))
speeds = {}
for mu in (0.0, 0.5, 0.9):
    path, _ = descend(slope_surface, "SGD", 100, lr=0.01, momentum=mu)
    speeds[mu] = -np.diff(path[:, 0])  # how far each step moved w downhill
measured, predicted = speeds[0.9][-1], 0.01 * SLOPE / (1 - 0.9)
print(f"terminal velocity: measured {measured:.6g}, predicted {predicted:.6g}")

fig, ax = plt.subplots(figsize=(7, 4))
for mu, speed in speeds.items():
    line = ax.plot(speed, label=f"momentum = {mu}")[0]
    ax.axhline(0.01 * SLOPE / (1 - mu), color=line.get_color(), linestyle="--", linewidth=0.8)
ax.set_xlabel("step")
ax.set_ylabel("distance moved per step")
ax.set_title("SGD down a constant slope; dashed: lr g / (1 - momentum)")
ax.grid(alpha=0.3)
ax.legend()
md.viz.show(fig, "03_terminal_velocity.png")

# %% [markdown]
# The speed approaches $\eta g / (1 - \mu)$ like $1 - \mu^t$: within 1% after
# $\log 0.01 / \log 0.9 \approx 44$ steps at $\mu = 0.9$. On the quadratic's gentle $x$
# direction, where the gradient hardly changes from step to step, this is the speed-up the race
# showed.
#
# ## 4. Learning-rate schedules
#
# A scheduler changes `optimizer.param_groups[i]["lr"]` over time. Call `scheduler.step()` once per
# epoch, *after* `optimizer.step()`. Here is what the common ones do to a base learning rate of 0.1.

# %%
heading("4. Learning-rate schedules")
EPOCHS = 100


def lr_curve(make_scheduler, epochs=EPOCHS):
    """The learning rate of each epoch under a scheduler, starting from 0.1."""
    w = md.zeros(1, requires_grad=True)
    optimizer = md.optim.SGD([w], lr=0.1)
    scheduler = make_scheduler(optimizer)
    lrs = []
    for _ in range(epochs):
        lrs.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    return lrs


SCHEDULES = {
    "StepLR(step_size=30, gamma=0.1)": lambda o: lr_scheduler.StepLR(o, step_size=30, gamma=0.1),
    "MultiStepLR([50, 75], gamma=0.1)": lambda o: lr_scheduler.MultiStepLR(o, milestones=[50, 75], gamma=0.1),
    "ExponentialLR(gamma=0.97)": lambda o: lr_scheduler.ExponentialLR(o, gamma=0.97),
    "CosineAnnealingLR(T_max=100)": lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=100),
    "LinearLR warm-up (10) + cosine": lambda o: lr_scheduler.ChainedScheduler(
        [lr_scheduler.LinearLR(o, start_factor=0.05, total_iters=10), lr_scheduler.CosineAnnealingLR(o, T_max=100)]
    ),
    "LambdaLR(1 / sqrt(1 + e))": lambda o: lr_scheduler.LambdaLR(o, lambda e: 1 / math.sqrt(1 + e)),
}
fig, (linear_ax, log_ax) = plt.subplots(1, 2, figsize=(14, 4.5))
for label, make_scheduler in SCHEDULES.items():
    lrs = lr_curve(make_scheduler)
    linear_ax.plot(lrs, label=label)
    log_ax.semilogy(lrs, label=label)
linear_ax.set_ylabel("learning rate (linear scale)")
log_ax.set_ylabel("learning rate (log scale)")
finish_epoch_axes(linear_ax, log_ax)
md.viz.show(fig, "03_lr_schedules.png")

# %% [markdown]
# Schedules matter most when the gradient is **noisy**: with minibatches, each gradient is the true
# one plus noise, and a constant learning rate keeps the weights bouncing around the minimum in a
# cloud whose size is proportional to $\eta$. Lowering $\eta$ later shrinks the cloud. Let us see it
# on a linear regression, $y = X w^* + \text{noise}$, trained by minibatch SGD with momentum.
#
# `ReduceLROnPlateau` is different from the others: it watches a metric, `scheduler.step(loss)`, and
# divides the learning rate by 10 when the loss has not improved for `patience` epochs.

# %%
heading("4b. Schedules on a noisy problem")
rng = np.random.default_rng(0)
X = rng.standard_normal((512, 20))
w_true = rng.standard_normal(20)
Y = X @ w_true + 0.5 * rng.standard_normal(512)
BEST_LOSS = float(np.mean((X @ np.linalg.lstsq(X, Y, rcond=None)[0] - Y) ** 2))  # what least squares reaches


def train_regression(make_scheduler, epochs, dtype="float64", lr=0.05, batch_size=32, seed=1):
    """Minibatch SGD with momentum on the regression; per epoch: (full-data loss, learning rate,
    whether any weight changed at all)."""
    order = np.random.default_rng(seed)
    x, y = md.tensor(X, dtype=dtype, device=DEVICE), md.tensor(Y, dtype=dtype, device=DEVICE)
    w = md.zeros(20, dtype=dtype, requires_grad=True, device=DEVICE)
    optimizer = md.optim.SGD([w], lr=lr, momentum=0.9)
    scheduler = make_scheduler(optimizer)
    history = []
    for _ in range(epochs):
        before = w.numpy().copy()
        for batch in np.array_split(order.permutation(len(X)), len(X) // batch_size):
            optimizer.zero_grad()
            ((x[batch] @ w - y[batch]) ** 2).mean().backward()
            optimizer.step()
        with md.no_grad():
            loss = ((x @ w - y) ** 2).mean().item()
        history.append((loss, optimizer.param_groups[0]["lr"], not np.array_equal(before, w.numpy())))
        if isinstance(scheduler, lr_scheduler.ReduceLROnPlateau):
            scheduler.step(loss)
        elif scheduler is not None:
            scheduler.step()
    return history


NOISY_EPOCHS = 8 if FAST else 60
noisy_runs = {
    "constant lr": lambda o: None,
    f"StepLR(step_size={NOISY_EPOCHS // 3}, gamma=0.1)": lambda o: lr_scheduler.StepLR(o, NOISY_EPOCHS // 3, gamma=0.1),
    f"CosineAnnealingLR(T_max={NOISY_EPOCHS})": lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=NOISY_EPOCHS),
    "ReduceLROnPlateau(patience=3)": lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=3),
}
fig, (loss_ax, lr_ax) = plt.subplots(1, 2, figsize=(14, 4.5))
for label, make_scheduler in noisy_runs.items():
    history = train_regression(make_scheduler, NOISY_EPOCHS)
    losses, lrs, _ = zip(*history)
    loss_ax.semilogy(np.array(losses) - BEST_LOSS, label=label)
    lr_ax.semilogy(lrs, label=label)
    print(f"{label:48s} final loss - best possible = {losses[-1] - BEST_LOSS:.2e}")
loss_ax.set_ylabel("loss - least-squares loss")
lr_ax.set_ylabel("learning rate")
finish_epoch_axes(loss_ax, lr_ax)
md.viz.show(fig, "03_schedules_on_noisy_gradients.png")

# %% [markdown]
# With a constant learning rate the loss stops improving at the level set by the noise; every
# schedule that lowers the learning rate gets closer to the best possible fit.
#
# ## 5. Why `lr *= 0.1` every epoch for 100 epochs stops learning
#
# A classic bug: one reads "divide the learning rate by 10" and writes it *every epoch*, e.g.
# `ExponentialLR(optimizer, gamma=0.1)` (or `StepLR(step_size=1, gamma=0.1)`, or `lr *= 0.1` in the
# epoch loop), where `StepLR(step_size=30, gamma=0.1)` was meant. After $k$ epochs the learning rate
# is $\eta_0 \cdot 10^{-k}$: by epoch 100, $10^{-101}$.
#
# Worse, *learning stops after a few epochs*, for two reasons:
#
# 1. **The total distance is bounded.** With gradients of size at most $G$, the weights can move at
#    most $\sum_k \eta_0 10^{-k} G = 1.11\, \eta_0 G$ over *all* remaining epochs, a geometric series.
#    Wherever the weights are after 2 or 3 epochs, they will essentially stay.
# 2. **Rounding makes it exact.** In float32 (the default for training), $w + \Delta$ is exactly
#    $w$ once $|\Delta|$ is below half the spacing of floats near $w$, about $6 \cdot 10^{-8} |w|$.
#    From then on the weights do not change by a single bit.
#
# Let us train the regression in float32 for 100 epochs with the buggy schedule and with the
# intended one, and count the epochs in which any weight changed at all.

# %%
heading("5. lr *= 0.1 every epoch")
decays = {
    "lr *= 0.1 every epoch: ExponentialLR(gamma=0.1)": lambda o: lr_scheduler.ExponentialLR(o, gamma=0.1),
    "constant lr": lambda o: None,
    "intended: StepLR(step_size=30, gamma=0.1)": lambda o: lr_scheduler.StepLR(o, step_size=30, gamma=0.1),
}
fig, (loss_ax, lr_ax) = plt.subplots(1, 2, figsize=(14, 4.5))
for label, make_scheduler in decays.items():
    history = train_regression(make_scheduler, EPOCHS, dtype="float32", lr=0.01, batch_size=512 if FAST else 128)
    losses, lrs, changed = zip(*history)
    last_change = max(i for i, c in enumerate(changed) if c)
    print(f"{label:50s} final loss {losses[-1]:.4f}; the weights changed in {sum(changed)} of {EPOCHS} "
          f"epochs, the last time in epoch {last_change}")  # fmt: skip
    style = "--" if label.startswith("intended") else "-"  # it lies on top of the constant lr's loss
    loss_ax.semilogy(losses, style, label=label)
    lr_ax.semilogy(lrs, style, label=label)
    if "every epoch" in label:
        loss_ax.axvline(last_change, color="gray", linestyle=":", label="float32 weights stop changing")
lr_ax.axhline(np.finfo(np.float32).tiny, color="gray", linestyle=":", label="smallest normal float32")
loss_ax.axhline(BEST_LOSS, color="black", linewidth=0.8, label="least-squares loss")
loss_ax.set_ylabel("training loss (float32)")
lr_ax.set_ylabel("learning rate")
finish_epoch_axes(loss_ax, lr_ax)
md.viz.show(fig, "03_lr_decay_stops_learning.png")

# %% [markdown]
# The buggy run freezes within a few epochs, far above the loss it could reach, and its weights stop
# changing altogether within ten: the remaining ninety epochs compute gradients for nothing.
# By the bound, all the epochs after the first can together move the weights at most $0.11$ times
# as far as the first one could. If a loss curve goes flat early *and* the learning rate in your log
# says `1e-12`, this is why. (The learning rate itself is a Python float, so it does not underflow
# before $10^{-308}$; in float32 it would become 0 after about 45 epochs.)
#
# ## 6. Regularization and clipping, with any optimizer
#
# **Weight decay** is L2 regularization: `weight_decay=lam` adds $\lambda w$ to the gradient, which
# is the gradient of the penalty $\tfrac{\lambda}{2}\sum w^2$. `md.optim.l2_penalty(params, lam)`
# is that penalty as a loss term, so these two take the same steps:

# %%
heading("6. Regularization and clipping")
for use_penalty in (False, True):
    w = md.tensor(SURFACES["Beale"]["start"], requires_grad=True, device=DEVICE)
    optimizer = md.optim.SGD([w], lr=0.01, weight_decay=0 if use_penalty else 0.1)
    for _ in range(STEPS // 10):
        optimizer.zero_grad()
        loss = beale(w) + (md.optim.l2_penalty([w], 0.1) if use_penalty else 0)
        loss.backward()
        optimizer.step()
    print("penalty in the loss " if use_penalty else "weight_decay=0.1    ", w.numpy())

# %% [markdown]
# With Adam the two are not the same: the decay term goes through $\hat v$ and gets divided by
# the gradient size. `md.optim.AdamW` *decouples* it, $w \leftarrow w - \eta\lambda w$ outside the
# adaptive step, which is usually what one wants. `md.optim.l1_penalty` (gradient $\lambda\,
# \text{sign}(w)$) pushes weights to exactly zero.
#
# **Gradient clipping** guards against rare huge gradients. `md.nn.utils.clip_grad_norm_(params,
# max_norm)`, called between `backward()` and `step()`, rescales all gradients together when their
# total norm exceeds `max_norm`, keeping their direction. SGD with lr = 0.01 blows up on Rosenbrock
# from our start; clipped, it survives:

# %%
for clip in (None, 10.0):
    w = md.tensor(SURFACES["Rosenbrock"]["start"], requires_grad=True, device=DEVICE)
    optimizer = md.optim.SGD([w], lr=0.01)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(STEPS // 5):
            optimizer.zero_grad()
            rosenbrock(w).backward()
            if clip is not None:
                md.nn.utils.clip_grad_norm_([w], max_norm=clip)
            optimizer.step()
    print(f"clip_grad_norm_ max_norm={clip}: w = {w.numpy()}")

# %% [markdown]
# ## 7. Exercises
#
# Each exercise ends with a check cell; it says "not done yet" until you fill in the code. Worked
# solutions are in `tutorials/solutions/03_optimizers.py`; try first!
#
# **Exercise 1, predict.** Adam with lr = 0.1 starts at $(-1.5, 2)$ on Rosenbrock, where the
# gradient is $(-155, -50)$. Where is it after one step? (Section 2 has the key.)

# %%
heading("7. Exercises")
prediction = None  # exercise 1: replace None by your (x, y)


def check_prediction(prediction):
    if prediction is None:
        print("exercise 1: not done yet")
        return
    w = md.tensor([-1.5, 2.0], requires_grad=True)
    optimizer = md.optim.Adam([w], lr=0.1)
    rosenbrock(w).backward()
    optimizer.step()
    assert np.allclose(prediction, w.numpy(), atol=1e-6), f"you predicted {prediction}, Adam went to {w.numpy()}"
    print("exercise 1: correct!")


check_prediction(prediction)


# %% [markdown]
# **Exercise 2, write an optimizer.** *Signum* (sign-SGD with momentum) keeps a running mean of
# the gradient and steps by its sign: $m \leftarrow \beta m + (1 - \beta) g$ ($m$ starts at 0),
# $w \leftarrow w - \eta\, \text{sign}(m)$. Subclass `md.optim.Optimizer` and write `update(w, g,
# state, group)`: change the array `w` in place; `state` is a dict kept for this parameter between
# steps. Look at `minidl/optim/adam.py` for a model.

# %%
class Signum(md.optim.Optimizer):
    """m <- beta * m + (1 - beta) * g,  w <- w - lr * sign(m)."""

    def __init__(self, params, lr=1e-3, beta=0.9):
        super().__init__(params, dict(lr=lr, beta=beta))

    def update(self, w, g, state, group):
        raise NotImplementedError("exercise 2")


def check_signum(signum_class):
    """Compare 20 steps on Beale (on DEVICE) with the formula computed in NumPy."""
    w = md.tensor([1.0, 1.4], requires_grad=True, device=DEVICE)
    expected, m = w.numpy().copy(), np.zeros(2)
    try:
        optimizer = signum_class([w], lr=0.01, beta=0.8)
        for _ in range(20):
            optimizer.zero_grad()
            beale(w).backward()
            m = 0.8 * m + 0.2 * w.grad.numpy()
            expected -= 0.01 * np.sign(m)
            optimizer.step()
    except NotImplementedError:
        print("exercise 2: not done yet")
        return
    assert np.allclose(w.numpy(), expected), f"after 20 steps: {w.numpy()}, expected {expected}"
    print("exercise 2: correct!")


check_signum(Signum)

# %% [markdown]
# **Exercise 3, fix the schedule.** Find the `gamma` of an `ExponentialLR` that divides the learning
# rate by 10 in total over 100 epochs (instead of every epoch).

# %%
gamma = None  # exercise 3


def check_gamma(gamma):
    if gamma is None:
        print("exercise 3: not done yet")
        return
    lrs = lr_curve(lambda o: lr_scheduler.ExponentialLR(o, gamma=gamma), epochs=101)
    assert math.isclose(lrs[100], 0.01, rel_tol=1e-9), f"after 100 epochs the lr is {lrs[100]}, not 0.1 / 10"
    print("exercise 3: correct!")


check_gamma(gamma)

# %% [markdown]
# **Exercise 4, Adam by hand.** Write one Adam step on NumPy arrays, as a function that returns
# the new `w`, `m` and `v` (t counts the steps from 1; see the docstring of `md.optim.Adam` or
# `docs/optimizer_formulas.md`). `md.testing.check_exercise("adam_step", adam_step)` feeds it a
# few random gradients and compares every step with `md.optim.Adam`.

# %%
def adam_step(w, g, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8):
    """One Adam update; returns (w, m, v)."""
    raise NotImplementedError("exercise 4")


md.testing.check_exercise("adam_step", adam_step)

# %% [markdown]
# Which exercises of the course have you passed so far? (`check_exercise` remembers every pass.)

# %%
md.testing.progress()
