"""The metrics of ``compile(metrics=[...])``, as ``md.train`` metric functions, each logged under
the name the user gave (``"acc"`` is reported as ``acc``, ``"accuracy"`` as ``accuracy``).

``"accuracy"`` (or ``"acc"``) means what fits the shapes, as Keras decides it: with one output
unit, ``binary_accuracy`` (p > 0.5); with class labels as targets, ``sparse_categorical_accuracy``
(the argmax against the label); otherwise ``categorical_accuracy`` (the argmax of both sides).

``md.train`` gives metrics the targets and the predictions of a whole epoch; for class-label
targets it has already replaced the output rows by their argmax.
"""
import numpy as np

from minidl.train import metrics as train_metrics


def _labels(y_pred, y_true):
    """Predicted labels: the argmax of output rows, or ``y_pred`` itself if it holds labels."""
    return y_pred.argmax(axis=-1) if y_pred.ndim == y_true.ndim + 1 else y_pred


def sparse_categorical_accuracy(y_true, y_pred):
    """The fraction of samples whose largest output sits at their class label."""
    y_true = np.asarray(y_true)
    if y_true.ndim == np.ndim(y_pred) and y_true.shape[-1] == 1 and np.shape(y_pred)[-1] != 1:
        y_true = y_true[..., 0]
    return float(np.mean(_labels(np.asarray(y_pred), y_true) == y_true))


def categorical_accuracy(y_true, y_pred):
    """The fraction of rows whose largest output sits at the one-hot target's 1."""
    return float(np.mean(np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)))


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """The fraction of outputs on the right side of ``threshold``."""
    return float(np.mean((np.asarray(y_pred) > threshold) == (np.asarray(y_true) > 0.5)))


def accuracy_for(target_shape, output_shape):
    """Keras's choice for ``"accuracy"``: binary, sparse categorical or categorical."""
    if output_shape[-1] == 1:
        return binary_accuracy
    if len(target_shape) < len(output_shape) or target_shape[-1] == 1:
        return sparse_categorical_accuracy
    return categorical_accuracy


FUNCTIONS = {
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "categorical_accuracy": categorical_accuracy,
    "binary_accuracy": binary_accuracy,
    "mse": train_metrics.mse, "mean_squared_error": train_metrics.mse,
    "mae": train_metrics.mae, "mean_absolute_error": train_metrics.mae,
    "rmse": train_metrics.rmse, "root_mean_squared_error": train_metrics.rmse,
}
ACCURACY_NAMES = ("accuracy", "acc")


class Named:
    """A metric function logged under ``name`` (``md.train`` names metrics by ``__name__``)."""

    def __init__(self, name, function):
        self.__name__, self.function = name, function

    def __call__(self, y_true, y_pred):
        return self.function(y_true, y_pred)


def check(metrics):
    """``metrics`` as a list, after checking that every name is known (a ValueError otherwise)."""
    metrics = list(metrics or ())
    for metric in metrics:
        if not callable(metric) and metric not in ACCURACY_NAMES and metric not in FUNCTIONS:
            raise ValueError(
                f"compile: unknown metric {metric!r}; expected one of {', '.join(ACCURACY_NAMES + tuple(FUNCTIONS))} "
                "or a function f(y_true, y_pred)"
            )
    return metrics


def resolve(metrics, target_shape, output_shape):
    """The ``md.train`` metrics for Keras ``metrics`` (names or functions), for targets of
    ``target_shape`` and outputs of ``output_shape``."""
    resolved = []
    for metric in check(metrics):
        if callable(metric):
            resolved.append(metric)
        elif metric in ACCURACY_NAMES:
            resolved.append(Named(metric, accuracy_for(target_shape, output_shape)))
        else:
            resolved.append(Named(metric, FUNCTIONS[metric]))
    return resolved
