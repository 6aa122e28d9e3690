"""The job behind ``python -m minidl train``: load a dataset, train a model on it with early
stopping, then report the test accuracy and the confusion matrix and save the curves.

The steps, each one line of ``train_and_report``: split the data (train / validation / test),
standardize with statistics of the training set, build the model and the optimizer, ``fit``
with ``EarlyStopping`` on the validation loss (best weights restored), ``ModelCheckpoint``
(best only) and ``TerminateOnNaN``, then score the test set.
"""
from pathlib import Path

import numpy as np

import minidl as md
from minidl import backend, models
from minidl.data import DataLoader, Standardizer, TensorDataset, load_digits, load_mnist, train_test_split
from minidl.train.callbacks import EarlyStopping, ModelCheckpoint, TerminateOnNaN
from minidl.train.loop import fit, predict
from minidl.train.metrics import accuracy, confusion_matrix

SPLIT_SEED = 0  # the data splits stay the same whatever --seed says
DATASET_DEFAULTS = {  # epochs and batch size when the command line does not say
    "digits": {"epochs": 30, "batch_size": 32},
    "mnist": {"epochs": 1, "batch_size": 64},
}
OPTIMIZERS = {  # --optimizer -> (md.optim class, default learning rate)
    "adam": ("Adam", 1e-3),
    "sgd": ("SGD", 0.1),
    "momentum": ("Momentum", 0.01),
    "rmsprop": ("RMSprop", 1e-3),
}
VALIDATION_SHARE = {"digits": 0.1, "mnist": 5000}  # of the training set: a fraction or a count


class TrainingFailed(RuntimeError):
    """Training could not go on (the loss became NaN); the message says where and why."""


def load_splits(dataset, data_dir=None):
    """``(train, val, test)``, each a pair ``(x, y)`` of NumPy arrays, images NCHW in [0, 1].

    digits: a stratified 80/20 train/test split of the 1797 images, then 10% of the training
    part for validation.  mnist: the official 60000/10000 split, 5000 training images for
    validation.  Raises ``md.data.DataError`` for missing or malformed files.
    """
    if dataset == "digits":
        x, y = load_digits(as_images=True)
        x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, stratify=y, seed=SPLIT_SEED)
    else:
        (x_train, y_train), (x_test, y_test) = load_mnist(data_dir, "train"), load_mnist(data_dir, "test")
    x_train, x_val, y_train, y_val = train_test_split(
        x_train, y_train, test_size=VALIDATION_SHARE[dataset], stratify=y_train, seed=SPLIT_SEED
    )
    return (x_train, y_train), (x_val, y_val), (x_test, y_test)


def build_model(name, image_shape, num_classes=10):
    """``models.cnn`` scaled to the images, or ``models.mlp`` on their flattened pixels."""
    channels, size = image_shape[0], image_shape[1]
    if name == "cnn":
        return models.cnn(channels, size, num_classes)
    return models.mlp(int(np.prod(image_shape)), 128, num_classes)


def format_confusion(matrix):
    """The confusion matrix as text: one row per true class, one column per predicted class."""
    width = max(4, len(str(matrix.max())) + 1)
    header = "true\\pred" + "".join(f"{j:>{width}}" for j in range(len(matrix)))
    rows = [f"{i:>9}" + "".join(f"{count:>{width}}" for count in row) for i, row in enumerate(matrix)]
    return "\n".join([header] + rows)


def train_and_report(dataset="digits", data_dir=None, model="cnn", optimizer="adam", lr=None, batch_size=None,
                     epochs=None, patience=3, seed=0, out="minidl-train", verbose=True, log=print, device="cpu"):
    """Train and report as described in the module docstring; writes ``curves.png``,
    ``confusion.png`` and the best checkpoint ``best.npz`` into ``out``.  Returns a dict with
    ``test_accuracy``, ``confusion`` and ``history``.  Raises ``TrainingFailed`` when the loss
    becomes NaN.  ``device``: where the model trains ("cpu" or "cuda"); the batches follow it."""
    from minidl import viz  # matplotlib: loaded only when a job runs

    device = backend.check_device(device)  # an unusable GPU is reported before any work
    epochs = epochs or DATASET_DEFAULTS[dataset]["epochs"]
    batch_size = batch_size or DATASET_DEFAULTS[dataset]["batch_size"]
    optimizer_class, default_lr = OPTIMIZERS[optimizer]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    (x_train, y_train), (x_val, y_val), (x_test, y_test) = load_splits(dataset, data_dir)
    scaler = Standardizer(axis=(0, 2, 3)).fit(x_train)  # one mean and std per channel, of the training set
    x_train, x_val, x_test = scaler.transform(x_train), scaler.transform(x_val), scaler.transform(x_test)
    log(f"{dataset}: {len(x_train)} training, {len(x_val)} validation, {len(x_test)} test images {x_train.shape[1:]}")

    md.manual_seed(seed)
    net = build_model(model, x_train.shape[1:]).to(device)
    opt = getattr(md.optim, optimizer_class)(net.parameters(), lr=lr or default_lr)
    train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size, shuffle=True, seed=seed)
    val_loader = DataLoader(TensorDataset(x_val, y_val), 1000)
    early_stopping = EarlyStopping("val_loss", patience=patience, restore_best_weights=True)
    callbacks = [
        early_stopping,
        ModelCheckpoint(out / "best.npz", "val_loss", save_best_only=True),
        TerminateOnNaN(),
    ]
    # A diverging run overflows on its way to the NaN loss that TerminateOnNaN stops and
    # TrainingFailed reports; NumPy's overflow warnings would only say it first, with internal paths.
    with np.errstate(over="ignore", invalid="ignore"):
        history = fit(net, md.nn.CrossEntropyLoss(), opt, train_loader, epochs, val_loader, callbacks,
                      metrics=["accuracy"], verbose=verbose)
    if not np.isfinite(history["loss"][-1]):
        raise TrainingFailed(history.stop_reason or f"the training loss became {history['loss'][-1]}")

    predicted = predict(net, x_test, batch_size=1000).argmax(axis=1)
    test_accuracy, matrix = accuracy(y_test, predicted), confusion_matrix(y_test, predicted, 10)
    viz.plot_history(history, out / "curves.png", best_epoch=early_stopping.best_epoch)
    viz.plot_confusion_matrix(matrix, out / "confusion.png")
    log(f"confusion matrix (test set):\n{format_confusion(matrix)}")
    log(f"saved {out / 'curves.png'}, {out / 'confusion.png'} and the best checkpoint {out / 'best.npz'}")
    log(f"{len(history)} epochs, {np.mean(history['time']):.1f} s per epoch; test accuracy: {test_accuracy:.4f}")
    return {"test_accuracy": test_accuracy, "confusion": matrix, "history": history}
