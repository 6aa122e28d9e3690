"""Tutorial 08's exercises: batch norm's forward in training mode, and its backward in one formula."""
import minidl as md
import minidl.functional as F
from minidl.exercises.check import Exercise

EPS = 1e-5


def _cases(rng):
    for shape in [(8, 3), (4, 2, 3, 3), (2, 5, 4, 1)]:
        x = 2 * rng.standard_normal(shape) + 1
        channels = shape[1]
        yield f"x {shape}", (x, rng.uniform(0.5, 1.5, channels), rng.standard_normal(channels),
                             rng.standard_normal(shape))  # fmt: skip


def _forward_reference(x, gamma, beta, grad):
    return _batch_norm(x, gamma, beta)[0].numpy()


def _run_forward(batch_norm_forward, x, gamma, beta, grad):
    return batch_norm_forward(x, gamma, beta, EPS)


def _batch_norm(x, gamma, beta):
    x, gamma, beta = (md.tensor(v, dtype=md.float64, requires_grad=True) for v in (x, gamma, beta))
    return F.batch_norm(x, None, None, gamma, beta, training=True, eps=EPS), x, gamma, beta


def _backward_reference(x, gamma, beta, grad):
    out, x, gamma, beta = _batch_norm(x, gamma, beta)
    out.backward(grad)
    return x.grad.numpy(), gamma.grad.numpy(), beta.grad.numpy()


def _run_backward(batch_norm_backward, x, gamma, beta, grad):
    return batch_norm_backward(x, gamma, grad, EPS)


EXERCISES = [
    Exercise("batch_norm_forward", "08 exercise 1",
             "batch_norm_forward(x (N, C, ...), gamma (C,), beta (C,), eps) -> out, with the batch's mean and "
             "biased variance per channel", _cases, _forward_reference, run=_run_forward, rtol=1e-9),
    Exercise("batch_norm_backward", "08 exercise 2",
             "batch_norm_backward(x (N, C, ...), gamma (C,), grad (x's shape), eps) -> (dx, dgamma, dbeta) "
             "in training mode", _cases, _backward_reference, run=_run_backward, rtol=1e-8),
]  # fmt: skip
