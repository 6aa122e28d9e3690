"""Keras's callbacks, with its argument names, on top of ``md.train``'s.

``verbose`` is accepted and ignored (``md.train`` records why training stopped in
``history.stop_reason``).  ``ModelCheckpoint`` always writes weights and optimizer state in one
``md.save`` file; ``model.load_weights(filepath)`` reads the weights back from it.  ``Callback`` is ``md.train``'s:
its hooks receive the loop's state (``on_epoch_end(self, state)``, numbers in ``state.logs``),
not Keras's ``(epoch, logs)``.
"""
from minidl import train

Callback = train.Callback


class EarlyStopping(train.EarlyStopping):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs."""

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 restore_best_weights=False):
        super().__init__(monitor, patience, min_delta, mode, restore_best_weights)


class ModelCheckpoint(train.ModelCheckpoint):
    """Save after every epoch, or only when ``monitor`` improves with ``save_best_only=True``.
    ``filepath`` may hold ``{epoch}`` and logged names, e.g. ``"best-{epoch:02d}.npz"``."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto"):
        super().__init__(filepath, monitor, save_best_only, mode)
        self.save_weights_only = save_weights_only
