"""``fit``, ``evaluate`` and ``predict``: the training loop, written once for every model.

One epoch of training is the five lines of tutorial 02, batch after batch:

    outputs = model(inputs)
    loss = loss_fn(outputs, targets)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

``fit`` repeats it for ``epochs``, measures the loss and the metrics on the training and
validation data after each epoch, records them in a ``History`` and gives callbacks (early
stopping, checkpoints, schedules, logging) their turn.  Data is any iterable of batches
``(inputs, targets)``, such as an ``md.data.DataLoader``, iterated once per epoch.

Devices: each batch is moved to the model's device (or ``device=``) once per step; the targets'
host copy, which the loader already has, is kept for the metrics, so no extra copy comes back.
"""
import time

import numpy as np

from minidl.autograd import no_grad
from minidl.tensor import Tensor
from minidl.train.callbacks import LearningRateScheduler
from minidl.train.history import History
from minidl.train.metrics import get_metric
from minidl.train.progress import ProgressBar


class TrainingState:
    """What callbacks see, and change: the model and optimizer, where training is (``epoch`` and
    ``batch`` count from 1, out of ``epochs`` and ``steps`` batches per epoch, None when the data
    has no length), the latest ``logs`` and the ``history``.  ``stop(reason)`` ends training."""

    def __init__(self, model, optimizer, epochs, steps, history):
        self.model, self.optimizer, self.history = model, optimizer, history
        self.epochs, self.steps = epochs, steps
        self.epoch = self.batch = 0
        self.logs = {}
        self.stop_training, self.stop_reason = False, None

    def stop(self, reason):
        """Ask the loop to stop after the current batch (or epoch), saying why."""
        self.stop_training, self.stop_reason = True, reason


class EpochResult:
    """One pass over the data: the mean loss per sample, and the targets and predictions of all
    samples in order (class labels for classification, raw outputs otherwise)."""

    def __init__(self, loss, targets, predictions):
        self.loss, self.targets, self.predictions = loss, targets, predictions

    def logs(self, scorers, prefix=""):
        """``{"loss": ..., "accuracy": ...}`` for ``scorers`` (``(name, metric function)`` pairs),
        with ``prefix`` before every name."""
        logs = {f"{prefix}loss": self.loss}
        for name, metric in scorers:
            logs[f"{prefix}{name}"] = metric(self.targets, self.predictions)
        return logs


def as_predictions(outputs, targets):
    """Class labels (the argmax over dim 1) when ``targets`` are integer labels and ``outputs``
    have one more dimension (logits or probabilities); the outputs unchanged otherwise."""
    if np.issubdtype(targets.dtype, np.integer) and outputs.ndim == targets.ndim + 1:
        return outputs.argmax(axis=1)
    return outputs


def model_device(model):
    """The device of the model's first parameter ("cpu" for a model without parameters)."""
    return next((p.device for p in model.parameters()), "cpu")


def run_epoch(model, loss_fn, batches, optimizer=None, after_batch=None, device="cpu"):
    """Run the model once over ``batches`` on ``device`` and return an ``EpochResult``; with an
    ``optimizer``, take a step after each batch.  ``after_batch(index, loss)`` is called after each
    batch (index from 1) and returns True to stop early."""
    loss_sum, count, targets, predictions = 0.0, 0, [], []
    for index, batch in enumerate(batches, 1):
        inputs, target = _inputs_and_targets(batch)
        host_target = target.numpy() if target.device == "cpu" else None
        inputs, target = inputs.to(device), target.to(device)
        outputs = model(inputs)
        loss = loss_fn(outputs, target)
        if optimizer is not None:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        size, value = len(target), loss.item()
        loss_sum += value * size
        count += size
        targets.append(target.numpy() if host_target is None else host_target)
        predictions.append(as_predictions(outputs.detach().numpy(), targets[-1]))
        if after_batch is not None and after_batch(index, value):
            break
    if count == 0:
        raise ValueError("the data yielded no batches: is the dataset empty, or smaller than a drop_last batch?")
    return EpochResult(loss_sum / count, np.concatenate(targets), np.concatenate(predictions))


def _inputs_and_targets(batch):
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise ValueError(f"each batch must be a pair (inputs, targets), got {type(batch).__name__}")
    return tuple(field if isinstance(field, Tensor) else Tensor(field) for field in batch)


def fit(model, loss_fn, optimizer, train_data, epochs=1, val_data=None, callbacks=(), metrics=(), scheduler=None,
        verbose=True, device=None):
    """Train ``model`` for up to ``epochs`` passes over ``train_data``; returns a ``History``.

    - ``loss_fn(outputs, targets)``: e.g. ``md.nn.CrossEntropyLoss()``.
    - ``train_data`` / ``val_data``: iterables of ``(inputs, targets)`` batches (DataLoaders).
      The validation data is scored after each epoch, in eval mode and without gradients.
    - ``metrics``: names (``"accuracy"``, ``"f1"``, ``"mse"``, ...) or functions
      ``f(y_true, y_pred)``, computed over all samples of the epoch.
    - ``callbacks``: ``Callback`` objects (``EarlyStopping``, ``ModelCheckpoint``, ...).
    - ``scheduler``: an ``md.optim.lr_scheduler`` object, stepped after each epoch (the same as
      passing ``LearningRateScheduler(scheduler)``).
    - ``verbose``: a progress bar per epoch on stderr; ``False`` for silence.
    - ``device``: where the batches go (default: the model's device, see ``model_device``).
    """
    if epochs < 1:
        raise ValueError(f"fit: epochs must be at least 1, got {epochs}")
    scorers = [get_metric(metric) for metric in metrics]
    callbacks = ([ProgressBar()] if verbose else []) + list(callbacks)
    if scheduler is not None:
        callbacks.append(LearningRateScheduler(scheduler))
    device = model_device(model) if device is None else device
    history = History()
    steps = len(train_data) if hasattr(train_data, "__len__") else None
    state = TrainingState(model, optimizer, epochs, steps, history)

    def after_batch(index, loss):
        state.batch, state.logs = index, {"loss": loss}
        _notify(callbacks, "on_batch_end", state)
        return state.stop_training

    _notify(callbacks, "on_train_begin", state)
    for epoch in range(1, epochs + 1):
        state.epoch, state.batch = epoch, 0
        _notify(callbacks, "on_epoch_begin", state)
        lr, start = optimizer.param_groups[0]["lr"], time.perf_counter()
        model.train()
        logs = run_epoch(model, loss_fn, train_data, optimizer, after_batch, device).logs(scorers)
        if val_data is not None:
            logs.update(evaluate(model, loss_fn, val_data, metrics, prefix="val_", device=device))
        state.logs = {**logs, "lr": lr, "time": time.perf_counter() - start}
        history.append(epoch, state.logs)
        _notify(callbacks, "on_epoch_end", state)
        if state.stop_training:
            break
    _notify(callbacks, "on_train_end", state)
    history.stop_reason = state.stop_reason
    return history


def _notify(callbacks, hook, state):
    for callback in callbacks:
        getattr(callback, hook)(state)


def evaluate(model, loss_fn, data, metrics=(), prefix="", device=None):
    """The mean loss and ``metrics`` of ``model`` over ``data`` (batches ``(inputs, targets)``),
    in eval mode (dropout off) and without gradients: ``{"loss": ..., "accuracy": ...}``, each
    name after ``prefix``.  Batches go to ``device`` (default: the model's).  The model's
    train/eval mode is restored afterwards."""
    scorers = [get_metric(metric) for metric in metrics]
    device = model_device(model) if device is None else device
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            return run_epoch(model, loss_fn, data, device=device).logs(scorers, prefix)
    finally:
        model.train(was_training)


def predict(model, data, batch_size=256, device=None):
    """The model's outputs for ``data`` as one NumPy array, in eval mode and without gradients.

    ``data``: an array or Tensor of inputs (cut into batches of ``batch_size``), or an iterable
    of batches (a DataLoader; of a batch that is a tuple, the first field is the input).  Batches
    go to ``device`` (default: the model's).
    """
    device = model_device(model) if device is None else device
    if isinstance(data, (np.ndarray, Tensor)):
        data = [data[start : start + batch_size] for start in range(0, len(data), batch_size)]
    was_training = model.training
    model.eval()
    outputs = []
    try:
        with no_grad():
            for batch in data:
                inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
                inputs = inputs if isinstance(inputs, Tensor) else Tensor(inputs)
                outputs.append(model(inputs.to(device)).numpy())
    finally:
        model.train(was_training)
    return np.concatenate(outputs)
