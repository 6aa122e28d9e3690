"""A ready-made search problem: the digits MLP, and the small training loop it runs on.

``digits_mlp_trial(params, seed, report=None)`` trains Linear(64, hidden) -> ReLU -> Linear(hidden, 10)
with Adam on 8x8 digits and returns the validation accuracy; ``DIGITS_MLP_SPACE`` is the space
``python -m minidl tune`` searches.  ``train_classifier`` and ``digits_splits`` serve the tests and
tutorials too.
"""
import functools
import threading

import minidl as md
import minidl.functional as F
from minidl import nn
from minidl.data import DataLoader, TensorDataset, load_digits, train_test_split
from minidl.ensemble import accuracy
from minidl.train.loop import model_device
from minidl.tune.distributions import Choice, IntUniform, LogUniform

DIGITS_MLP_SPACE = {
    "lr": LogUniform(1e-4, 1e-1),
    "hidden": IntUniform(16, 128),
    "batch_size": Choice([16, 32, 64, 128]),
}
_SEEDED_DRAWS = threading.Lock()  # md.manual_seed(seed) and the draws it fixes, one thread at a time


@functools.lru_cache(maxsize=1)
def digits_splits(seed=0):
    """Flat digits (64 pixels in [0, 1]) split 60/20/20, stratified and fixed by ``seed``:
    ``(x_train, y_train, x_val, y_val, x_test, y_test)``.  Searches score on validation; the test
    set stays untouched until the end."""
    x, y = load_digits(as_images=False)
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, seed=seed, stratify=y)
    x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=0.25, seed=seed, stratify=y_rest)
    return x_train, y_train, x_val, y_val, x_test, y_test


def make_mlp(hidden=64, seed=0):
    """Linear(64, hidden) -> ReLU -> Linear(hidden, 10), initial weights fixed by ``seed``.

    minidl's random generator is one for the whole process, as torch's: trials running in
    threads (a thread pool, Dask's threaded workers) would reseed it under each other's draws,
    so seeding and drawing the weights happen under a lock, one thread at a time."""
    with _SEEDED_DRAWS:
        md.manual_seed(seed)
        return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def train_classifier(model, optimizer, x, y, epochs, batch_size=32, seed=0, after_epoch=None):
    """Minimise the cross-entropy of ``model`` on (x, y) for ``epochs`` passes of shuffled
    minibatches (order fixed by ``seed``) on the model's device, where each batch is moved;
    ``after_epoch(epoch)`` is called after each pass.  Returns the model."""
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True, seed=seed)
    device = model_device(model)
    model.train()
    for epoch in range(1, epochs + 1):
        for inputs, labels in loader:
            loss = F.cross_entropy(model(inputs.to(device)), labels.to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if after_epoch is not None:
            after_epoch(epoch)
    return model


def digits_mlp_trial(params, seed, report=None, epochs=10):
    """Train the digits MLP with ``params`` (``lr``, ``hidden``, ``batch_size``) and return
    ``{"score": validation accuracy, "epochs": epochs run}``; calls ``report(epoch, val accuracy)``
    after each epoch when given one (a pruner may then stop the trial)."""
    x_train, y_train, x_val, y_val = digits_splits()[:4]
    model = make_mlp(int(params["hidden"]), seed)
    optimizer = md.optim.Adam(model.parameters(), lr=float(params["lr"]))

    def after_epoch(epoch):
        if report is not None:
            report(epoch, accuracy(model, x_val, y_val))

    train_classifier(model, optimizer, x_train, y_train, epochs, int(params["batch_size"]), seed, after_epoch)
    return {"score": accuracy(model, x_val, y_val), "epochs": epochs}

