"""Metrics: NumPy functions of ``(y_true, y_pred)`` that score predictions, as ``sklearn.metrics``.

Classification metrics take integer class labels (not logits: ``fit`` turns logits into labels
with an argmax before calling them).  For one class c, counting over the samples:

    TP = predicted c and truly c,  FP = predicted c but not c,  FN = truly c but predicted otherwise
    precision = TP / (TP + FP)     recall = TP / (TP + FN)     F1 = 2 TP / (2 TP + FP + FN)

``average="macro"`` takes the plain mean of the per-class scores over the classes that occur in
``y_true`` or ``y_pred`` (every class counts the same, however rare); ``average="micro"`` adds up
TP, FP and FN over the classes first (every sample counts the same: for single-label data all
three then equal the accuracy).  A score whose denominator is 0 counts as 0, as in scikit-learn.
"""
import numpy as np


def _pair(name, y_true, y_pred):
    """``y_true`` and ``y_pred`` as NumPy arrays of the same shape, or a clear ValueError."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{name}: y_true and y_pred must have the same shape, got {y_true.shape} and {y_pred.shape}")
    if y_true.size == 0:
        raise ValueError(f"{name}: got no samples")
    return y_true, y_pred


def accuracy(y_true, y_pred):
    """The fraction of samples whose predicted label equals the true one."""
    y_true, y_pred = _pair("accuracy", y_true, y_pred)
    return float(np.mean(y_true == y_pred))


def confusion_matrix(y_true, y_pred, num_classes=None):
    """``C[i, j]`` = the number of samples of true class i predicted as class j (labels 0..K-1).

    ``num_classes`` K defaults to the largest label seen plus one.  The diagonal holds the
    correct predictions; row i shows where the samples of class i went.
    """
    y_true, y_pred = _pair("confusion_matrix", y_true, y_pred)
    y_true, y_pred = y_true.astype(np.int64).ravel(), y_pred.astype(np.int64).ravel()
    if min(y_true.min(), y_pred.min()) < 0:
        raise ValueError("confusion_matrix: labels must be non-negative integers")
    k = int(max(y_true.max(), y_pred.max())) + 1 if num_classes is None else num_classes
    if max(y_true.max(), y_pred.max()) >= k:
        raise ValueError(f"confusion_matrix: labels must be below num_classes={k}")
    return np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)


def _counts(name, y_true, y_pred, average):
    """Per-class TP, FP, FN over the classes present in y_true or y_pred (summed for micro)."""
    if average not in ("macro", "micro"):
        raise ValueError(f"{name}: average must be 'macro' or 'micro', got {average!r}")
    y_true, y_pred = _pair(name, y_true, y_pred)
    classes = np.union1d(y_true, y_pred)
    matrix = confusion_matrix(np.searchsorted(classes, y_true), np.searchsorted(classes, y_pred), len(classes))
    tp = np.diag(matrix).astype(np.float64)
    fp, fn = matrix.sum(axis=0) - tp, matrix.sum(axis=1) - tp
    if average == "micro":
        return tp.sum(keepdims=True), fp.sum(keepdims=True), fn.sum(keepdims=True)
    return tp, fp, fn


def _mean_ratio(numerator, denominator):
    """The mean over classes of numerator / denominator, a 0/0 class counting as 0."""
    ratios = np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)
    return float(ratios.mean())


def precision(y_true, y_pred, average="macro"):
    """TP / (TP + FP): of the samples predicted as a class, the fraction that truly are."""
    tp, fp, _ = _counts("precision", y_true, y_pred, average)
    return _mean_ratio(tp, tp + fp)


def recall(y_true, y_pred, average="macro"):
    """TP / (TP + FN): of the samples of a class, the fraction predicted as it."""
    tp, _, fn = _counts("recall", y_true, y_pred, average)
    return _mean_ratio(tp, tp + fn)


def f1(y_true, y_pred, average="macro"):
    """2 TP / (2 TP + FP + FN), the harmonic mean of precision and recall."""
    tp, fp, fn = _counts("f1", y_true, y_pred, average)
    return _mean_ratio(2 * tp, 2 * tp + fp + fn)


def mse(y_true, y_pred):
    """Mean squared error: mean((y_pred - y_true)^2)."""
    y_true, y_pred = _pair("mse", y_true, y_pred)
    return float(np.mean(np.square(y_pred.astype(np.float64) - y_true)))


def rmse(y_true, y_pred):
    """Root mean squared error: sqrt(mse), in the units of y."""
    return float(np.sqrt(mse(y_true, y_pred)))


def mae(y_true, y_pred):
    """Mean absolute error: mean(|y_pred - y_true|)."""
    y_true, y_pred = _pair("mae", y_true, y_pred)
    return float(np.mean(np.abs(y_pred.astype(np.float64) - y_true)))


CLASSIFICATION = {"accuracy": accuracy, "precision": precision, "recall": recall, "f1": f1}
REGRESSION = {"mse": mse, "rmse": rmse, "mae": mae}


def get_metric(metric):
    """``(name, function)`` for a metric given by name (``"accuracy"``, ``"f1"``, ``"mse"`` ...)
    or as a function ``f(y_true, y_pred) -> float`` (named after ``f.__name__``)."""
    if callable(metric):
        return metric.__name__, metric
    known = {**CLASSIFICATION, **REGRESSION}
    if metric not in known:
        raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(known)} or a function")
    return metric, known[metric]
