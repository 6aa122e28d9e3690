"""``md.train``: the training loop (``fit``, ``evaluate``, ``predict``), its ``History``,
callbacks, a progress bar and metrics.

    history = md.train.fit(model, md.nn.CrossEntropyLoss(), optimizer, train_loader, epochs=20,
                           val_data=val_loader, metrics=["accuracy"],
                           callbacks=[md.train.EarlyStopping(patience=3, restore_best_weights=True)])
"""
from minidl.train import metrics
from minidl.train.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LearningRateScheduler,
    ModelCheckpoint,
    TerminateOnNaN,
)
from minidl.train.history import History
from minidl.train.loop import TrainingState, evaluate, fit, predict
from minidl.train.progress import ProgressBar
