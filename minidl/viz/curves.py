"""Training curves from a ``History``: loss and metrics per epoch, and the learning rate."""
from matplotlib.ticker import MaxNLocator

from minidl.viz.figure import save, subplots

UNPLOTTED = ("lr", "time")


def plot_history(history, path=None, names=None, best_epoch=None):
    """Save ``history_figure(history, names, best_epoch)`` as a PNG at ``path`` and return the Path
    (with ``path=None``: return the Figure)."""
    return save(history_figure(history, names, best_epoch), path)


def history_figure(history, names=None, best_epoch=None):
    """A matplotlib Figure: one panel per quantity (``loss``, then each metric), the training curve
    and, when it was measured, the validation one (``val_<name>``) on the same axes, one marked
    point per epoch on whole-number epoch ticks (so a single epoch shows as points, not an empty
    axis).  ``names`` chooses the quantities (default: everything logged but lr and time).

    ``best_epoch``: the epoch whose weights the model ended with, ``EarlyStopping.best_epoch``
    when it ran with ``restore_best_weights=True``; marked on every panel by a dashed vertical
    line and a ring around its values."""
    logged = history.history
    if names is None:
        names = [name for name in logged if not name.startswith("val_") and name not in UNPLOTTED]
    missing = [name for name in names if name not in logged]
    if not names or missing:
        raise ValueError(f"history_figure: nothing to plot for {missing or names}; logged: {', '.join(logged)}")
    if best_epoch is not None and best_epoch not in history.epoch:
        raise ValueError(f"history_figure: best_epoch {best_epoch} is not among the epochs {history.epoch}")
    fig, axes = subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
    for ax, name in zip(axes[0], names):
        curves = [(name, "training")] + ([(f"val_{name}", "validation")] if f"val_{name}" in logged else [])
        for key, label in curves:
            ax.plot(history.epoch, logged[key], marker="o", markersize=4, label=label)
        if best_epoch is not None:
            _mark_epoch(ax, best_epoch, [logged[key][history.epoch.index(best_epoch)] for key, _ in curves])
        ax.set(title=name, xlabel="epoch")
        ax.set_xlim(history.epoch[0] - 0.5, history.epoch[-1] + 0.5)  # room around one epoch too
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.grid(alpha=0.3)
        ax.legend()
    return fig


def _mark_epoch(ax, epoch, values):
    """A dashed vertical line at ``epoch`` and rings around its ``values``, labelled for the legend."""
    ax.axvline(epoch, color="0.4", linestyle="--", linewidth=1, label=f"restored best epoch {epoch}")
    ax.plot([epoch] * len(values), values, linestyle="none", marker="o", markersize=10,
            markerfacecolor="none", markeredgecolor="0.2")


def plot_lr(history, path=None):
    """The learning rate of each epoch (log scale), saved as PNG at ``path`` (or returned as a
    Figure when ``path`` is None)."""
    if "lr" not in history:
        raise ValueError("plot_lr: the history has no 'lr'; it comes from md.train.fit")
    fig, ax = subplots(figsize=(5, 3.5))
    ax.plot(history.epoch, history["lr"], marker=".")
    ax.set(title="learning rate", xlabel="epoch", ylabel="lr", yscale="log")
    ax.grid(alpha=0.3)
    return save(fig, path)
