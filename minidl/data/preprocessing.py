"""Rescaling features and filling missing values, with statistics learnt on the training set only.

    scaler = Standardizer().fit(x_train)          # mean and std of each feature of x_train
    x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)

Fitting on the test set too would leak information about it into training.  ``axis`` says which
axes a statistic is taken over, as in ``np.mean``: ``axis=0`` (default) gives one per feature of
an ``(N, F)`` array (or one per pixel of images); ``axis=(0, 2, 3)`` one per channel of
``(N, C, H, W)`` images.  Statistics keep the reduced axes (size 1), so they broadcast.
"""
import numpy as np

from minidl import backend
from minidl.data.utils import as_numpy


def _as_float(x):
    """``x`` as a floating NumPy array (integers become the default dtype, float32)."""
    x = as_numpy(x)
    return x if backend.is_floating(x.dtype) else x.astype(backend.get_default_dtype())


class Scaler:
    """Base of the scalers: ``fit`` learns the arrays named in ``STATISTICS`` (as attributes),
    ``transform``/``inverse_transform`` apply a formula with them; ``state_dict()`` returns them
    so they can be saved with ``md.save`` next to a model."""

    STATISTICS = ()

    def __init__(self, axis=0):
        self.axis = axis
        for name in self.STATISTICS:
            setattr(self, name, None)

    def fit(self, x):
        """Learn the statistics of ``x`` over ``axis``; returns self."""
        x = _as_float(x)
        for name, value in self._statistics(x).items():
            setattr(self, name, value.astype(x.dtype))
        return self

    def fit_transform(self, x):
        return self.fit(x).transform(x)

    def state_dict(self):
        """``{name: array}``: copies of the fitted statistics."""
        return {name: self._fitted("state_dict")[name].copy() for name in self.STATISTICS}

    def load_state_dict(self, state):
        """Restore statistics saved by ``state_dict()`` (arrays or Tensors)."""
        missing = [name for name in self.STATISTICS if name not in state]
        if missing:
            raise KeyError(
                f"{type(self).__name__}.load_state_dict: missing statistics {missing}, expected {list(self.STATISTICS)}"
            )
        for name in self.STATISTICS:
            setattr(self, name, _as_float(state[name]).copy())

    def _fitted(self, method):
        """The statistics by name; a clear error before ``fit``."""
        statistics = {name: getattr(self, name) for name in self.STATISTICS}
        if any(value is None for value in statistics.values()):
            raise ValueError(f"{type(self).__name__}.{method}: not fitted yet; call fit(x_train) first")
        return statistics

    def _checked(self, x, method):
        """``x`` as a float array, after checking the fitted statistics broadcast to it as fitted."""
        x = _as_float(x)
        fitted_shape = self._fitted(method)[self.STATISTICS[0]].shape
        reduced = {axis % max(x.ndim, 1) for axis in np.atleast_1d(self.axis)}
        expected = tuple(1 if i in reduced else size for i, size in enumerate(x.shape))
        if fitted_shape != expected:
            raise ValueError(
                f"{type(self).__name__}.{method}: fitted statistics of shape {fitted_shape} (axis={self.axis}) "
                f"do not match input of shape {x.shape}"
            )
        return x


class Standardizer(Scaler):
    """Standardize: ``x' = (x - mean) / std``, so each feature (or channel) of the training set
    has mean 0 and standard deviation 1.  ``std`` is the population one (divides by n), and a
    constant feature gets ``std = 1`` (it becomes 0 instead of NaN), as scikit-learn's
    ``StandardScaler``."""

    STATISTICS = ("mean", "std")

    def _statistics(self, x):
        # float64 accumulators, temporaries in x's dtype: MNIST-sized arrays stay small in memory
        mean = x.mean(axis=self.axis, keepdims=True, dtype=np.float64)
        centered = x - mean.astype(x.dtype)
        std = np.sqrt(np.square(centered, out=centered).mean(axis=self.axis, keepdims=True, dtype=np.float64))
        return {"mean": mean, "std": np.where(std > 0, std, 1.0)}

    def transform(self, x):
        x = self._checked(x, "transform")
        return ((x - self.mean) / self.std).astype(x.dtype, copy=False)

    def inverse_transform(self, x):
        """``x = x' * std + mean``."""
        x = self._checked(x, "inverse_transform")
        return (x * self.std + self.mean).astype(x.dtype, copy=False)


class MinMaxScaler(Scaler):
    """Normalize to a range: ``x' = a + (x - min) / (max - min) * (b - a)`` with
    ``(a, b) = feature_range``, so the training set spans exactly [a, b] in each feature.
    A constant feature (max == min) divides by 1, as in scikit-learn."""

    STATISTICS = ("min", "max")

    def __init__(self, feature_range=(0.0, 1.0), axis=0):
        low, high = feature_range
        if not low < high:
            raise ValueError(f"MinMaxScaler: feature_range must be (low, high) with low < high, got {feature_range!r}")
        super().__init__(axis)
        self.feature_range = (low, high)

    def _statistics(self, x):
        return {"min": x.min(axis=self.axis, keepdims=True), "max": x.max(axis=self.axis, keepdims=True)}

    def _span(self):
        span = self.max - self.min
        return np.where(span > 0, span, 1).astype(span.dtype)

    def transform(self, x):
        x = self._checked(x, "transform")
        low, high = self.feature_range
        return (low + (x - self.min) / self._span() * (high - low)).astype(x.dtype, copy=False)

    def inverse_transform(self, x):
        """``x = min + (x' - a) / (b - a) * (max - min)``."""
        x = self._checked(x, "inverse_transform")
        low, high = self.feature_range
        return (self.min + (x - low) / (high - low) * self._span()).astype(x.dtype, copy=False)


def fill_missing(x, strategy="mean", fill_value=0, statistics=None):
    """Replace the missing values (NaN) of each column of ``x`` (axis 0 indexes samples).

    ``strategy``: ``"mean"`` or ``"median"`` of the column's present values, or ``"constant"``
    (``fill_value``).  Returns ``(filled copy, statistics)``: one fill value per column, shape
    ``x.shape[1:]``.  Fill test data with the training set's statistics:

        x_train, stats = fill_missing(x_train, "median")
        x_test, _ = fill_missing(x_test, statistics=stats)     # strategy is then not used
    """
    x = np.array(_as_float(x), copy=True)
    if x.ndim == 0:
        raise ValueError("fill_missing: x must have a sample axis (at least 1-D), got a scalar")
    missing = np.isnan(x)
    if statistics is None:
        statistics = _fill_values(x, missing, strategy, fill_value)
    statistics = np.asarray(statistics, dtype=x.dtype)
    if statistics.shape != x.shape[1:]:
        raise ValueError(f"fill_missing: statistics must have shape {x.shape[1:]} (one per column), got {statistics.shape}")
    x[missing] = np.broadcast_to(statistics, x.shape)[missing]
    return x, statistics


def _fill_values(x, missing, strategy, fill_value):
    """The value to fill each column with, by ``strategy``."""
    if strategy == "constant":
        return np.full(x.shape[1:], fill_value)
    if strategy not in ("mean", "median"):
        raise ValueError(f"fill_missing: strategy must be 'mean', 'median' or 'constant', got {strategy!r}")
    empty = np.flatnonzero(missing.all(axis=0))
    if len(empty):
        raise ValueError(
            f"fill_missing: column {empty[0]} has no values to compute a {strategy} from; use strategy='constant'"
        )
    return np.nanmean(x, axis=0) if strategy == "mean" else np.nanmedian(x, axis=0)
