"""Adam's compiled update (``kernels.optim.adam_update``) against its array code
(``minidl.optim.Adam.update``): the same operations in the same order, so the same bits."""
import numpy as np
import pytest

import minidl as md
from minidl import optim
from minidl.optim import adam as adam_module

SETTINGS = [
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-3, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.3)),
]


def trajectory(name, hyper, dtype, steps=6):
    """Parameters, moments and step counts after ``steps`` steps on fixed gradients (with an inf,
    a NaN and zeros in them), for a matrix and a 0-d parameter."""
    rng = np.random.default_rng(3)
    params = [md.tensor(rng.standard_normal((5, 7)).astype(dtype), requires_grad=True),
              md.tensor(np.array(0.5, dtype), requires_grad=True)]
    optimizer = getattr(optim, name)(params, **hyper)
    for step in range(steps):
        grad = rng.standard_normal((5, 7)).astype(dtype)
        grad[0, :3] = [0.0, -0.0, 1e-30]
        if step == steps - 1:
            grad[4, 5:] = [np.inf, np.nan]
        params[0].grad, params[1].grad = md.tensor(grad), md.tensor(np.array(-0.25 * step, dtype))
        optimizer.step()
    return [p.numpy() for p in params] + [
        optimizer.state[p][key].numpy() for p in params for key in ("exp_avg", "exp_avg_sq", "step")]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, hyper", SETTINGS)
def test_compiled_update_gives_the_bits_of_the_array_code(monkeypatch, name, hyper, dtype):
    calls = []
    kernel = adam_module.compiled_update

    def counting(*arrays):
        found = kernel(*arrays)
        calls.append(found)
        return found

    monkeypatch.setattr(adam_module, "compiled_update", counting)
    compiled = trajectory(name, hyper, dtype)
    assert calls and all(found is not None for found in calls)  # the kernel ran on every step
    monkeypatch.setattr(adam_module, "compiled_update", lambda *arrays: None)
    with np.errstate(invalid="ignore"):  # NumPy warns of the NaN that the inf makes; the kernel, as torch, does not
        array_code = trajectory(name, hyper, dtype)
    for mine, reference in zip(compiled, array_code):
        assert mine.dtype == reference.dtype
        np.testing.assert_array_equal(mine, reference)  # NaN where the other has NaN


def test_compiled_update_is_only_taken_where_it_applies():
    floats = np.zeros(4, np.float32)
    assert adam_module.compiled_update(floats, floats, floats, floats) is not None
    assert adam_module.compiled_update(floats, floats[::1].reshape(2, 2).T, floats, floats) is None  # strided
    assert adam_module.compiled_update(floats, floats.astype(np.float64), floats, floats) is None  # mixed dtypes
    assert adam_module.compiled_update(*[np.zeros(4, np.float16)] * 4) is None
    p = md.ones(3, requires_grad=True)
    optimizer = optim.Adam([p], lr=0.1, amsgrad=True)
    (p * p).sum().backward()
    optimizer.step()  # amsgrad runs the array code, and keeps its third moment
    assert set(optimizer.state[p]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
