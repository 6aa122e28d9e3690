"""How an exercise is judged: the learner's function and the engine run on the same random inputs,
and the results are compared value by value."""
from dataclasses import dataclass

import numpy as np

import minidl as md


@dataclass(frozen=True)
class Exercise:
    """One checkable exercise: ``cases(rng)`` yields ``(description, inputs)``; ``run(fn, *inputs)``
    calls the learner's function and ``reference(*inputs)`` the engine, each returning arrays.
    ``run`` may raise ``Mismatch`` itself when it finds a mistake that values do not show."""

    name: str
    tutorial: str
    signature: str
    cases: callable
    reference: callable
    run: callable = None  # default: fn(*inputs)
    rtol: float = 1e-7


@dataclass(frozen=True)
class Verdict:
    """The outcome of ``check_exercise``: ``passed`` and a message saying why."""

    name: str
    passed: bool
    message: str

    def __bool__(self):
        return self.passed

    def __str__(self):
        return f"{self.name}: {self.message}"


class Mismatch(Exception):
    """The learner's result differs from the engine's; the message says where and by how much."""


def judge(exercise, fn, rng):
    """``(passed, message)`` for the learner's ``fn`` on every case of ``exercise``."""
    run = exercise.run or (lambda fn, *inputs: fn(*inputs))
    cases = list(exercise.cases(rng))
    for number, (description, inputs) in enumerate(cases, 1):
        where = f"case {number} ({description})"
        try:
            actual = run(fn, *inputs)
            compare(actual, exercise.reference(*inputs), exercise.rtol)
        except NotImplementedError:
            return False, "not done yet (your function raises NotImplementedError)"
        except Mismatch as mismatch:
            return False, f"{where}: {mismatch}\n  expected signature: {exercise.signature}"
        except Exception as error:  # the learner's code failed: say so instead of crashing the check
            return False, f"{where}: your function raised {type(error).__name__}: {error}"
    return True, f"correct! ({len(cases)} random cases agree with the engine)"


def compare(actual, expected, rtol):
    """Raise ``Mismatch`` unless every expected array equals its counterpart in ``actual``."""
    expected = expected if isinstance(expected, tuple) else (expected,)
    actual = tuple(actual)[: len(expected)] if isinstance(actual, (tuple, list)) else (actual,)
    if len(actual) != len(expected):
        raise Mismatch(f"expected {len(expected)} results, got {len(actual)}")
    for index, (mine, theirs) in enumerate(zip(actual, expected)):
        what = f"result {index}" if len(expected) > 1 else "the result"
        mine = as_array(mine)
        if mine.shape != theirs.shape:
            raise Mismatch(f"{what} has shape {mine.shape}, expected {theirs.shape}")
        error = np.abs(mine - theirs)
        if not np.all(error <= rtol * np.abs(theirs) + 1e-9):
            worst = np.unravel_index(np.argmax(np.where(np.isnan(error), np.inf, error)), error.shape)
            raise Mismatch(
                f"{what} is off by up to {error[worst]:.3g} at index {tuple(int(i) for i in worst)}: "
                f"expected {theirs[worst]:.6g}, got {mine[worst]:.6g}"
            )


def as_array(value):
    """A learner's result (Tensor, array or number) as a float64 NumPy array."""
    return value.numpy() if isinstance(value, md.Tensor) else np.asarray(value, dtype=np.float64)


def tensors(*arrays):
    """float64 Tensors holding ``arrays``."""
    return [md.tensor(a, dtype=md.float64) for a in arrays]
