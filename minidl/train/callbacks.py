"""Callbacks: code that ``fit`` runs at fixed moments of training, to watch it or steer it.

Subclass ``Callback`` and override any of the hooks; each receives the loop's ``TrainingState``
(``state.model``, ``state.optimizer``, ``state.epoch`` from 1, ``state.batch`` from 1,
``state.logs``, ``state.history``).  ``state.logs`` holds ``{"loss": batch loss}`` in
``on_batch_end`` and the epoch's numbers (``loss``, metrics, ``val_...``, ``lr``, ``time``) in
``on_epoch_end``.  To end training, call ``state.stop(reason)``: it sets
``state.stop_training`` and the loop stops after the current batch (in ``on_batch_end``) or
epoch (in ``on_epoch_end``); the reason ends up in ``history.stop_reason``.

The hooks run in this order:

    on_train_begin
        on_epoch_begin  (on_batch_end after every batch)  on_epoch_end       once per epoch
    on_train_end
"""
import csv
import math
import numbers
from pathlib import Path

from minidl.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau
from minidl.serialization import save

MAXIMIZED = ("acc", "precision", "recall", "f1")  # "auto" mode: names that get better as they grow


class Callback:
    """Base class: every hook does nothing until overridden."""

    def on_train_begin(self, state):
        pass

    def on_epoch_begin(self, state):
        pass

    def on_batch_end(self, state):
        pass

    def on_epoch_end(self, state):
        pass

    def on_train_end(self, state):
        pass


class Monitor:
    """Follows one logged quantity and says when it improves.

    ``mode="min"``: improved when value < best - min_delta; ``"max"``: value > best + min_delta;
    ``"auto"``: max for names containing acc, precision, recall or f1, min otherwise (losses).
    A NaN or infinite value never improves.
    """

    def __init__(self, owner, name, mode="auto", min_delta=0.0):
        if mode == "auto":
            mode = "max" if any(word in name for word in MAXIMIZED) else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"{owner}: mode must be 'auto', 'min' or 'max', got {mode!r}")
        if min_delta < 0:
            raise ValueError(f"{owner}: min_delta must be >= 0, got {min_delta}")
        self.owner, self.name, self.mode, self.min_delta = owner, name, mode, min_delta
        self.best = None

    def read(self, logs):
        """The monitored value in ``logs``, or a ValueError naming what is there instead."""
        if self.name not in logs:
            hint = " (validation values need val_data in fit)" if self.name.startswith("val_") else ""
            raise ValueError(
                f"{self.owner}: monitor {self.name!r} is not logged{hint}; available: {', '.join(logs)}"
            )
        return logs[self.name]

    def improves(self, value):
        """True (and ``value`` becomes the best) when ``value`` beats the best so far by min_delta."""
        if not math.isfinite(value):
            return False
        if self.best is not None:
            better = value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta
            if not better:
                return False
        self.best = value
        return True


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved (by more than ``min_delta``) for ``patience``
    epochs in a row (``patience=0``: at the first epoch without improvement), as Keras does:
    more epochs would only fit the training set better, not new data.

    With ``restore_best_weights=True`` the model gets back, at the end of training, the weights
    of its best epoch (a copy is kept at each improvement).  After training, ``best_epoch`` and
    ``stopped_epoch`` (None if it ran to the end) tell what happened.
    """

    def __init__(self, monitor="val_loss", patience=0, min_delta=0.0, mode="auto", restore_best_weights=False):
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self.monitor = Monitor("EarlyStopping", monitor, mode, min_delta)
        self.patience, self.restore_best_weights = patience, restore_best_weights

    def on_train_begin(self, state):
        self.monitor.best = None
        self.wait, self.best_epoch, self.stopped_epoch, self.best_weights = 0, None, None, None

    def on_epoch_end(self, state):
        if self.monitor.improves(self.monitor.read(state.logs)):
            self.wait, self.best_epoch = 0, state.epoch
            if self.restore_best_weights:
                self.best_weights = {name: t.array.copy() for name, t in state.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = state.epoch
            best = f"best {self.monitor.best:.4g} at epoch {self.best_epoch}" if self.best_epoch else "never finite"
            state.stop(f"EarlyStopping: {self.monitor.name} did not improve for {self.wait} epochs ({best})")

    def on_train_end(self, state):
        if self.best_weights is not None:
            state.model.load_state_dict(self.best_weights)


class ModelCheckpoint(Callback):
    """Save ``{"model": state_dict, "optimizer": state_dict, "epoch": n}`` with ``md.save`` (atomic:
    a crash mid-save leaves the previous file intact) at the end of every epoch, or, with
    ``save_best_only=True``, only when ``monitor`` improves.

    ``path`` may contain ``{epoch}`` and logged names (``"ckpt-{epoch:02d}-{val_loss:.3f}.npz"``);
    its folder is created.  ``last_saved`` is the path written last (None before any).

        checkpoint = md.load(path)
        model.load_state_dict(checkpoint["model"]); optimizer.load_state_dict(checkpoint["optimizer"])
    """

    def __init__(self, path, monitor="val_loss", save_best_only=False, mode="auto"):
        self.path = str(path)
        self.monitor = Monitor("ModelCheckpoint", monitor, mode)
        self.save_best_only = save_best_only
        self.last_saved = None

    def on_train_begin(self, state):
        self.monitor.best = None
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)

    def on_epoch_end(self, state):
        if self.save_best_only and not self.monitor.improves(self.monitor.read(state.logs)):
            return
        path = self.path.format(epoch=state.epoch, **state.logs)
        model, optimizer = state.model.state_dict(), state.optimizer.state_dict()
        save({"model": model, "optimizer": optimizer, "epoch": state.epoch}, path)
        self.last_saved = path


class LearningRateScheduler(Callback):
    """Change the learning rate as training goes, with either:

    - a function ``schedule(epoch, lr) -> new lr`` (epoch counted from 0, as in Keras), called
      before each epoch and applied to every param group; or
    - an ``md.optim.lr_scheduler`` object, stepped after each epoch (a ``ReduceLROnPlateau``
      is given the logged ``monitor`` value).
    """

    def __init__(self, schedule, monitor="val_loss"):
        if not (callable(schedule) or isinstance(schedule, LRScheduler)):
            raise TypeError(
                f"LearningRateScheduler: schedule must be a function (epoch, lr) -> lr or an lr_scheduler, "
                f"got {type(schedule).__name__}"
            )
        self.schedule = schedule
        self.monitor = Monitor("LearningRateScheduler", monitor)

    def on_epoch_begin(self, state):
        if isinstance(self.schedule, LRScheduler):
            return
        for group in state.optimizer.param_groups:
            lr = self.schedule(state.epoch - 1, group["lr"])
            if not isinstance(lr, numbers.Real) or not math.isfinite(lr) or lr < 0:
                raise ValueError(f"LearningRateScheduler: the schedule returned {lr!r}; expected a number >= 0")
            group["lr"] = float(lr)

    def on_epoch_end(self, state):
        if isinstance(self.schedule, ReduceLROnPlateau):
            self.schedule.step(self.monitor.read(state.logs))
        elif isinstance(self.schedule, LRScheduler):
            self.schedule.step()


class CSVLogger(Callback):
    """Write one CSV row per epoch to ``path``: ``epoch`` and every logged number (the header
    comes from the first epoch).  The file is flushed after each row, so it can be watched
    during training; ``append=True`` continues an existing file."""

    def __init__(self, path, separator=",", append=False):
        self.path, self.separator, self.append = Path(path), separator, append
        self.file = self.columns = None

    def on_train_begin(self, state):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        has_header = self.append and self.path.is_file() and self.path.stat().st_size > 0
        self.columns = self.path.read_text().splitlines()[0].split(self.separator)[1:] if has_header else None
        self.file = open(self.path, "a" if self.append else "w", newline="")

    def on_epoch_end(self, state):
        if self.columns is None:
            self.columns = list(state.logs)
            csv.writer(self.file, delimiter=self.separator).writerow(["epoch"] + self.columns)
        row = [state.epoch] + [state.logs.get(name, "") for name in self.columns]
        csv.writer(self.file, delimiter=self.separator).writerow(row)
        self.file.flush()

    def on_train_end(self, state):
        self.file.close()


class TerminateOnNaN(Callback):
    """Stop as soon as a batch's loss is NaN or infinite: the weights are then broken and further
    steps only spread the NaN.  The stop reason names the epoch and the batch."""

    def on_batch_end(self, state):
        loss = state.logs["loss"]
        if not math.isfinite(loss):
            state.stop(
                f"TerminateOnNaN: the loss became {loss} at epoch {state.epoch}, batch {state.batch}; "
                "training stopped (a lower learning rate often helps)"
            )
