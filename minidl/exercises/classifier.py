"""Tutorial 02's exercises: the backward of a matrix product, and of softmax with cross-entropy."""
import numpy as np

import minidl as md
import minidl.functional as F
from minidl.exercises.check import Exercise


def _matmul_cases(rng):
    for m, k, n in [(2, 3, 4), (1, 5, 1), (4, 4, 2)]:
        yield f"a ({m}, {k}) @ b ({k}, {n})", (rng.standard_normal((m, k)), rng.standard_normal((k, n)),
                                               rng.standard_normal((m, n)))  # fmt: skip
    # A layer applied to a batch of sequences: b is shared by every matrix of a, as a layer's weight.
    yield "a batch a (3, 2, 4) @ one b (4, 5): b is broadcast over the batch", (
        rng.standard_normal((3, 2, 4)), rng.standard_normal((4, 5)), rng.standard_normal((3, 2, 5)))


def _matmul_reference(a, b, grad):
    a, b = (md.tensor(v, dtype=md.float64, requires_grad=True) for v in (a, b))
    (a @ b).backward(md.tensor(grad, dtype=md.float64))
    return a.grad.numpy(), b.grad.numpy()


def _cross_entropy_cases(rng):
    yield "3 samples, 4 classes", (rng.standard_normal((3, 4)), rng.integers(0, 4, size=3))
    yield "1 sample, 10 classes", (rng.standard_normal((1, 10)), np.array([7]))
    big = rng.standard_normal((5, 3)) + np.array([1000.0, 0.0, -1000.0])
    yield "logits near +-1000 (a naive exp overflows)", (big, rng.integers(0, 3, size=5))
    yield "all logits near -1000 (a naive exp underflows to 0 / 0)", (rng.standard_normal((4, 3)) - 1000.0,
                                                                       rng.integers(0, 3, size=4))  # fmt: skip


def _cross_entropy_reference(logits, targets):
    z = md.tensor(logits, dtype=md.float64, requires_grad=True)
    F.cross_entropy(z, md.tensor(targets)).backward()
    return z.grad.numpy()


EXERCISES = [
    Exercise("matmul_backward", "02 exercise 1",
             "matmul_backward(a (..., m, k), b (k, n), grad (..., m, n)) -> (grad_a shaped like a, grad_b shaped like b) "
             "for c = a @ b",
             _matmul_cases, _matmul_reference),
    Exercise("softmax_cross_entropy_backward", "02 exercise 2",
             "softmax_cross_entropy_backward(logits (N, C), targets (N,) ints) -> dL/dlogits (N, C) for the mean loss",
             _cross_entropy_cases, _cross_entropy_reference),
]  # fmt: skip
