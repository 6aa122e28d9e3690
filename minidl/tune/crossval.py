"""k-fold cross-validation as a training function a search can run.

    def train_fold(params, train_idx, val_idx, seed):   # -> the score on x[val_idx]
        ...
    results = random_search(cross_validate(train_fold, x, y, folds=StratifiedKFold(5, shuffle=True, seed=0)),
                            distributions, n_trials=10)
"""
from minidl.data import KFold
from minidl.tune.search import as_score_dict, trial_seed


def cross_validate(train_fn_fold, x, y=None, folds=None):
    """A ``train_fn(params, seed[, report])`` whose score is the mean over the folds of
    ``train_fn_fold(params, train_idx, val_idx, fold_seed)``.

    ``folds``: a ``KFold`` or ``StratifiedKFold`` (default ``KFold(5)``); its ``split(x, y)`` gives
    the same folds to every trial, so trials are compared on the same data.  Fold k is seeded
    with ``trial_seed(seed, k)``.  The result also holds ``"fold_scores"`` and ``"score_std"``.
    With a pruner, ``report(k, mean of folds 0..k)`` is called after each fold.
    """
    return CrossValidated(train_fn_fold, x, y, KFold(5) if folds is None else folds)


class CrossValidated:
    """The callable ``cross_validate`` returns (a class, so that a process pool can pickle it)."""

    def __init__(self, train_fn_fold, x, y, folds):
        if not hasattr(folds, "split"):
            raise TypeError(f"cross_validate: folds must be a KFold or StratifiedKFold, got {type(folds).__name__}")
        self.train_fn_fold = train_fn_fold
        self.splits = list(folds.split(x, y))

    def __call__(self, params, seed, report=None):
        scores = []
        for fold, (train_idx, val_idx) in enumerate(self.splits):
            result = self.train_fn_fold(params, train_idx, val_idx, trial_seed(seed, fold))
            scores.append(as_score_dict(result)["score"])
            if report is not None:
                report(fold, sum(scores) / len(scores))
        mean = sum(scores) / len(scores)
        std = (sum((s - mean) ** 2 for s in scores) / len(scores)) ** 0.5
        return {"score": mean, "score_std": std, "fold_scores": scores}

