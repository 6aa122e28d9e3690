"""``optimizer.state[p]`` as torch.optim keeps it: the same keys, in the same order, each a Tensor of
torch's dtype, shape and device (``"step"`` a 0-d float32 tensor on the CPU), with torch's values;
and the same after a state_dict goes through ``md.save``/``md.load``, or comes from torch as NumPy.
"""
import numpy as np
import pytest

import minidl as md
from minidl import optim
from minidl.testing import assert_close

# (minidl class, torch class, hyperparameters): together they create every key of every optimizer.
CASES = [
    ("SGD", "SGD", dict(lr=0.05)),
    ("SGD", "SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.1)),
    ("SGD", "SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("Momentum", "SGD", dict(lr=0.05, momentum=0.9)),
    ("RMSprop", "RMSprop", dict(lr=0.01)),
    ("RMSprop", "RMSprop", dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.1)),
    ("Adam", "Adam", dict(lr=0.01)),
    ("Adam", "Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("AdamW", "AdamW", dict(lr=0.01)),
    ("AdamW", "AdamW", dict(lr=0.01, amsgrad=True)),
    ("Adagrad", "Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
    ("Adadelta", "Adadelta", dict(lr=0.5, weight_decay=0.1)),
]
CASE_IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in hyper.items())}" for name, _, hyper in CASES]
TOLERANCE = {"float32": 1e-6, "float64": 1e-12}


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def problem(lib, dtype):
    """A weight, a bias and a 0-d scalar, and a loss with curvature: sum of p^3 + p^2."""
    rng = np.random.default_rng(0)
    params = [
        lib.tensor(np.asarray(rng.uniform(-1, 1, shape), dtype=dtype), requires_grad=True)
        for shape in [(3, 2), (4,), ()]
    ]
    return params, lambda: sum((p * p * p + p * p).sum() for p in params)


def train(params, loss, optimizer, steps, first_step=1):
    """``steps`` steps; on step 2 the last parameter has no gradient (so its step count lags)."""
    for step in range(first_step, first_step + steps):
        optimizer.zero_grad()
        loss().backward()
        if step == 2:
            params[-1].grad = None
        optimizer.step()


def torch_dtype_name(tensor):
    return str(tensor.dtype).removeprefix("torch.")


def assert_state_matches(md_optimizer, md_params, torch_optimizer, torch_params, tolerance):
    for k, (mine_p, theirs_p) in enumerate(zip(md_params, torch_params)):
        assert (mine_p in md_optimizer.state) == (theirs_p in torch_optimizer.state), f"parameter {k}"
        mine, theirs = md_optimizer.state.get(mine_p, {}), torch_optimizer.state.get(theirs_p, {})
        assert list(mine) == list(theirs), f"parameter {k}: keys {list(mine)}, torch's {list(theirs)}"
        for key, expected in theirs.items():
            actual, what = mine[key], f"parameter {k}: state[{key!r}]"
            assert isinstance(actual, md.Tensor) and not actual.requires_grad, f"{what}: {type(actual).__name__}"
            assert actual.dtype.name == torch_dtype_name(expected), f"{what}: dtype {actual.dtype}, torch's {expected.dtype}"
            assert tuple(actual.shape) == tuple(expected.shape), f"{what}: shape {actual.shape}, torch's {expected.shape}"
            assert str(actual.device) == str(expected.device), f"{what}: device {actual.device}, torch's {expected.device}"
            assert_close(actual.numpy(), expected.numpy(), tolerance, tolerance, what)


def build(torch, name, torch_name, hyper, dtype):
    md_params, md_loss = problem(md, dtype)
    torch_params, torch_loss = problem(torch, dtype)
    md_optimizer = getattr(optim, name)(md_params, **hyper)
    torch_optimizer = getattr(torch.optim, torch_name)(torch_params, **hyper, foreach=False)
    return (md_params, md_loss, md_optimizer), (torch_params, torch_loss, torch_optimizer)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, torch_name, hyper", CASES, ids=CASE_IDS)
def test_state_has_torchs_keys_types_shapes_and_values(torch, name, torch_name, hyper, dtype):
    mine, theirs = build(torch, name, torch_name, hyper, dtype)
    assert_state_matches(mine[2], mine[0], theirs[2], theirs[0], TOLERANCE[dtype])  # Adagrad's, before any step
    train(*mine, steps=3)
    train(*theirs, steps=3)
    assert_state_matches(mine[2], mine[0], theirs[2], theirs[0], TOLERANCE[dtype])


@pytest.mark.torch
@pytest.mark.parametrize("name, torch_name, hyper", CASES, ids=CASE_IDS)
def test_state_dict_through_md_save_and_load_resumes_as_torch(torch, tmp_path, name, torch_name, hyper):
    (md_params, md_loss, md_optimizer), theirs = build(torch, name, torch_name, hyper, "float64")
    train(md_params, md_loss, md_optimizer, steps=3)
    train(*theirs, steps=3)
    md.save(md_optimizer.state_dict(), tmp_path / "optimizer.npz")
    resumed = getattr(optim, name)(md_params, **hyper)
    resumed.load_state_dict(md.load(tmp_path / "optimizer.npz"))
    assert_state_matches(resumed, md_params, theirs[2], theirs[0], 1e-12)
    train(md_params, md_loss, resumed, steps=2, first_step=4)
    train(*theirs, steps=2, first_step=4)
    assert_state_matches(resumed, md_params, theirs[2], theirs[0], 1e-12)
    for mine, expected in zip(md_params, theirs[0]):
        assert_close(mine.numpy(), expected.detach().numpy(), 1e-12, 1e-12, name)


@pytest.mark.torch
@pytest.mark.parametrize("saved_dtype, dtype", [("float32", "float32"), ("float64", "float64"), ("float64", "float32")])
@pytest.mark.parametrize("name, torch_name, hyper", CASES, ids=CASE_IDS)
def test_torchs_state_dict_as_numpy_arrays_loads_as_into_torch(torch, name, torch_name, hyper, saved_dtype, dtype):
    """Into parameters of ``dtype``: the state takes their dtype, the step stays float32 (as torch)."""
    _, (trained_params, trained_loss, trained) = build(torch, name, torch_name, hyper, saved_dtype)
    train(trained_params, trained_loss, trained, steps=3)
    saved = trained.state_dict()
    as_numpy = {
        "state": {index: {key: value.numpy() for key, value in values.items()} for index, values in saved["state"].items()},
        "param_groups": saved["param_groups"],
    }
    (md_params, _, loaded), (torch_params, _, torch_loaded) = build(torch, name, torch_name, hyper, dtype)
    loaded.load_state_dict(as_numpy)
    torch_loaded.load_state_dict(saved)
    assert_state_matches(loaded, md_params, torch_loaded, torch_params, 0)


@pytest.mark.torch
def test_a_state_tensor_held_by_the_user_follows_later_steps_as_in_torch(torch):
    """torch updates its state tensors in place: one read out before a step shows the step."""
    mine, theirs = build(torch, "Adam", "Adam", dict(lr=0.01), "float64")
    held = []
    for params, loss, optimizer in (mine, theirs):
        train(params, loss, optimizer, steps=1)
        held.append(optimizer.state[params[0]]["exp_avg"])
        train(params, loss, optimizer, steps=1, first_step=3)
    assert_close(held[0].numpy(), held[1].numpy(), 1e-12, 1e-12, "held exp_avg")
    assert held[0] is mine[2].state[mine[0][0]]["exp_avg"]


def test_a_parameter_whose_update_keeps_no_state_gets_no_entry():
    p = md.ones(2, requires_grad=True)
    optimizer = optim.SGD([p], lr=0.1)
    (p * p).sum().backward()
    optimizer.step()
    assert p not in optimizer.state and optimizer.state_dict()["state"] == {}
