"""Tutorial 07's exercise: int8 quantization."""
import numpy as np

import minidl as md
from minidl.exercises.check import Exercise


def _quantize_cases(rng):
    yield "a vector with one large weight", (np.array([0.5, -0.01, 0.2, -3.0, 0.0]),)
    for shape in [(4, 6), (3, 2, 3, 3)]:
        yield f"weights of shape {shape}", (0.1 * rng.standard_normal(shape),)


def _quantize_reference(w):
    q, scale = md.compress.quantize_tensor(w, per_channel=False, bits=8)
    return q, scale


EXERCISES = [
    Exercise("quantize_int8", "07 exercise 5",
             "quantize(w) -> (q, scale): scale = max|w| / 127, q = round(w / scale) clipped to [-127, 127]",
             _quantize_cases, _quantize_reference, rtol=1e-6),
]  # fmt: skip
