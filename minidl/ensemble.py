"""Ensembles: several trained models deciding together usually beat each one alone, because
their mistakes differ (different seeds, architectures or data) and partly cancel out.

    ensemble = VotingClassifier([model_a, model_b, model_c], voting="soft")
    labels = ensemble.predict(x_test)                 # NumPy int64 array
    y_hat = average_predictions([reg_a, reg_b], x, weights=[2, 1])   # regression
"""
import numpy as np

import minidl as md
from minidl.data.utils import as_numpy


def model_outputs(model, x, batch_size=256):
    """``model(x)`` as a NumPy array: ``md.train.predict`` (batches, eval mode, no graph; the
    model's mode is restored afterwards) on ``x`` as an array."""
    return md.train.predict(model, as_numpy(x), batch_size)


def accuracy(model, x, y, batch_size=256):
    """Fraction of samples whose largest output is at the true label."""
    return float((model_outputs(model, x, batch_size).argmax(axis=1) == as_numpy(y)).mean())


def _check_weights(name, models, weights):
    """The weights as a float array summing to 1 (equal weights when None)."""
    if not models:
        raise ValueError(f"{name}: expected at least one model, got none")
    weights = np.ones(len(models)) if weights is None else np.asarray(weights, dtype=np.float64)
    if weights.shape != (len(models),) or (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(
            f"{name}: weights must be {len(models)} non-negative numbers (one per model) with a positive sum, "
            f"got {weights.tolist()}"
        )
    return weights / weights.sum()


def average_predictions(models, x, weights=None, batch_size=256):
    """Weighted average of the models' outputs: y = sum_m w_m * model_m(x) / sum_m w_m."""
    weights = _check_weights("average_predictions", models, weights)
    return sum(w * model_outputs(m, x, batch_size) for w, m in zip(weights, models))


class VotingClassifier:
    """Combine classifiers that output logits of shape (N, classes).

    - ``voting="soft"``: p(c | x) = sum_m w_m * softmax(model_m(x))_c, the predicted class is its argmax.
    - ``voting="hard"``: each model votes for its argmax with weight w_m; ``predict_proba`` gives
      the share of votes per class, the predicted class has the most (ties: the lowest class).

    ``weights`` (one per model, default equal) are normalised to sum to 1.
    """

    def __init__(self, models, voting="hard", weights=None, batch_size=256):
        if voting not in ("hard", "soft"):
            raise ValueError(f"VotingClassifier: voting must be 'hard' or 'soft', got {voting!r}")
        self.models = list(models)
        self.weights = _check_weights("VotingClassifier", self.models, weights)
        self.voting, self.batch_size = voting, batch_size

    def predict_proba(self, x):
        """(N, classes) float array; each row sums to 1."""
        total = 0.0
        for weight, model in zip(self.weights, self.models):
            logits = model_outputs(model, x, self.batch_size)
            if logits.ndim != 2:
                raise ValueError(f"VotingClassifier: models must output (N, classes) logits, got shape {logits.shape}")
            total = total + weight * (_softmax(logits) if self.voting == "soft" else _one_hot_argmax(logits))
        return total

    def predict(self, x):
        """(N,) int64 array of predicted classes."""
        return self.predict_proba(x).argmax(axis=1)


def _softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _one_hot_argmax(logits):
    votes = np.zeros_like(logits, dtype=np.float64)
    votes[np.arange(len(logits)), logits.argmax(axis=1)] = 1.0
    return votes
