"""Training curves from a ``History``: loss and metrics per epoch, and the learning rate."""
from minidl.viz.figure import plt, save

UNPLOTTED = ("lr", "time")


def plot_history(history, path, names=None):
    """One panel per quantity (``loss``, then each metric), the training curve and, when it was
    measured, the validation one (``val_<name>``) on the same axes; saved as PNG at ``path``.
    ``names`` chooses the quantities (default: everything logged but lr and time)."""
    logged = history.history
    if names is None:
        names = [name for name in logged if not name.startswith("val_") and name not in UNPLOTTED]
    missing = [name for name in names if name not in logged]
    if not names or missing:
        raise ValueError(f"plot_history: nothing to plot for {missing or names}; logged: {', '.join(logged)}")
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
    for ax, name in zip(axes[0], names):
        ax.plot(history.epoch, logged[name], marker=".", label="training")
        if f"val_{name}" in logged:
            ax.plot(history.epoch, logged[f"val_{name}"], marker=".", label="validation")
        ax.set(title=name, xlabel="epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    return save(fig, path)


def plot_lr(history, path):
    """The learning rate of each epoch (log scale), saved as PNG at ``path``."""
    if "lr" not in history:
        raise ValueError("plot_lr: the history has no 'lr'; it comes from md.train.fit")
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(history.epoch, history["lr"], marker=".")
    ax.set(title="learning rate", xlabel="epoch", ylabel="lr", yscale="log")
    ax.grid(alpha=0.3)
    return save(fig, path)
