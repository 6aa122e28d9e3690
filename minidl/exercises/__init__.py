"""Check a tutorial exercise against the engine: ``md.testing.check_exercise(name, fn)``.

    >>> md.testing.check_exercise("conv_forward", my_conv)
    conv_forward: correct! (3 random cases agree with the engine)

Each exercise runs the learner's ``fn`` and the engine on the same random inputs and compares the
results.  The verdict is printed and returned: it is truthy when the exercise passes, and otherwise
says which case failed and how far off the answer was.  ``EXERCISES`` lists every exercise with the
signature it expects; an unknown name raises a ValueError that lists them all.  A pass is
remembered (see ``progress``), and ``md.testing.progress()`` prints which exercises have passed.
"""
import numpy as np

from minidl.exercises import (attention, autograd, backward_pass, classifier, compression, convolution, initialization,
                              normalization, optimizers, recurrent, training)
from minidl.exercises import progress as _progress
from minidl.exercises.check import Verdict, judge

EXERCISES = {
    exercise.name: exercise
    for module in (autograd, backward_pass, classifier, optimizers, convolution, recurrent, training, compression,
                   normalization, attention, initialization)
    for exercise in module.EXERCISES
}


def check_exercise(name, fn, seed=0):
    """Compare ``fn`` with the engine on random inputs for exercise ``name``; print the verdict
    and return it (a ``Verdict``, true when every case agrees).  A pass is recorded for
    ``progress()``."""
    if name not in EXERCISES:
        listing = "".join(f"\n  {e.name} (tutorial {e.tutorial}): {e.signature}" for e in EXERCISES.values())
        raise ValueError(f"check_exercise: unknown exercise {name!r}; the exercises are:{listing}")
    exercise = EXERCISES[name]
    if not callable(fn):
        raise TypeError(f"check_exercise: {name} expects a function {exercise.signature}, got {type(fn).__name__}")
    verdict = Verdict(name, *judge(exercise, fn, np.random.default_rng(seed)))
    print(verdict)
    if verdict:
        _progress.record_pass(name)
    return verdict


def progress():
    """Print which exercises have passed, tutorial by tutorial; return ``{name: passed}``."""
    return _progress.progress(EXERCISES)
