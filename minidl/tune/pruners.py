"""Stopping unpromising trials early.

A trial's training function receives ``report(step, score)`` and calls it after each epoch (or
fold).  ``report`` asks the pruner; when the pruner says stop, it raises ``TrialPruned``, the
search catches it and records the trial as ``"pruned"`` with its last reported score.

A pruner answers ``should_prune(curve, finished_curves)``: ``curve`` is this trial's list of
``(step, score)`` so far, ``finished_curves`` the curves of the trials it may compare with (see
``run_trials``: those of earlier waves).  Scores arrive already turned so that higher is better.
"""
import statistics


class TrialPruned(Exception):
    """Raised by ``report`` to stop a trial; the search catches it."""


class MedianPruner:
    """Stop a trial whose score at step t is below the median of the other trials' scores at
    step t (Optuna's median rule, the one of Google Vizier).

    ``n_startup_trials``: do not prune until that many curves are there to compare with.
    ``n_warmup_steps``: never prune at steps below it (early scores are noisy).
    """

    def __init__(self, n_startup_trials=3, n_warmup_steps=1):
        self.n_startup_trials, self.n_warmup_steps = n_startup_trials, n_warmup_steps

    def should_prune(self, curve, finished_curves):
        step, score = curve[-1]
        others = [dict(other)[step] for other in finished_curves if step in dict(other)]
        if step < self.n_warmup_steps or len(others) < self.n_startup_trials:
            return False
        return score < statistics.median(others)


class PatiencePruner:
    """Stop a trial whose best score has not improved by more than ``min_delta`` for ``patience``
    reports in a row: early stopping, per trial, needing no other trial.  As Keras's
    ``EarlyStopping``, ``patience=0`` stops at the first report without improvement, as does 1."""

    def __init__(self, patience=3, min_delta=0.0):
        if patience < 0:
            raise ValueError(f"PatiencePruner: patience must be >= 0, got {patience}")
        self.patience, self.min_delta = patience, min_delta

    def should_prune(self, curve, finished_curves):
        scores = [score for _, score in curve]
        window = max(self.patience, 1)  # the latest reports, compared with the best one before them
        if len(scores) <= window:
            return False
        return max(scores[-window:]) <= max(scores[:-window]) + self.min_delta
