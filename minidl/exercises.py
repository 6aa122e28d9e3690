"""Check a tutorial exercise against the engine: ``md.testing.check_exercise(name, fn)``.

    >>> md.testing.check_exercise("conv_forward", my_conv)
    conv_forward: correct! (3 random cases agree with the engine)

Each exercise runs the learner's ``fn`` and the engine on the same random inputs and compares the
results.  The verdict is printed and returned: it is truthy when the exercise passes, and otherwise
says which case failed and how far off the answer was.  ``EXERCISES`` lists every exercise with the
signature it expects; an unknown name raises a ValueError that lists them all.
"""
from dataclasses import dataclass

import numpy as np

import minidl as md
import minidl.functional as F


@dataclass(frozen=True)
class Exercise:
    """One checkable exercise: ``cases(rng)`` yields ``(description, inputs)``; ``run(fn, *inputs)``
    calls the learner's function and ``reference(*inputs)`` the engine, each returning arrays."""

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


class _Mismatch(Exception):
    """The learner's result differs from the engine's; the message says where and by how much."""


def check_exercise(name, fn, seed=0):
    """Compare ``fn`` with the engine on random inputs for exercise ``name``; print the verdict
    and return it (a ``Verdict``, true when every case agrees)."""
    if name not in EXERCISES:
        listing = "".join(f"\n  {e.name} (tutorial {e.tutorial}): {e.signature}" for e in EXERCISES.values())
        raise ValueError(f"check_exercise: unknown exercise {name!r}; the exercises are:{listing}")
    exercise = EXERCISES[name]
    if not callable(fn):
        raise TypeError(f"check_exercise: {name} expects a function {exercise.signature}, got {type(fn).__name__}")
    verdict = Verdict(name, *_judge(exercise, fn, np.random.default_rng(seed)))
    print(verdict)
    return verdict


def _judge(exercise, fn, rng):
    run = exercise.run or (lambda fn, *inputs: fn(*inputs))
    cases = list(exercise.cases(rng))
    for number, (description, inputs) in enumerate(cases, 1):
        where = f"case {number} ({description})"
        try:
            actual = run(fn, *inputs)
        except NotImplementedError:
            return False, "not done yet (your function raises NotImplementedError)"
        except Exception as error:  # the learner's code failed: say so instead of crashing the check
            return False, f"{where}: your function raised {type(error).__name__}: {error}"
        try:
            _compare(actual, exercise.reference(*inputs), exercise.rtol)
        except _Mismatch as mismatch:
            return False, f"{where}: {mismatch}\n  expected signature: {exercise.signature}"
    return True, f"correct! ({len(cases)} random cases agree with the engine)"


def _compare(actual, expected, rtol):
    """Raise ``_Mismatch`` unless every expected array equals its counterpart in ``actual``."""
    expected = expected if isinstance(expected, tuple) else (expected,)
    actual = tuple(actual)[: len(expected)] if isinstance(actual, (tuple, list)) else (actual,)
    if len(actual) != len(expected):
        raise _Mismatch(f"expected {len(expected)} results, got {len(actual)}")
    for index, (mine, theirs) in enumerate(zip(actual, expected)):
        what = f"result {index}" if len(expected) > 1 else "the result"
        mine = _as_array(mine)
        if mine.shape != theirs.shape:
            raise _Mismatch(f"{what} has shape {mine.shape}, expected {theirs.shape}")
        error = np.abs(mine - theirs)
        if not np.all(error <= rtol * np.abs(theirs) + 1e-9):
            worst = np.unravel_index(np.argmax(np.where(np.isnan(error), np.inf, error)), error.shape)
            raise _Mismatch(
                f"{what} is off by up to {error[worst]:.3g} at index {tuple(int(i) for i in worst)}: "
                f"expected {theirs[worst]:.6g}, got {mine[worst]:.6g}"
            )


def _as_array(value):
    return value.numpy() if isinstance(value, md.Tensor) else np.asarray(value, dtype=np.float64)


def _tensors(*arrays):
    return [md.tensor(a, dtype=md.float64) for a in arrays]


# ---------------------------------------------------------------- 01: a backward, undoing broadcasting
def _softplus_cases(rng):
    yield "a = [-30, -1, 0, 2, 800]", (np.array([-30.0, -1.0, 0.0, 2.0, 800.0]), rng.standard_normal(5))
    for shape in [(3, 4), (2, 3, 2)]:
        yield f"a and grad of shape {shape}", (3 * rng.standard_normal(shape), rng.standard_normal(shape))


def _run_softplus(function_class, a, grad):
    x = md.tensor(a, requires_grad=True, dtype=md.float64)
    function_class.apply(x).backward(grad)
    return x.grad


def _softplus_reference(a, grad):
    return grad * md.sigmoid(md.tensor(a, dtype=md.float64)).numpy()


def _sum_to_shape_cases(rng):
    grad = rng.standard_normal((2, 3, 4))
    for shape in [(2, 3, 4), (4,), (3, 1), (1, 1, 4), (2, 1, 1), ()]:
        yield f"grad (2, 3, 4) to shape {shape}", (grad, shape)


# ---------------------------------------------------------------- 02: max pooling, im2col convolution
def _window_cases(rng):
    for shape in [(2, 2), (2, 3), (3, 3)]:
        window = rng.integers(-3, 3, size=shape).astype(np.float64)  # small integers: ties happen
        yield f"window {window.tolist()}", (window, float(rng.standard_normal()))


def _window_reference(window, grad):
    x = md.tensor(window[None, None], requires_grad=True, dtype=md.float64)
    F.max_pool2d(x, window.shape).backward(np.full((1, 1, 1, 1), grad))
    return x.grad.numpy()[0, 0]


def _conv_cases(rng):
    for n, c, size, out, k, stride, padding in [(1, 1, 5, 1, 3, 1, 0), (2, 3, 7, 4, 3, 2, 1), (2, 2, 6, 3, 2, 1, 2)]:
        x, weight = rng.standard_normal((n, c, size, size + 1)), rng.standard_normal((out, c, k, k))
        yield f"x {x.shape}, weight {weight.shape}, stride {stride}, padding {padding}", (x, weight, stride, padding)


def _conv_reference(x, weight, stride, padding):
    return F.conv2d(*_tensors(x, weight), stride=stride, padding=padding).numpy()


# ---------------------------------------------------------------- 03: one Adam step
ADAM_STEPS = 5


def _adam_cases(rng):
    for shape in [(3,), (2, 4)]:
        w, grads = rng.standard_normal(shape), rng.standard_normal((ADAM_STEPS,) + shape)
        yield f"w {shape}, {ADAM_STEPS} steps with lr=0.01; the result is w after each step", (w, grads)


def _run_adam(adam_step, w, grads):
    """Feed the gradients to the learner's step one at a time, from m = v = 0; the trajectory of w."""
    m, v, path = np.zeros_like(w), np.zeros_like(w), []
    for t, g in enumerate(grads, 1):
        w, m, v = adam_step(w, g, m, v, t, lr=0.01)
        path.append(_as_array(w))
    return np.stack(path)


def _adam_reference(w, grads):
    param = md.nn.Parameter(md.tensor(w, dtype=md.float64))
    optimizer, path = md.optim.Adam([param], lr=0.01), []
    for g in grads:
        param.grad = md.tensor(g, dtype=md.float64)
        optimizer.step()
        path.append(param.numpy().copy())
    return np.stack(path)


# ---------------------------------------------------------------- 04: recurrent cells by hand
def _cell_cases(cell_class, state_count):
    """Cases for a recurrent cell exercise: (x, *states, cell) with a fresh float64 cell each time."""

    def cases(rng):
        for batch, features, hidden in [(1, 3, 2), (4, 5, 3)]:
            with md.default_dtype(md.float64):
                cell = cell_class(features, hidden)
            for param in cell.parameters():
                param.array[...] = rng.uniform(-1, 1, param.shape)  # the same weights on every run
            x, *states = _tensors(rng.standard_normal((batch, features)),
                                  *(rng.standard_normal((batch, hidden)) for _ in range(state_count)))  # fmt: skip
            yield f"batch {batch}, input size {features}, hidden size {hidden}", (x, *states, cell)

    return cases


def _cell_reference(x, *states_and_cell):
    *states, cell = states_and_cell
    with md.no_grad():
        out = cell(x, tuple(states) if len(states) > 1 else states[0])
    return tuple(o.numpy() for o in out) if isinstance(out, tuple) else out.numpy()


# ---------------------------------------------------------------- 05: statistics from the training set only
def _standardize_cases(rng):
    for shape in [(20, 3), (50, 5)]:
        train = 3 * rng.standard_normal(shape) + 5
        train[:, 0] = 2.0  # a constant feature: std 0 must not give NaN
        yield f"train {shape}, test (7, {shape[1]})", (train, 3 * rng.standard_normal((7, shape[1])) + 5)


def _standardize_reference(train, test):
    scaler = md.data.Standardizer(axis=0).fit(train)
    return scaler.transform(train), scaler.transform(test)


# ---------------------------------------------------------------- 06: int8 quantization
def _quantize_cases(rng):
    yield "a vector with one large weight", (np.array([0.5, -0.01, 0.2, -3.0, 0.0]),)
    for shape in [(4, 6), (3, 2, 3, 3)]:
        yield f"weights of shape {shape}", (0.1 * rng.standard_normal(shape),)


def _quantize_reference(w):
    q, scale = md.compress.quantize_tensor(w, per_channel=False)
    return q, scale


EXERCISES = {
    exercise.name: exercise
    for exercise in [
        Exercise("softplus_backward", "01 exercise 1",
                 "a Function subclass Softplus with forward(ctx, a) = log(1 + e^a) and backward(ctx, grad)",
                 _softplus_cases, _softplus_reference, run=_run_softplus),
        Exercise("sum_to_shape", "01 exercise 3", "sum_to_shape(grad, shape) -> array of that shape",
                 _sum_to_shape_cases, md.autograd.sum_to_shape),
        Exercise("max_pool_backward_window", "02 exercise 2",
                 "window_backward(window, grad) -> array of the window's shape", _window_cases, _window_reference),
        Exercise("conv_forward", "02 exercise 3",
                 "conv2d_im2col(x (N, C, H, W), weight (O, C, kh, kw), stride, padding) -> (N, O, OH, OW)",
                 _conv_cases, _conv_reference),
        Exercise("adam_step", "03 exercise 4",
                 "adam_step(w, g, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8) -> (w, m, v), t counting from 1",
                 _adam_cases, _adam_reference, run=_run_adam),
        Exercise("lstm_cell", "04 section 1",
                 "lstm_step(x, h, c, cell: md.nn.LSTMCell) -> (h', c', ...) as Tensors, gates in order i, f, g, o",
                 _cell_cases(md.nn.LSTMCell, state_count=2), _cell_reference, rtol=1e-6),
        Exercise("gru_step", "04 exercise 2", "gru_step(x, h, cell: md.nn.GRUCell) -> h' as a Tensor",
                 _cell_cases(md.nn.GRUCell, state_count=1), _cell_reference, rtol=1e-6),
        Exercise("standardize", "05 exercise 5",
                 "standardize(train, test) -> (train', test'), both scaled with the training set's mean and std",
                 _standardize_cases, _standardize_reference, rtol=1e-6),
        Exercise("quantize_int8", "06 exercise 5",
                 "quantize(w) -> (q, scale): scale = max|w| / 127, q = round(w / scale) clipped to [-127, 127]",
                 _quantize_cases, _quantize_reference, rtol=1e-6),
    ]
}  # fmt: skip
