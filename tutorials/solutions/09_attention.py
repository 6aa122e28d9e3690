"""Solutions to the exercises of tutorial 09, attention and a tiny Transformer.

Run from the repository root, ``python tutorials/solutions/09_attention.py`` checks exercise 1 with
``md.testing.check_exercise``; with ``--all`` it also runs exercises 2-4 (about a minute), using the
tutorial's model and training loop (the tutorial runs first, in fast mode, to define them).
``CHECKED`` maps each checkable exercise's name to its solution.
"""
import os
import runpy
import sys
from pathlib import Path

import numpy as np

import minidl as md


def attention(q, k, v, mask):
    """Exercise 1.  Scores q k^T / sqrt(d); masked ones -inf; a softmax over the keys with each
    row's largest score subtracted first (no overflow); then the weighted mean of the values."""
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    return weights @ v


CHECKED = {"scaled_dot_product_attention": attention}


def experiments(tutorial):
    """Exercises 2-4 with the tutorial's ``train_transformer`` and ``accuracy``."""
    train, accuracy, steps = tutorial["train_transformer"], tutorial["accuracy"], 600
    model, losses = train(steps, positions=False)
    print(f"2. without positions: last loss {losses[-1]:.2f}, " + report(*accuracy(model)))
    length = tutorial["LENGTH"]
    mask = md.tensor(np.triu(np.full((length, length), -np.inf, dtype=np.float32), 1), device=tutorial["DEVICE"])
    model, _ = train(steps, mask=mask)
    print("3. causal mask: " + report(*accuracy(model, mask=mask)))
    model, _ = train(1500, task="sort")
    print("4. sorting, 1500 steps: " + report(*accuracy(model, task="sort")))


def report(tokens, sequences):
    return f"token accuracy {tokens:.3f}, sequence accuracy {sequences:.3f}"


if __name__ == "__main__":
    for name, solution in CHECKED.items():
        assert md.testing.check_exercise(name, solution), name
    if "--all" in sys.argv:
        os.environ["MINIDL_FAST"] = "1"
        experiments(runpy.run_path(str(Path("tutorials") / "09_attention.py")))
