"""Train a small MLP on scikit-learn's 8x8 digits: a whole training loop in one page.

Run it with ``python -m minidl demo``. The update is plain SGD written inline,
p <- p - lr * dL/dp, so that nothing is hidden.
"""
import numpy as np

import minidl as md
import minidl.functional as F
from minidl import nn

SPLIT_SEED = 0  # the train/test split stays the same whatever --seed says


def load_digits_split():
    """The 1797 digits as (x_train, x_test, y_train, y_test): 64 pixels scaled from 0..16 to
    [0, 1], split 80/20 with the same share of every class on both sides (stratified)."""
    from sklearn.datasets import load_digits  # imported here: ``import minidl`` stays fast
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    pixels = (digits.data / 16.0).astype(np.float32)
    labels = digits.target
    return train_test_split(pixels, labels, test_size=0.2, stratify=labels, random_state=SPLIT_SEED)


def accuracy(model, images, labels):
    """Fraction of images whose largest logit is at the true label."""
    with md.no_grad():
        predicted = model(md.tensor(images)).argmax(dim=1).numpy()
    return float((predicted == labels).mean())


def train_digits_mlp(epochs=20, lr=0.2, batch_size=32, hidden=64, seed=0, log=print):
    """Train Linear(64, hidden) -> ReLU -> Linear(hidden, 10) with cross-entropy and minibatch
    SGD, logging the mean training loss and the test accuracy after each epoch.

    ``seed`` fixes the initial weights and the order of the minibatches.  Returns the final
    test accuracy.
    """
    if epochs < 1:
        raise ValueError(f"train_digits_mlp: epochs must be at least 1, got {epochs}")
    x_train, x_test, y_train, y_test = load_digits_split()
    md.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))
    rng = np.random.default_rng(seed)
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x_train))
        loss_sum = 0.0
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            loss = F.cross_entropy(model(md.tensor(x_train[batch])), md.tensor(y_train[batch]))
            model.zero_grad()
            loss.backward()
            with md.no_grad():
                for p in model.parameters():
                    p.array -= lr * p.grad.array
            loss_sum += loss.item() * len(batch)
        test_accuracy = accuracy(model, x_test, y_test)
        log(f"epoch {epoch:3d}  train loss {loss_sum / len(order):.4f}  test accuracy {test_accuracy:.3f}")
    log(f"test accuracy: {test_accuracy:.3f}")
    return test_accuracy
