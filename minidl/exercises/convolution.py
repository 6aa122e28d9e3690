"""Tutorial 04's exercises: the backward of one max-pool window, convolution via im2col."""
import numpy as np

import minidl as md
import minidl.functional as F
from minidl.exercises.check import Exercise, tensors


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
    return F.conv2d(*tensors(x, weight), stride=stride, padding=padding).numpy()


EXERCISES = [
    Exercise("max_pool_backward_window", "04 exercise 2",
             "window_backward(window, grad) -> array of the window's shape", _window_cases, _window_reference),
    Exercise("conv_forward", "04 exercise 3",
             "conv2d_im2col(x (N, C, H, W), weight (O, C, kh, kw), stride, padding) -> (N, O, OH, OW)",
             _conv_cases, _conv_reference),
]  # fmt: skip
