"""Splitting samples into training and test sets, once or k times, as scikit-learn does, and a
dataset into random parts, as ``torch.utils.data.random_split`` does.

    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, stratify=y)
    for train_idx, test_idx in StratifiedKFold(5, shuffle=True, seed=0).split(x, y):
        ...
    train_set, val_set = random_split(dataset, [0.8, 0.2])

The fold sizes, class proportions and part lengths are scikit-learn's and PyTorch's; the shuffles
come from NumPy's ``default_rng(seed)``, so the exact samples drawn differ from scikit-learn's
``random_state`` and PyTorch's generator.
"""
import itertools
import math
import numbers
import warnings

import numpy as np

from minidl.data.dataset import Subset
from minidl.data.utils import as_numpy, generator as make_generator


def train_test_split(*arrays, test_size=0.2, seed=0, stratify=None):
    """Shuffle the samples and split every array the same way:
    ``[a_train, a_test, b_train, b_test, ...]``.

    ``test_size``: a fraction in (0, 1) (the test set gets ``ceil(test_size * n)`` samples) or a
    number of samples.  ``stratify``: labels; each class then has (up to rounding) the same share
    of the test set as of the whole.  Arrays are NumPy arrays, lists or Tensors, indexed as
    ``a[indices]``.
    """
    if not arrays:
        raise ValueError("train_test_split: expected at least one array, got none")
    n = _common_length("train_test_split", arrays)
    n_test = _test_count(test_size, n)
    rng = make_generator(seed)
    if stratify is None:
        order = rng.permutation(n)
        test, train = order[:n_test], order[n_test:]
    else:
        test, train = _stratified_test(as_numpy(stratify), n_test, rng)
    return [_take(array, part) for array in arrays for part in (train, test)]


def _common_length(name, arrays):
    lengths = [len(array) for array in arrays]
    if len(set(lengths)) != 1:
        raise ValueError(f"{name}: all arrays must have the same length, got lengths {lengths}")
    return lengths[0]


def _test_count(test_size, n):
    """The number of test samples: ``ceil(test_size * n)`` for a fraction, ``test_size`` for a count."""
    if isinstance(test_size, numbers.Integral) and not isinstance(test_size, bool):
        n_test = int(test_size)
    elif isinstance(test_size, numbers.Real) and 0 < test_size < 1:
        n_test = math.ceil(test_size * n)
    else:
        raise ValueError(f"train_test_split: test_size must be a fraction in (0, 1) or a count, got {test_size!r}")
    if not 0 < n_test < n:
        raise ValueError(
            f"train_test_split: test_size={test_size!r} gives {n_test} test samples out of {n}; "
            "both the training and the test set need at least one"
        )
    return n_test


def _stratified_test(labels, n_test, rng):
    """(test, train) indices with class c getting about ``n_test * count_c / n`` test samples:
    the floors of those shares, plus one more for the classes with the largest remainders
    until the total is ``n_test``."""
    classes, y, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if counts.min() < 2:
        raise ValueError(
            f"train_test_split: stratify: class {classes[counts.argmin()].item()!r} has only 1 sample; "
            "each class needs at least 2 to appear in both sets"
        )
    shares = counts * n_test / len(y)
    per_class = np.floor(shares).astype(np.int64)
    largest_remainders = np.argsort(-(shares - per_class), kind="stable")
    per_class[largest_remainders[: n_test - per_class.sum()]] += 1
    test, train = [], []
    for c, k in enumerate(per_class):
        members = rng.permutation(np.flatnonzero(y == c))
        test.append(members[:k])
        train.append(members[k:])
    return rng.permutation(np.concatenate(test)), rng.permutation(np.concatenate(train))


def _take(array, indices):
    return array[indices] if hasattr(array, "shape") else np.asarray(array)[indices]


class KFold:
    """k-fold cross-validation: the samples are cut into ``n_splits`` consecutive folds (after a
    shuffle when ``shuffle=True``); each fold is the test set once, the rest the training set.

    As scikit-learn: the first ``n % n_splits`` folds have ``n // n_splits + 1`` samples, the
    others ``n // n_splits``, and the indices of each part come sorted.  ``seed`` (with
    shuffle) makes the folds reproducible; None uses minidl's global generator.
    """

    def __init__(self, n_splits=5, shuffle=False, seed=None):
        if isinstance(n_splits, bool) or not isinstance(n_splits, numbers.Integral) or n_splits < 2:
            raise ValueError(f"{type(self).__name__}: n_splits must be an integer >= 2, got {n_splits!r}")
        if seed is not None and not shuffle:
            raise ValueError(f"{type(self).__name__}: a seed has no effect with shuffle=False; pass shuffle=True or no seed")
        self.n_splits, self.shuffle, self.seed = int(n_splits), shuffle, seed

    def get_n_splits(self):
        return self.n_splits

    def split(self, x, y=None):
        """Yield ``(train_indices, test_indices)``, int64 arrays, once per fold."""
        n = len(x)
        if n < self.n_splits:
            raise ValueError(f"{type(self).__name__}: cannot make {self.n_splits} folds out of {n} samples")
        rng = make_generator(self.seed)  # a fresh generator per call: a seeded splitter repeats its folds
        folds = self._fold_of_each_sample(n, y, rng)
        for fold in range(self.n_splits):
            yield np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)

    def _fold_of_each_sample(self, n, y, rng):
        """The test fold of each sample: fold sizes as in the docstring, consecutive samples."""
        sizes = np.full(self.n_splits, n // self.n_splits)
        sizes[: n % self.n_splits] += 1
        folds = np.repeat(np.arange(self.n_splits), sizes)
        return rng.permutation(folds) if self.shuffle else folds


class StratifiedKFold(KFold):
    """k-fold cross-validation keeping the class proportions: in every fold, each class has
    ``count_c // n_splits`` or one more samples.

    As scikit-learn: sort the labels (classes in order of first appearance) and deal the sorted
    samples round-robin to the folds; that fixes how many samples of each class every fold gets.
    Within a class, samples go to folds in their order (or shuffled, with ``shuffle=True``).
    ``split(x, y)`` needs the labels ``y``.
    """

    def split(self, x, y=None):
        if y is None:
            raise ValueError("StratifiedKFold.split: needs the labels y to stratify, got None")
        y = as_numpy(y)
        if len(y) != len(x):
            raise ValueError(f"StratifiedKFold.split: x has {len(x)} samples but y has {len(y)} labels")
        return super().split(x, y)

    def _fold_of_each_sample(self, n, y, rng):
        _, first_seen, label_ids = np.unique(y, return_index=True, return_inverse=True)
        y = np.argsort(np.argsort(first_seen))[label_ids.reshape(-1)]  # class ids by first appearance
        n_classes = len(first_seen)
        counts = np.bincount(y, minlength=n_classes)
        if counts.max() < self.n_splits:
            raise ValueError(
                f"StratifiedKFold: n_splits={self.n_splits} is more than the number of samples of every class "
                f"(at most {counts.max()})"
            )
        if counts.min() < self.n_splits:
            warnings.warn(
                f"StratifiedKFold: the smallest class has only {counts.min()} sample(s), fewer than "
                f"n_splits={self.n_splits}; some folds will not contain it",
                UserWarning,
                stacklevel=3,
            )
        dealt = np.sort(y)
        per_fold = np.stack([np.bincount(dealt[i :: self.n_splits], minlength=n_classes) for i in range(self.n_splits)])
        folds = np.empty(n, dtype=np.int64)
        for c in range(n_classes):
            folds_of_class = np.repeat(np.arange(self.n_splits), per_fold[:, c])
            folds[y == c] = rng.permutation(folds_of_class) if self.shuffle else folds_of_class
        return folds


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given ``lengths``.

    ``lengths`` are sample counts summing to ``len(dataset)``, or fractions summing to 1: then
    part i gets ``floor(n * fraction_i)`` samples and the samples left over go one each to parts
    0, 1, 2, ... in turn (PyTorch's rule; a part that ends up empty gives a warning).
    ``generator``: a ``numpy.random.Generator`` or a seed; None uses minidl's global generator.
    """
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        lengths = _lengths_from_fractions(lengths, n)
    if sum(lengths) != n:
        raise ValueError(
            f"random_split: the lengths {list(lengths)} sum to {sum(lengths)}, but the dataset has {n} samples"
        )
    indices = make_generator(generator).permutation(n).tolist()
    return [Subset(dataset, indices[end - length : end]) for end, length in zip(itertools.accumulate(lengths), lengths)]


def _lengths_from_fractions(fractions, n):
    """floor(n * fraction) per part, then the remainder dealt out one by one from part 0."""
    for i, fraction in enumerate(fractions):
        if not 0 <= fraction <= 1:
            raise ValueError(f"random_split: the fraction at index {i} is not between 0 and 1, got {fraction}")
    lengths = [math.floor(n * fraction) for fraction in fractions]
    for i in range(n - sum(lengths)):
        lengths[i % len(lengths)] += 1
    for i, length in enumerate(lengths):
        if length == 0:
            warnings.warn(
                f"random_split: the part at index {i} has length 0 (an empty dataset)", UserWarning, stacklevel=3
            )
    return lengths
