"""Tutorial 03's exercise: one Adam step."""
import numpy as np

import minidl as md
from minidl.exercises.check import Exercise, as_array


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
        path.append(as_array(w))
    return np.stack(path)


def _adam_reference(w, grads):
    param = md.nn.Parameter(md.tensor(w, dtype=md.float64))
    optimizer, path = md.optim.Adam([param], lr=0.01), []
    for g in grads:
        param.grad = md.tensor(g, dtype=md.float64)
        optimizer.step()
        path.append(param.numpy().copy())
    return np.stack(path)


EXERCISES = [
    Exercise("adam_step", "03 exercise 4",
             "adam_step(w, g, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8) -> (w, m, v), t counting from 1",
             _adam_cases, _adam_reference, run=_run_adam),
]  # fmt: skip
