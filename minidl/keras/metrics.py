"""The metrics of ``compile(metrics=[...])``, as ``md.train`` metric functions.

Keras's ``"accuracy"`` means what fits the loss: the argmax against class labels for
``sparse_categorical_crossentropy`` (``md.train`` takes the argmax before scoring), the argmax of
both sides for one-hot targets, and p > 0.5 for ``binary_crossentropy``.  Other names (``"mse"``,
``"mae"``, ...) are ``md.train``'s metrics.
"""
import numpy as np


def categorical_accuracy(y_true, y_pred):
    """The fraction of rows whose largest probability sits at the one-hot target's 1."""
    return float(np.mean(y_true.argmax(axis=-1) == y_pred.argmax(axis=-1)))


def binary_accuracy(y_true, y_pred):
    """The fraction of probabilities on the right side of 0.5."""
    return float(np.mean((y_pred > 0.5) == (y_true > 0.5)))


class Named:
    """A metric function logged under ``name`` (``md.train`` names metrics by ``__name__``)."""

    def __init__(self, name, function):
        self.__name__, self.function = name, function

    def __call__(self, y_true, y_pred):
        return self.function(y_true, y_pred)


ACCURACY_FOR_LOSS = {"categorical_crossentropy": categorical_accuracy, "binary_crossentropy": binary_accuracy}


def resolve(metrics, loss):
    """The ``md.train`` metrics for Keras ``metrics`` compiled with the loss named ``loss``."""
    resolved = []
    for metric in metrics or ():
        if metric == "accuracy" and loss in ACCURACY_FOR_LOSS:
            metric = Named(metric, ACCURACY_FOR_LOSS[loss])
        resolved.append(metric)
    return resolved
