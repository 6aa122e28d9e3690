"""Losses by their Keras names, computed as Keras computes them from probabilities.

A Keras classifier ends in ``softmax`` or ``sigmoid`` and its loss reads the probabilities p.
Keras clips them to [eps, 1 - eps] (eps = 1e-7) before taking the log, so that log(0) never
happens; this facade does the same, which is numerically sound (the loss is at most -log(eps)
= 16.1 per sample) and keeps ``model(x)`` and ``predict(x)`` returning probabilities:

    sparse_categorical_crossentropy(y, p) = mean_n  -log p[n, y_n]              y: class labels
    categorical_crossentropy(y, p)        = mean_n  -sum_c y[n, c] log p[n, c]   y: one-hot rows
    binary_crossentropy(y, p)             = mean    -(y log p + (1 - y) log(1 - p))
    mse(y, p)                             = mean    (p - y)^2

(TensorFlow goes one step further for an output that is directly a softmax: it recovers the
logits and uses log_softmax.  The two agree except where p is clipped.)
"""
from minidl import functional as F

EPSILON = 1e-7


def _clipped_log(p):
    return F.log(F.clamp(p, EPSILON, 1 - EPSILON))


def sparse_categorical_crossentropy(y_true, y_pred):
    return F.nll_loss(_clipped_log(y_pred), y_true)


def categorical_crossentropy(y_true, y_pred):
    return -(y_true * _clipped_log(y_pred)).sum(dim=-1).mean()


def binary_crossentropy(y_true, y_pred):
    return -(y_true * _clipped_log(y_pred) + (1 - y_true) * _clipped_log(1 - y_pred)).mean()


def mse(y_true, y_pred):
    return F.mse_loss(y_pred, y_true)


LOSSES = {
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "binary_crossentropy": binary_crossentropy,
    "mse": mse,
    "mean_squared_error": mse,
}


def get(name):
    """The loss function ``(y_true, y_pred) -> scalar Tensor`` for a Keras loss name."""
    if name not in LOSSES:
        raise ValueError(f"compile: unknown loss {name!r}; expected one of {', '.join(LOSSES)}")
    return LOSSES[name]
