"""Gradients of gradients through indexing, against torch (float64): repeated positions in an array
index, boolean masks, index_select/gather/topk, writes into a tensor and into its views,
embedding with padding_idx, repeat, pad and casts; first, second and third derivatives, so that
the backward of the backward (``ScatterAdd``, a recorded ``Overwrite``) is itself differentiated."""
import numpy as np
import pytest

import minidl as md
from minidl.testing import gradgradcheck

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

rng = np.random.default_rng(0)
ROWS = np.array([0, 2, 0, 3, 0])  # position 0 picked three times: its gradients must add up
COLS = np.array([1, 1, 2, 0, 1])
MASK = rng.random((4, 3)) > 0.5
TOKENS = np.array([[1, 0, 3], [1, 1, 4]])  # row 1 is the padding row, picked three times


def curved(lib, y):
    """sin(y) y: nonzero first, second and third derivatives everywhere (a linear op alone has none)."""
    return lib.sin(y) * y


def write_into_views(lib, x, v):
    """x * 1 changed in place through a row, the transpose and a row again, then ``curved``."""
    y = x * 1
    y[1].mul_(x[0])
    y.transpose(0, 1).add_(v)
    row = y[2]
    row += x[3] * x[3]
    return curved(lib, y)


def setitem_at(index):
    def write(lib, x, v):
        y = x * 1
        y[index(lib)] = v * v
        return curved(lib, y)

    return write


CASES = {  # name: (function of the library and its inputs, input arrays)
    "repeated integer arrays": (lambda lib, x: curved(lib, x[lib.tensor(ROWS), lib.tensor(COLS)]), [rng.standard_normal((4, 3))]),
    "slice and repeated array": (lambda lib, x: curved(lib, x[1:, [2, 0, 2]]), [rng.standard_normal((4, 3))]),
    "boolean mask": (lambda lib, x: curved(lib, x[lib.tensor(MASK)]), [rng.standard_normal((4, 3))]),
    "index_select repeated": (lambda lib, x: curved(lib, x.index_select(1, lib.tensor(COLS))), [rng.standard_normal((4, 3))]),
    "gather": (lambda lib, x: curved(lib, lib.gather(x, 0, lib.tensor(ROWS[:4].reshape(2, 2)))), [rng.standard_normal((4, 3))]),
    "topk": (lambda lib, x: curved(lib, lib.topk(x, 2, dim=0).values), [rng.standard_normal((4, 3))]),
    "masked_fill with a tensor value": (lambda lib, x, v: curved(lib, x.masked_fill(lib.tensor(MASK), v * v)),
                                        [rng.standard_normal((4, 3)), rng.standard_normal(())]),
    "setitem integer array": (setitem_at(lambda lib: lib.tensor([3, 0])), [rng.standard_normal((4, 3)), rng.standard_normal((2, 3))]),
    "setitem boolean mask": (setitem_at(lambda lib: lib.tensor(MASK)), [rng.standard_normal((4, 3)), rng.standard_normal(int(MASK.sum()))]),
    "setitem slice, broadcast value": (setitem_at(lambda lib: (slice(1, 3),)), [rng.standard_normal((4, 3)), rng.standard_normal((3,))]),
    "in-place writes into views": (write_into_views, [rng.standard_normal((4, 3)), rng.standard_normal((3, 4))]),
    "embedding padding_idx": (lambda lib, w: curved(lib, lib.nn.functional.embedding(lib.tensor(TOKENS), w, padding_idx=1)),
                              [rng.standard_normal((5, 2))]),
    "repeat": (lambda lib, x: curved(lib, x.repeat(2, 1, 3)), [rng.standard_normal((2, 3))]),
    "clone of a transpose": (lambda lib, x: curved(lib, x.mT.clone()), [rng.standard_normal((2, 3))]),
}  # fmt: skip
PAD_MODES = {"constant": (2, -1, 1, 0), "reflect": (2, 1, 1, 2), "replicate": (3, 2, 0, 1), "circular": (2, -1, 1, 3)}
for mode, pads in PAD_MODES.items():  # the last two dims padded (reflect, replicate, circular copy positions twice)
    CASES[f"pad {mode}"] = (lambda lib, x, pads=pads, mode=mode: curved(lib, lib.nn.functional.pad(x, pads, mode)),
                            [rng.standard_normal((2, 3, 4))])


def three_derivatives(lib, fn, arrays, seed=1):
    """For L = sum(fn(inputs) * w): dL/dx, then the derivative of <dL/dx, v>, then the derivative
    of <that, u> (w, v, u random): first, second and third derivatives along directions."""
    draw = np.random.default_rng(seed)
    inputs = [lib.tensor(a, requires_grad=True) for a in arrays]
    out = fn(lib, *inputs)
    total = (out * lib.tensor(draw.standard_normal(tuple(out.shape)))).sum()
    results = []
    for order in range(3):
        grads = lib.autograd.grad(total, inputs, create_graph=order < 2, materialize_grads=True)
        results += [g.detach().numpy() for g in grads]
        total = sum((g * lib.tensor(draw.standard_normal(a.shape))).sum() for g, a in zip(grads, arrays))
    return results


@pytest.mark.parametrize("name", sorted(CASES))
def test_first_second_and_third_derivatives_match_torch(name):
    fn, arrays = CASES[name]
    ours, theirs = (three_derivatives(lib, fn, arrays) for lib in (md, torch))
    for mine, their in zip(ours, theirs):
        np.testing.assert_allclose(mine, their, rtol=1e-9, atol=1e-12)


def test_the_derivatives_of_a_float32_input_used_in_float64_are_float32_as_torchs():
    x = rng.standard_normal((3, 4)).astype(np.float32)
    ours, theirs = (three_derivatives(lib, lambda lib, x: curved(lib, x.double()), [x]) for lib in (md, torch))
    for mine, their in zip(ours, theirs):
        assert mine.dtype == their.dtype == np.float32
        np.testing.assert_allclose(mine, their, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["repeated integer arrays", "boolean mask", "in-place writes into views",
                                  "embedding padding_idx", "pad reflect"])  # fmt: skip
def test_second_derivatives_match_central_differences(name):
    fn, arrays = CASES[name]
    assert gradgradcheck(lambda *xs: fn(md, *xs), [md.tensor(a, requires_grad=True) for a in arrays])
