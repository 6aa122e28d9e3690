"""Losses with Keras's names: functions giving one value per sample, and ``Loss`` objects (what
``compile(loss=...)`` takes, by name or as an object) giving the mean over the batch.

For probabilities (``from_logits=False``, an output after softmax or sigmoid) Keras rescales each
row to sum 1 and clips it to [eps, 1 - eps] (eps = 1e-7) before the log, so that log(0) never
happens; with ``from_logits=True`` the output is logits and the log-probabilities come from
``log_softmax`` (or a stable sigmoid):

    sparse_categorical_crossentropy(y, p) = -log p[y]                  y: class labels
    categorical_crossentropy(y, p)        = -sum_c y_c log p_c          y: one-hot rows (smoothed: y (1 - s) + s / C)
    binary_crossentropy(y, p)             = mean_last -(y log p + (1 - y) log(1 - p))
    mean_squared_error(y, p)              = mean_last (p - y)^2          mean_absolute_error: |p - y|

(TensorFlow goes one step further for an output that is directly a softmax: it recovers the
logits and uses log_softmax.  The two agree except where p is clipped.)
"""
import numpy as np

from minidl import backend
from minidl import functional as F
from minidl.keras.backend import to_snake_case
from minidl.keras.config import deserialize
from minidl.keras.targets import expected_shape, shape_problem, targets_error
from minidl.tensor import Tensor

EPSILON = 1e-7


def _tensor(value):
    return value if isinstance(value, Tensor) else Tensor(np.asarray(value, dtype=backend.get_default_dtype()))


def _check_shapes(name, kind, y_true, y_pred):
    problem = shape_problem(kind, y_true.shape, y_pred.shape)
    if problem is not None:
        raise targets_error(name, expected_shape(kind, y_pred.shape), tuple(y_true.shape), problem)


def _pair(name, kind, y_true, y_pred):
    """``y_true`` and ``y_pred`` as tensors of matching rank (Keras's squeeze-or-expand), or a
    ValueError saying what the targets should be."""
    y_true, y_pred = match_ranks(_tensor(y_true), _tensor(y_pred))
    _check_shapes(name, kind, y_true, y_pred)
    return y_true, y_pred


def _log_probabilities(y_pred, from_logits):
    if from_logits:
        return F.log_softmax(y_pred, dim=-1)
    p = y_pred / y_pred.sum(dim=-1, keepdim=True)
    return F.log(F.clamp(p, EPSILON, 1 - EPSILON))


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    """-log p[y] per sample, for class labels ``y_true`` (the output's shape without its last axis)."""
    y_pred = _tensor(y_pred)
    labels = y_true.array if isinstance(y_true, Tensor) else np.asarray(y_true)
    _check_shapes("sparse_categorical_crossentropy", "sparse", labels, y_pred)
    if labels.ndim == y_pred.ndim:
        labels = labels[..., 0]
    xp = backend.get_array_module(y_pred.array)
    one_hot = xp.eye(y_pred.shape[-1], dtype=y_pred.dtype)[backend.to_device(labels, y_pred.device).astype("int64")]
    return -(Tensor(one_hot) * _log_probabilities(y_pred, from_logits)).sum(dim=-1)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """-sum_c y_c log p_c per sample, for one-hot rows ``y_true`` (the output's shape)."""
    y_true, y_pred = _pair("categorical_crossentropy", "categorical", y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1 - label_smoothing) + label_smoothing / y_pred.shape[-1]
    return -(y_true * _log_probabilities(y_pred, from_logits)).sum(dim=-1)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """The mean over the last axis of -(y log p + (1 - y) log(1 - p)), y in [0, 1]."""
    y_true, y_pred = _pair("binary_crossentropy", "binary", y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        return F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none").mean(dim=-1)
    p = F.clamp(y_pred, EPSILON, 1 - EPSILON)
    return -(y_true * F.log(p) + (1 - y_true) * F.log(1 - p)).mean(dim=-1)


def mean_squared_error(y_true, y_pred):
    """The mean over the last axis of (p - y)^2."""
    y_true, y_pred = _pair("mean_squared_error", "regression", y_true, y_pred)
    return ((y_pred - y_true) ** 2).mean(dim=-1)


def mean_absolute_error(y_true, y_pred):
    """The mean over the last axis of |p - y|."""
    y_true, y_pred = _pair("mean_absolute_error", "regression", y_true, y_pred)
    return F.abs(y_pred - y_true).mean(dim=-1)


def match_ranks(y_true, y_pred):
    """Keras's squeeze-or-expand before a loss: labels (n,) meet outputs (n, 1) as (n, 1)."""
    if y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        return y_true.unsqueeze(-1), y_pred
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        return y_true.squeeze(-1), y_pred
    return y_true, y_pred


class Loss:
    """``loss(y_true, y_pred)``: the mean over the batch of ``function``'s values per sample.
    ``kind`` says what targets it reads (see ``minidl.keras.targets``); None: anything."""

    kind = None

    def __init__(self, function, name=None, **settings):
        self.function, self.settings = function, settings
        self.name = name or to_snake_case(type(self).__name__)

    def __call__(self, y_true, y_pred):
        if self.kind is None:
            y_true, y_pred = match_ranks(_tensor(y_true), _tensor(y_pred))
        return self.function(y_true, y_pred, **self.settings).mean()

    def get_config(self):
        return {"name": self.name, **self.settings}

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class LossFunctionWrapper(Loss):
    """A function ``f(y_true, y_pred)`` of your own as a Loss (named after it)."""

    def __init__(self, fn, name=None):
        super().__init__(fn, name or fn.__name__)

    def get_config(self):
        return {"name": self.name}


class SparseCategoricalCrossentropy(Loss):
    kind = "sparse"

    def __init__(self, from_logits=False, name="sparse_categorical_crossentropy"):
        super().__init__(sparse_categorical_crossentropy, name, from_logits=from_logits)


class CategoricalCrossentropy(Loss):
    kind = "categorical"

    def __init__(self, from_logits=False, label_smoothing=0.0, name="categorical_crossentropy"):
        super().__init__(categorical_crossentropy, name, from_logits=from_logits, label_smoothing=label_smoothing)


class BinaryCrossentropy(Loss):
    kind = "binary"

    def __init__(self, from_logits=False, label_smoothing=0.0, name="binary_crossentropy"):
        super().__init__(binary_crossentropy, name, from_logits=from_logits, label_smoothing=label_smoothing)


class MeanSquaredError(Loss):
    kind = "regression"

    def __init__(self, name="mean_squared_error"):
        super().__init__(mean_squared_error, name)


class MeanAbsoluteError(Loss):
    kind = "regression"

    def __init__(self, name="mean_absolute_error"):
        super().__init__(mean_absolute_error, name)


CLASSES = (SparseCategoricalCrossentropy, CategoricalCrossentropy, BinaryCrossentropy, MeanSquaredError,
           MeanAbsoluteError)
KNOWN = {
    **{cls.__name__: cls for cls in CLASSES},
    **{to_snake_case(cls.__name__): cls for cls in CLASSES},
    "mse": MeanSquaredError, "mae": MeanAbsoluteError,
}
# the functions under their Keras aliases: keras.losses.mse(y_true, y_pred)
mse, mae = mean_squared_error, mean_absolute_error
# compile(loss=keras.losses.sparse_categorical_crossentropy) means the Loss of that function
CLASS_OF_FUNCTION = {cls().function: cls for cls in CLASSES}


def get(identifier):
    """A Loss for a name (``"sparse_categorical_crossentropy"``, ``"mse"``, a class name ...),
    a saved config, a Loss object, or a function ``f(y_true, y_pred)`` of your own."""
    if identifier is None:
        raise ValueError("compile: no loss to train on; give one, e.g. loss=\"sparse_categorical_crossentropy\"")
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier, KNOWN, "compile: loss")
    if isinstance(identifier, Loss):
        return identifier
    if identifier in CLASS_OF_FUNCTION:
        return CLASS_OF_FUNCTION[identifier]()
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise TypeError(f"compile: loss must be a name, a Loss object or a function, got {type(identifier).__name__}")
