"""Tutorial 01's exercises 1 and 3: a Function's backward, undoing broadcasting (exercise 5, the backward pass itself, is in backward_pass.py)."""
import numpy as np

import minidl as md
from minidl.exercises.check import Exercise


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


EXERCISES = [
    Exercise("softplus_backward", "01 exercise 1",
             "a Function subclass Softplus with forward(ctx, a) = log(1 + e^a) and backward(ctx, grad)",
             _softplus_cases, _softplus_reference, run=_run_softplus),
    Exercise("sum_to_shape", "01 exercise 3", "sum_to_shape(grad, shape) -> array of that shape",
             _sum_to_shape_cases, md.autograd.sum_to_shape),
]  # fmt: skip
