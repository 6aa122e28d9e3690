"""md.optim against torch.optim, and the Optimizer machinery; regularization and gradient clipping.

The parity tests run minidl and torch (``foreach=False``) side by side on the same problem, in
float64, and compare every parameter after every step to 1e-10 relative: 200 steps on the
Rosenbrock function and on a small MLP, for every optimizer and option, with param groups, a
parameter whose gradient is None on some steps, and a state_dict reloaded mid-run.
"""
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl as md
from minidl import nn, optim
from minidl.nn.utils import clip_grad_norm_, clip_grad_value_, get_total_norm
from minidl.testing import assert_close

OPTIMIZERS = ["SGD", "Momentum", "RMSprop", "Adam", "AdamW", "Adagrad", "Adadelta"]
TORCH_TWIN = {name: name for name in OPTIMIZERS} | {"Momentum": "SGD"}  # Momentum is SGD(dampening=0)

# Every option of every optimizer: (minidl class, hyperparameters); torch gets the same ones.
# The settings keep the trajectories stable.  Where an iteration is chaotic (RMSprop centered with
# alpha=0.9 and lr=1e-3 starts oscillating on Rosenbrock after 130 steps, Adadelta with lr=1 from
# step 60), a difference of one rounding grows about 6x per step: torch against itself, started one
# ulp apart, ends 1e-3 apart.  Only bit-identical arithmetic could agree to 1e-10 there, and
# torch's CPU kernels fuse multiply-adds (addcmul, lerp) into FMA instructions, which NumPy lacks.
OPTIONS = [
    ("SGD", dict(lr=1e-3)),
    ("SGD", dict(lr=1e-3, momentum=0.9)),
    ("SGD", dict(lr=1e-3, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=1e-3, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("Momentum", dict(lr=1e-3, momentum=0.9)),
    ("Momentum", dict(lr=1e-3, momentum=0.5, nesterov=True, weight_decay=0.1)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=1e-3, alpha=0.95, centered=True)),
    ("RMSprop", dict(lr=1e-3, momentum=0.5, weight_decay=0.1)),
    ("RMSprop", dict(lr=1e-3, momentum=0.5, centered=True, eps=1e-6)),
    ("Adam", dict()),
    ("Adam", dict(lr=1e-2, betas=(0.8, 0.99), amsgrad=True)),
    ("Adam", dict(lr=1e-2, weight_decay=0.1)),
    ("Adam", dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=1e-2)),
    ("AdamW", dict(lr=1e-2, weight_decay=0.1, amsgrad=True, eps=1e-6)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1, weight_decay=0.1)),
    ("Adadelta", dict(lr=0.1)),
    ("Adadelta", dict(lr=0.1, rho=0.95, eps=1e-5, weight_decay=0.1)),
]

# For the scenario tests: one setting per optimizer, and what its second param group changes.
SETTINGS = {
    "SGD": (dict(lr=1e-3, momentum=0.9, nesterov=True), dict(lr=5e-4, momentum=0.5, weight_decay=0.1)),
    "Momentum": (dict(lr=1e-3, momentum=0.9), dict(momentum=0.5, nesterov=True)),
    "RMSprop": (dict(lr=1e-3, momentum=0.5, centered=True), dict(lr=5e-4, alpha=0.95, centered=False)),
    "Adam": (dict(lr=1e-2, amsgrad=True), dict(lr=5e-3, betas=(0.8, 0.99), weight_decay=0.1)),
    "AdamW": (dict(lr=1e-2), dict(lr=5e-3, weight_decay=0.5, amsgrad=True)),
    "Adagrad": (dict(lr=0.1, lr_decay=0.01), dict(lr=0.05, eps=1e-6, weight_decay=0.1)),
    "Adadelta": (dict(lr=0.1), dict(lr=0.05, rho=0.5)),
}


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


# ----------------------------------------------------------------------------- problems
# A problem, built from a library (minidl or torch): (parameters, loss function).
def rosenbrock(lib):
    """f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 from (-1.5, 2); x and y are two 0-d parameters."""
    x = lib.tensor(-1.5, dtype=lib.float64, requires_grad=True)
    y = lib.tensor(2.0, dtype=lib.float64, requires_grad=True)
    return [x, y], lambda: (1 - x) ** 2 + 100 * (y - x * x) ** 2


def mlp(lib, dtype="float64"):
    """A 4-8-3 tanh MLP with mean squared error on 16 fixed samples."""
    data, init = np.random.default_rng(0), np.random.default_rng(1)
    x, y = lib.tensor(data.standard_normal((16, 4)).astype(dtype)), lib.tensor(data.standard_normal((16, 3)).astype(dtype))
    shapes = [(8, 4), (8,), (3, 8), (3,)]
    params = [lib.tensor((0.5 * init.standard_normal(shape)).astype(dtype), requires_grad=True) for shape in shapes]

    def loss():
        w1, b1, w2, b2 = params
        return ((lib.tanh(x @ w1.T + b1) @ w2.T + b2 - y) ** 2).mean()

    return params, loss


PROBLEMS = {"rosenbrock": rosenbrock, "mlp": mlp}


def two_groups(params, second):
    """The parameters split in two param groups, the second with the hyperparameters ``second``."""
    half = len(params) // 2
    return [{"params": params[:half]}, {"params": params[half:], **second}]


def assert_same_trajectory(
    torch, problem, name, hyper, second_group=None, steps=200, drop_last_grad_every=0, reload_at=None,
    reload_from="minidl", rtol=1e-10,
):  # fmt: skip
    """Train the problem with md.optim.<name> and its torch twin, step by step, and compare.

    ``second_group``: put half the parameters in a second group with these hyperparameters.
    ``drop_last_grad_every=k``: the last parameter's grad is None on every k-th step.
    ``reload_at=s``: after step s, minidl's optimizer is replaced by a fresh one loaded from the
    state_dict of minidl's (``reload_from="minidl"``) or of torch's optimizer.
    """

    def build(optimizer_class, params, **extra):
        groups = params if second_group is None else two_groups(params, second_group)
        return optimizer_class(groups, **hyper, **extra)

    md_params, md_loss = problem(md)
    torch_params, torch_loss = problem(torch)
    md_optimizer = build(getattr(optim, name), md_params)
    torch_optimizer = build(getattr(torch.optim, TORCH_TWIN[name]), torch_params, foreach=False)
    for step in range(1, steps + 1):
        for params, loss, optimizer in [(md_params, md_loss, md_optimizer), (torch_params, torch_loss, torch_optimizer)]:
            optimizer.zero_grad()
            loss().backward()
            if drop_last_grad_every and step % drop_last_grad_every == 0:
                params[-1].grad = None
            optimizer.step()
        for k, (mine, theirs) in enumerate(zip(md_params, torch_params)):
            expected = theirs.detach().numpy()
            scale = rtol * (np.abs(expected) + max(np.abs(expected).max(), 1))  # assert_close's test, but quick
            if not (np.abs(mine.numpy() - expected) <= scale).all():
                assert_close(mine.numpy(), expected, rtol, rtol, f"{name}: parameter {k} after step {step}")
        if step == reload_at:
            saved = (md_optimizer if reload_from == "minidl" else torch_optimizer).state_dict()
            md_optimizer = build(getattr(optim, name), md_params)
            md_optimizer.load_state_dict(saved)


# ----------------------------------------------------------------------------- parity with torch.optim
@pytest.mark.torch
@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("name, hyper", OPTIONS, ids=[f"{n}-{'-'.join(map(str, h.items()))}" for n, h in OPTIONS])
def test_200_steps_match_torch(torch, problem, name, hyper):
    assert_same_trajectory(torch, PROBLEMS[problem], name, hyper)


@pytest.mark.torch
@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_param_groups_with_different_hyperparameters_match_torch(torch, problem, name):
    hyper, second = SETTINGS[name]
    assert_same_trajectory(torch, PROBLEMS[problem], name, hyper, second_group=second)


@pytest.mark.torch
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_parameter_without_grad_on_some_steps_is_skipped_as_in_torch(torch, name):
    assert_same_trajectory(torch, rosenbrock, name, SETTINGS[name][0], drop_last_grad_every=3)


@pytest.mark.torch
@pytest.mark.parametrize("reload_from", ["minidl", "torch"])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_state_dict_loaded_mid_run_into_a_fresh_optimizer_continues_as_torch(torch, name, reload_from):
    """On the MLP, with param groups and a gradient missing every 4th step (also on the MLP, then)."""
    hyper, second = SETTINGS[name]
    assert_same_trajectory(
        torch, mlp, name, hyper, second_group=second, drop_last_grad_every=4, reload_at=100, reload_from=reload_from
    )


@pytest.mark.torch
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_float32_matches_torch(torch, name):
    hyper = SETTINGS[name][0]
    assert_same_trajectory(torch, lambda lib: mlp(lib, "float32"), name, hyper, steps=50, rtol=1e-5)


@pytest.mark.torch
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_defaults_are_torch_defaults(torch, name):
    mine = getattr(optim, name)([md.zeros(1, requires_grad=True)]).defaults
    theirs = getattr(torch.optim, TORCH_TWIN[name])([torch.zeros(1, requires_grad=True)]).defaults
    if name == "Momentum":  # the one optimizer torch does not have: SGD with a momentum of 0.9
        theirs = dict(theirs, momentum=0.9)
    assert {key: theirs[key] for key in mine} == mine


def _draw_hyperparameters(draw, name):
    """Hyperparameters of ``name`` over their useful ranges.  Not beyond: with beta2 = 0, say,
    Adam divides by |g|, and where a gradient element crosses zero its rounding error (minidl's
    and torch's autograd sum in different orders) is magnified without bound."""
    lr = draw(st.floats(1e-4, 1e-1))
    decay = draw(st.sampled_from([0.0, 1e-3, 0.5]))
    beta = st.floats(0.8, 0.999)
    eps = draw(st.floats(1e-8, 1e-3))
    if name in ("SGD", "Momentum"):
        momentum = draw(st.floats(0.0, 0.95) if name == "SGD" else st.floats(0.01, 0.95))
        nesterov = momentum > 0 and draw(st.booleans())
        extra = {} if name == "Momentum" or nesterov else {"dampening": draw(st.floats(0.0, 0.9))}
        return dict(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=decay, **extra)
    if name == "RMSprop":
        return dict(
            lr=lr / 10, alpha=draw(beta), eps=eps, weight_decay=decay, momentum=draw(st.floats(0.0, 0.9)),
            centered=draw(st.booleans()),
        )  # fmt: skip
    if name in ("Adam", "AdamW"):
        return dict(lr=lr, betas=(draw(beta), draw(beta)), eps=eps, weight_decay=decay, amsgrad=draw(st.booleans()))
    if name == "Adagrad":
        return dict(lr=lr, lr_decay=decay, eps=eps, initial_accumulator_value=draw(st.floats(0.0, 1.0)))
    return dict(lr=lr * 10, rho=draw(beta), eps=eps, weight_decay=decay)


@pytest.mark.torch
@pytest.mark.parametrize("name", OPTIMIZERS)
@settings(max_examples=10)
@given(data=st.data())
def test_drawn_hyperparameters_match_torch(name, data):
    torch = pytest.importorskip("torch")
    hyper = _draw_hyperparameters(data.draw, name)
    assert_same_trajectory(torch, mlp, name, hyper, steps=20)


# ----------------------------------------------------------------------------- the Optimizer machinery
def test_md_optim_is_reachable_from_the_top_level():
    assert md.optim.Adam is optim.Adam and md.optim.lr_scheduler.StepLR is optim.lr_scheduler.StepLR
    assert md.nn.utils.clip_grad_norm_ is clip_grad_norm_


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_step_updates_parameters_in_place(name):
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    params = list(model.parameters())
    arrays, before = [p.array for p in params], [p.numpy().copy() for p in params]
    optimizer = getattr(optim, name)(model.parameters(), lr=0.1)
    model(md.ones(2, 3)).sum().backward()
    optimizer.step()
    assert list(model.parameters()) == params
    assert all(p.array is array for p, array in zip(params, arrays))
    assert all(not np.array_equal(p.numpy(), old) for p, old in zip(params, before))


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_float32_parameters_and_their_state_stay_float32(name):
    p = md.ones(3, requires_grad=True)
    optimizer = getattr(optim, name)([p], lr=0.1, **({"momentum": 0.9} if name == "SGD" else {}))
    for _ in range(2):
        (p * p).sum().backward()
        optimizer.step()
    assert p.dtype == np.float32
    buffers = [value for key, value in optimizer.state[p].items() if key != "step"]
    assert buffers and all(b.dtype == np.float32 and b.shape == (3,) for b in buffers)


def test_a_parameter_without_grad_is_left_alone_and_gets_no_state():
    used, unused = md.ones(2, requires_grad=True), md.ones(2, requires_grad=True)
    optimizer = optim.Adam([used, unused], lr=0.1)
    (used * 3).sum().backward()
    optimizer.step()
    np.testing.assert_array_equal(unused.numpy(), 1)
    assert unused not in optimizer.state and optimizer.state[used]["step"].item() == 1


def test_zero_grad_sets_none_or_zeros():
    p = md.ones(2, requires_grad=True)
    optimizer = optim.SGD([p], lr=0.1)
    (p * 2).sum().backward()
    optimizer.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.numpy(), 0)
    optimizer.zero_grad()
    assert p.grad is None


def test_step_calls_the_closure_with_grad_enabled_and_returns_its_loss():
    p = md.tensor([1.0, 2.0], requires_grad=True)
    optimizer = optim.SGD([p], lr=0.5)

    def closure():
        optimizer.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with md.no_grad():
        loss = optimizer.step(closure)
    assert loss.item() == 5.0
    np.testing.assert_array_equal(p.numpy(), [0.0, 0.0])


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_maximize_climbs_minus_the_loss_exactly_as_minimizing_the_loss(name):
    (p, q), (loss_p, loss_q) = zip(*(mlp(md) for _ in range(2)))
    minimizer, maximizer = getattr(optim, name)(p, lr=0.01), getattr(optim, name)(q, lr=0.01, maximize=True)
    for _ in range(5):
        for optimizer, loss in [(minimizer, loss_p), (maximizer, lambda: -loss_q())]:
            optimizer.zero_grad()
            loss().backward()
            optimizer.step()
    for a, b in zip(p, q):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_param_groups_take_defaults_unless_overridden():
    a, b = md.ones(1, requires_grad=True), md.ones(1, requires_grad=True)
    optimizer = optim.Adam([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, betas=(0.8, 0.9))
    assert [g["lr"] for g in optimizer.param_groups] == [0.1, 0.5]
    assert all(g["betas"] == (0.8, 0.9) and g["eps"] == 1e-8 for g in optimizer.param_groups)
    assert optimizer.param_groups[1]["params"] == [b]


def test_adagrad_creates_state_for_every_parameter_including_later_groups():
    a, b = md.ones(2, requires_grad=True), md.ones(2, requires_grad=True)
    optimizer = optim.Adagrad([a], initial_accumulator_value=0.5)
    assert optimizer.state[a]["step"].item() == 0
    np.testing.assert_array_equal(optimizer.state[a]["sum"].numpy(), 0.5)
    optimizer.add_param_group({"params": [b], "lr": 1.0})
    (b * b).sum().backward()
    optimizer.step()
    np.testing.assert_allclose(b.numpy(), 1 - 2 / (np.sqrt(0.5 + 4) + 1e-10), atol=1e-7)


def test_state_dict_has_torch_layout_and_is_a_snapshot():
    params, loss = mlp(md)
    optimizer = optim.Adam(two_groups(params, {"lr": 0.5}), lr=0.1)
    loss().backward()
    optimizer.step()
    saved = optimizer.state_dict()
    assert [g["params"] for g in saved["param_groups"]] == [[0, 1], [2, 3]]
    assert [g["lr"] for g in saved["param_groups"]] == [0.1, 0.5]
    assert set(saved["state"]) == {0, 1, 2, 3} and set(saved["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    snapshot = saved["state"][0]["exp_avg"].numpy().copy()
    optimizer.step()
    np.testing.assert_array_equal(saved["state"][0]["exp_avg"].numpy(), snapshot)
    assert saved["state"][0]["step"].item() == 1


def test_load_state_dict_checks_groups_and_shapes():
    params, loss = mlp(md)
    optimizer = optim.Adam(params)
    loss().backward()
    optimizer.step()
    saved = optimizer.state_dict()
    with pytest.raises(ValueError, match="Adam.load_state_dict: loaded state dict has 1 parameter groups, the optimizer has 2"):
        optim.Adam(two_groups(params, {})).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"parameter groups of sizes \[4\], which don't match the optimizer's \[3\]"):
        optim.Adam(params[:3]).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"state 'exp_avg' has shape \(8, 4\), its parameter has shape \(3, 8\)"):
        optim.Adam(params[2:] + params[:2]).load_state_dict(saved)


def test_load_state_dict_restores_hyperparameters_and_copies_state():
    params, loss = mlp(md)
    optimizer = optim.RMSprop(params, lr=0.1, momentum=0.9)
    loss().backward()
    optimizer.step()
    saved = optimizer.state_dict()
    fresh = optim.RMSprop(params, lr=0.5)
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["lr"] == 0.1 and fresh.param_groups[0]["params"] == params
    fresh.state[params[0]]["square_avg"].array += 1  # the loaded state does not alias the dict
    np.testing.assert_array_equal(saved["state"][0]["square_avg"].numpy(), optimizer.state[params[0]]["square_avg"].numpy())


def test_repr_lists_each_group_like_torch():
    optimizer = optim.SGD([md.ones(1, requires_grad=True)], lr=0.1)
    assert repr(optimizer) == (
        "SGD (\nParameter Group 0\n    dampening: 0\n    lr: 0.1\n    maximize: False\n    momentum: 0\n"
        "    nesterov: False\n    weight_decay: 0\n)"
    )


# ----------------------------------------------------------------------------- bad input
BAD_HYPERPARAMETERS = [
    ("SGD", dict(lr=-1), "SGD: Invalid learning rate: -1"),
    ("Momentum", dict(lr=-0.5), "Momentum: Invalid learning rate: -0.5"),
    ("Adam", dict(lr=math.nan), "Adam: Invalid learning rate: nan"),
    ("Adam", dict(betas=(1.0, 0.999)), "Adam: Invalid beta parameter at index 0: 1.0"),
    ("AdamW", dict(betas=(0.9, -0.1)), "AdamW: Invalid beta parameter at index 1: -0.1"),
    ("Adam", dict(eps=0.0), "Adam: Invalid epsilon value: 0.0"),
    ("RMSprop", dict(eps=-1e-8), "RMSprop: Invalid epsilon value: -1e-08"),
    ("Adagrad", dict(eps=0), "Adagrad: Invalid epsilon value: 0"),
    ("Adadelta", dict(eps=0), "Adadelta: Invalid epsilon value: 0"),
    ("SGD", dict(weight_decay=-0.1), "SGD: Invalid weight_decay value: -0.1"),
    ("AdamW", dict(weight_decay=-1), "AdamW: Invalid weight_decay value: -1"),
    ("SGD", dict(momentum=-0.9), "SGD: Invalid momentum value: -0.9"),
    ("Momentum", dict(momentum=-0.9), "Momentum: Invalid momentum value: -0.9"),
    ("RMSprop", dict(momentum=-1), "RMSprop: Invalid momentum value: -1"),
    ("RMSprop", dict(alpha=-0.5), "RMSprop: Invalid alpha value: -0.5"),
    ("Adadelta", dict(rho=1.5), "Adadelta: Invalid rho value: 1.5"),
    ("Adagrad", dict(lr_decay=-1), "Adagrad: Invalid lr_decay value: -1"),
    ("Adagrad", dict(initial_accumulator_value=-1), "Adagrad: Invalid initial_accumulator_value value: -1"),
    ("SGD", dict(nesterov=True), "SGD: Nesterov momentum requires a momentum and zero dampening"),
    ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1), "SGD: Nesterov momentum requires a momentum and zero dampening"),
]


@pytest.mark.parametrize("name, hyper, message", BAD_HYPERPARAMETERS, ids=[m for _, _, m in BAD_HYPERPARAMETERS])
def test_invalid_hyperparameters_raise_torchs_error_naming_the_optimizer(name, hyper, message):
    with pytest.raises(ValueError, match=re.escape(message) + "$"):
        getattr(optim, name)([md.ones(1, requires_grad=True)], **hyper)


def test_invalid_hyperparameters_in_a_param_group_are_caught_too():
    p, q = md.ones(1, requires_grad=True), md.ones(1, requires_grad=True)
    with pytest.raises(ValueError, match="Adam: Invalid learning rate: -1"):
        optim.Adam([{"params": [p]}, {"params": [q], "lr": -1}])
    optimizer = optim.Adam([p])
    with pytest.raises(ValueError, match="Adam: Invalid beta parameter at index 1: 1"):
        optimizer.add_param_group({"params": [q], "betas": (0.9, 1)})
    assert len(optimizer.param_groups) == 1


def test_hyperparameters_of_the_wrong_type_raise_type_errors():
    p = md.ones(1, requires_grad=True)
    with pytest.raises(TypeError, match="SGD: lr must be a real number, got '0.1'"):
        optim.SGD([p], lr="0.1")
    with pytest.raises(TypeError, match=r"Adam: betas must be a pair \(beta1, beta2\), got 0.9"):
        optim.Adam([p], betas=0.9)
    with pytest.raises(TypeError, match="Adam: betas\\[0\\] must be a real number, got None"):
        optim.Adam([p], betas=(None, 0.9))


def test_bad_parameter_lists_raise_clear_errors():
    p, q = md.ones(2, requires_grad=True), md.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="SGD: optimizer got an empty parameter list"):
        optim.SGD([])
    with pytest.raises(ValueError, match="Adam: optimizer got an empty parameter list"):
        optim.Adam(nn.ReLU().parameters())
    with pytest.raises(ValueError, match="Adam: parameter 2 of the new param group is listed more than once"):
        optim.Adam([p, q, p])
    with pytest.raises(ValueError, match="RMSprop: some parameters appear in more than one parameter group"):
        optim.RMSprop([{"params": [p]}, {"params": [q, p]}])
    with pytest.raises(TypeError, match="SGD: params should be an iterable of Tensors or dicts, but got a single Tensor"):
        optim.SGD(p)
    with pytest.raises(TypeError, match="Adam: can only optimize Tensors, but one of the params is ndarray"):
        optim.Adam([np.ones(2)])
    with pytest.raises(TypeError, match=r"one of the params is tuple \(pass model.parameters\(\), not named_parameters"):
        optim.Adam(nn.Linear(2, 2).named_parameters())
    with pytest.raises(TypeError, match="parameters must be in an ordered collection"):
        optim.Adam([{"params": {p, q}}])
    with pytest.raises(ValueError, match="Adam: can't optimize a non-leaf Tensor"):
        optim.Adam([p * 2])
    with pytest.raises(ValueError, match="Adagrad: a param group needs the key 'params'"):
        optim.Adagrad([{"lr": 0.1}])


# ----------------------------------------------------------------------------- regularization
def test_l2_penalty_gives_the_same_steps_as_weight_decay():
    (p, loss_p), (q, loss_q) = mlp(md), mlp(md)
    decayed, penalized = optim.Momentum(p, lr=0.1, weight_decay=0.01), optim.Momentum(q, lr=0.1)
    for _ in range(20):
        for optimizer, loss in [(decayed, loss_p), (penalized, lambda: loss_q() + optim.l2_penalty(q, 0.01))]:
            optimizer.zero_grad()
            loss().backward()
            optimizer.step()
    for a, b in zip(p, q):
        assert_close(a.numpy(), b.numpy(), 1e-12, 1e-12, "parameter")


def test_penalty_values_and_gradients():
    w = md.tensor([[1.0, -2.0], [0.0, 3.0]], dtype=md.float64, requires_grad=True)
    b = md.tensor([-0.5], dtype=md.float64, requires_grad=True)
    l1, l2 = optim.l1_penalty([w, b], 0.1), optim.l2_penalty([w, b], 0.1)
    assert math.isclose(l1.item(), 0.1 * 6.5) and math.isclose(l2.item(), 0.05 * 14.25)
    l1.backward()
    np.testing.assert_allclose(w.grad.numpy(), 0.1 * np.sign(w.numpy()))
    w.grad = None
    optim.l2_penalty(w, 0.1).backward()  # a single tensor works too
    np.testing.assert_allclose(w.grad.numpy(), 0.1 * w.numpy())


def test_penalties_reject_bad_strength_and_empty_parameters():
    w = md.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="l1_penalty: strength must be a number >= 0, got -1"):
        optim.l1_penalty([w], -1)
    with pytest.raises(ValueError, match="l2_penalty: strength must be a number >= 0, got '1'"):
        optim.l2_penalty([w], "1")
    with pytest.raises(ValueError, match="l2_penalty: got no parameters to regularize"):
        optim.l2_penalty([], 0.1)


# ----------------------------------------------------------------------------- gradient clipping
def _grads_pair(torch, dtype, seed, nonfinite=None):
    """The same gradients on minidl and torch parameters (one parameter without grad)."""
    rng = np.random.default_rng(seed)
    grads = [rng.standard_normal(shape).astype(dtype) * 3 for shape in [(3, 4), (5,), (2, 2, 2)]]
    if nonfinite is not None:
        grads[1][2] = nonfinite
    md_params = [md.zeros(*g.shape, dtype=dtype, requires_grad=True) for g in grads] + [md.zeros(1, requires_grad=True)]
    torch_params = [torch.zeros(g.shape, dtype=getattr(torch, dtype), requires_grad=True) for g in grads]
    for m, t, g in zip(md_params, torch_params, grads):
        m.grad, t.grad = md.tensor(g), torch.tensor(g)
    return md_params, torch_params + [torch.zeros(1, requires_grad=True)]


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, math.inf, 0])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(torch, dtype, norm_type, max_norm):
    md_params, torch_params = _grads_pair(torch, dtype, seed=3)
    mine = clip_grad_norm_(md_params, max_norm, norm_type=norm_type)
    theirs = torch.nn.utils.clip_grad_norm_(torch_params, max_norm, norm_type=norm_type, foreach=False)
    tolerance = 1e-12 if dtype == "float64" else 1e-6
    assert mine.dtype == np.dtype(dtype) and mine.shape == ()
    assert_close(mine.numpy(), theirs.numpy(), tolerance, tolerance, "total norm")
    for k, (m, t) in enumerate(zip(md_params[:3], torch_params)):
        assert_close(m.grad.numpy(), t.grad.numpy(), tolerance, tolerance, f"clipped grad {k}")
    assert md_params[3].grad is None


@pytest.mark.torch
@pytest.mark.filterwarnings("ignore:invalid value encountered in multiply:RuntimeWarning")  # inf * 0, as asked
@pytest.mark.parametrize("bad", [math.inf, math.nan])
def test_clip_grad_norm_of_nonfinite_gradients_as_torch(torch, bad):
    md_params, torch_params = _grads_pair(torch, "float64", seed=4, nonfinite=bad)
    with pytest.raises(RuntimeError, match="the total norm of order 2.0 for gradients from `parameters` is non-finite"):
        clip_grad_norm_(md_params, 1.0, error_if_nonfinite=True)
    mine = clip_grad_norm_(md_params, 1.0)
    theirs = torch.nn.utils.clip_grad_norm_(torch_params, 1.0, foreach=False)
    np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    for m, t in zip(md_params[:3], torch_params):
        np.testing.assert_array_equal(m.grad.numpy(), t.grad.numpy())


@pytest.mark.torch
def test_clip_grad_value_matches_torch(torch):
    md_params, torch_params = _grads_pair(torch, "float64", seed=5)
    assert clip_grad_value_(md_params, 1.5) is None
    torch.nn.utils.clip_grad_value_(torch_params, 1.5, foreach=False)
    for m, t in zip(md_params[:3], torch_params):
        np.testing.assert_array_equal(m.grad.numpy(), t.grad.numpy())
    assert np.abs(md_params[0].grad.numpy()).max() == 1.5


def test_clipping_edge_cases():
    p = md.tensor([3.0, 4.0], requires_grad=True)
    (p * md.tensor([3.0, 4.0])).sum().backward()
    assert clip_grad_norm_(p, 1.0).item() == 5.0  # a single tensor, and the norm before clipping
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8], rtol=1e-5)
    assert get_total_norm([]).item() == 0.0 and clip_grad_norm_([md.ones(1, requires_grad=True)], 1.0).item() == 0.0
    with pytest.raises(ValueError, match="clip_grad_value_: clip_value must be >= 0, got -1"):
        clip_grad_value_([p], -1)
    with pytest.raises(ValueError, match="clip_grad_norm_: max_norm must be >= 0, got -1"):
        clip_grad_norm_([p], -1)


# ----------------------------------------------------------------------------- GPU
@pytest.mark.gpu
@pytest.mark.skipif(not md.cupy_usable(), reason="CuPy is not installed or no CUDA device is usable")
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_state_lives_on_the_parameters_device_and_steps_match_the_cpu(name):
    cpu, gpu = [md.tensor([1.0, -2.0, 3.0], dtype=md.float64, device=d, requires_grad=True) for d in ("cpu", "cuda")]
    optimizers = [getattr(optim, name)([p], lr=0.1) for p in (cpu, gpu)]
    for _ in range(3):
        for p, optimizer in zip((cpu, gpu), optimizers):
            (p * p * p).sum().backward()
            optimizer.step()
    reloaded = getattr(optim, name)([gpu], lr=0.1)
    reloaded.load_state_dict(optimizers[0].state_dict())  # CPU state into a CUDA parameter's optimizer
    for state in (optimizers[1].state[gpu], reloaded.state[gpu]):  # the step count stays on the CPU, as in torch
        assert all(str(value.device) == ("cpu" if key == "step" else str(gpu.device)) for key, value in state.items())
    assert_close(gpu.numpy(), cpu.numpy(), 1e-12, 1e-12, name)
