"""md.optim.lr_scheduler: the same learning rates as torch.optim.lr_scheduler, step by step, and
the closed forms given in the docstrings."""
import bisect
import math
import re
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidl as md
from minidl import optim
from minidl.optim import lr_scheduler

BASE_LRS = [0.1, 0.02]

# (id, build(scheduler module, optimizer)): the same call builds minidl's and torch's scheduler.
SCHEDULES = [
    ("StepLR", lambda s, o: s.StepLR(o, step_size=7, gamma=0.5)),
    ("MultiStepLR", lambda s, o: s.MultiStepLR(o, milestones=[3, 10, 10, 25], gamma=0.3)),
    ("ExponentialLR", lambda s, o: s.ExponentialLR(o, gamma=0.93)),
    ("CosineAnnealingLR", lambda s, o: s.CosineAnnealingLR(o, T_max=12, eta_min=1e-3)),
    ("CosineAnnealingLR-to-0", lambda s, o: s.CosineAnnealingLR(o, T_max=10)),
    ("LinearLR-warm-up", lambda s, o: s.LinearLR(o, start_factor=0.1, total_iters=8)),
    ("LinearLR-decay", lambda s, o: s.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=20)),
    ("LambdaLR", lambda s, o: s.LambdaLR(o, lambda e: 0.95**e)),
    ("LambdaLR-per-group", lambda s, o: s.LambdaLR(o, [lambda e: 1 / (1 + e), lambda e: min(1.0, (e + 1) / 5)])),
    ("warm-up-then-cosine", lambda s, o: s.ChainedScheduler([s.LinearLR(o, 0.1, total_iters=5), s.CosineAnnealingLR(o, T_max=40)])),
    ("OneCycleLR", lambda s, o: s.OneCycleLR(o, max_lr=[1.0, 0.3], total_steps=60)),
    ("OneCycleLR-linear-three-phase", lambda s, o: s.OneCycleLR(
        o, max_lr=0.5, epochs=6, steps_per_epoch=10, pct_start=0.25, anneal_strategy="linear", three_phase=True,
        div_factor=10.0, final_div_factor=100.0, base_momentum=[0.8, 0.7], max_momentum=0.99)),
]  # fmt: skip
IDS = [name for name, _ in SCHEDULES]


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def sgd(library, lrs=BASE_LRS):
    """SGD over one parameter per group, with the given learning rates."""
    params = [library.zeros(1, requires_grad=True) for _ in lrs]
    optimizer_class = optim.SGD if library is md else library.optim.SGD
    return optimizer_class([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)])


def epoch(optimizer, scheduler):
    optimizer.step()  # no gradients: nothing moves, but the scheduler sees the optimizer has stepped
    scheduler.step()


def assert_same_lrs(md_optimizer, md_scheduler, torch_optimizer, torch_scheduler, when):
    mine, theirs = md_scheduler.get_last_lr(), torch_scheduler.get_last_lr()
    assert mine == theirs, f"{when}: get_last_lr {mine} != torch's {theirs}"
    assert [g["lr"] for g in md_optimizer.param_groups] == [g["lr"] for g in torch_optimizer.param_groups], when


# ----------------------------------------------------------------------------- parity with torch
@pytest.mark.torch
@pytest.mark.parametrize("build", [b for _, b in SCHEDULES], ids=IDS)
def test_learning_rates_are_torchs_step_by_step(torch, build):
    md_optimizer, torch_optimizer = sgd(md), sgd(torch)
    md_scheduler, torch_scheduler = build(lr_scheduler, md_optimizer), build(torch.optim.lr_scheduler, torch_optimizer)
    assert_same_lrs(md_optimizer, md_scheduler, torch_optimizer, torch_scheduler, "after construction")
    for e in range(1, 61):
        epoch(md_optimizer, md_scheduler)
        epoch(torch_optimizer, torch_scheduler)
        assert_same_lrs(md_optimizer, md_scheduler, torch_optimizer, torch_scheduler, f"epoch {e}")


@pytest.mark.torch
@pytest.mark.parametrize("build", [b for _, b in SCHEDULES], ids=IDS)
def test_state_dict_matches_torch_and_resumes_mid_run(torch, build):
    md_optimizer, torch_optimizer = sgd(md), sgd(torch)
    md_scheduler, torch_scheduler = build(lr_scheduler, md_optimizer), build(torch.optim.lr_scheduler, torch_optimizer)
    for _ in range(20):
        epoch(md_optimizer, md_scheduler)
        epoch(torch_optimizer, torch_scheduler)
    saved_optimizer, saved_scheduler = md_optimizer.state_dict(), md_scheduler.state_dict()
    theirs = torch_scheduler.state_dict()
    assert {key: theirs[key] for key in saved_scheduler if key != "_schedulers"} == {
        key: value for key, value in saved_scheduler.items() if key != "_schedulers"
    }
    resumed_optimizer = sgd(md, lrs=[1.0, 1.0])
    resumed_scheduler = build(lr_scheduler, resumed_optimizer)  # first the scheduler, then load, as torch advises
    resumed_optimizer.load_state_dict(saved_optimizer)
    resumed_scheduler.load_state_dict(saved_scheduler)
    for e in range(21, 41):
        epoch(resumed_optimizer, resumed_scheduler)
        epoch(torch_optimizer, torch_scheduler)
        assert_same_lrs(resumed_optimizer, resumed_scheduler, torch_optimizer, torch_scheduler, f"epoch {e}")


@pytest.mark.torch
@pytest.mark.parametrize("name", ["StepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR-warm-up"])
def test_resuming_with_last_epoch_matches_torch(torch, name):
    build = dict(SCHEDULES)[name]
    md_optimizer, torch_optimizer = sgd(md), sgd(torch)
    for scheduler_module, optimizer in [(lr_scheduler, md_optimizer), (torch.optim.lr_scheduler, torch_optimizer)]:
        scheduler_module.ExponentialLR(optimizer, gamma=0.5)  # records initial_lr, changes no lr yet
    schedulers = [
        build(_WithLastEpoch(scheduler_module, 9), optimizer)
        for scheduler_module, optimizer in [(lr_scheduler, md_optimizer), (torch.optim.lr_scheduler, torch_optimizer)]
    ]
    for e in range(10, 30):
        assert_same_lrs(md_optimizer, schedulers[0], torch_optimizer, schedulers[1], f"epoch {e}")
        epoch(md_optimizer, schedulers[0])
        epoch(torch_optimizer, schedulers[1])


class _WithLastEpoch:
    """A scheduler module whose classes are called with ``last_epoch`` set."""

    def __init__(self, module, last_epoch):
        self.module, self.last_epoch = module, last_epoch

    def __getattr__(self, name):
        cls = getattr(self.module, name)
        return lambda *args, **kwargs: cls(*args, last_epoch=self.last_epoch, **kwargs)


PLATEAU_METRICS = st.lists(st.sampled_from([2.0, 1.0, 0.99995, 0.999, 0.9, 0.5, 0.4999]), min_size=5, max_size=40)


@pytest.mark.torch
@given(
    metrics=PLATEAU_METRICS,
    mode=st.sampled_from(["min", "max"]),
    threshold_mode=st.sampled_from(["rel", "abs"]),
    threshold=st.sampled_from([0.0, 1e-4, 0.01]),
    patience=st.integers(0, 3),
    cooldown=st.integers(0, 2),
    factor=st.sampled_from([0.1, 0.5]),
    min_lr=st.sampled_from([0, 0.005, [0.05, 0.0]]),
)
def test_reduce_lr_on_plateau_matches_torch(metrics, mode, threshold_mode, threshold, patience, cooldown, factor, min_lr):
    torch = pytest.importorskip("torch")
    settings = dict(
        mode=mode, threshold_mode=threshold_mode, threshold=threshold, patience=patience, cooldown=cooldown,
        factor=factor, min_lr=min_lr,
    )  # fmt: skip
    md_optimizer, torch_optimizer = sgd(md), sgd(torch)
    mine = lr_scheduler.ReduceLROnPlateau(md_optimizer, **settings)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(torch_optimizer, **settings)
    for e, metric in enumerate(metrics):
        md_optimizer.step()
        mine.step(md.tensor(metric, dtype=md.float64) if e % 2 else metric)  # a number or a 0-d tensor
        theirs.step(metric)
        assert_same_lrs(md_optimizer, mine, torch_optimizer, theirs, f"epoch {e}")
        counters = ["best", "num_bad_epochs", "cooldown_counter", "last_epoch"]
        assert [getattr(mine, c) for c in counters] == [getattr(theirs, c) for c in counters]


@pytest.mark.torch
def test_reduce_lr_on_plateau_skips_changes_smaller_than_eps_and_resumes_from_state_dict(torch):
    md_optimizer, torch_optimizer = sgd(md, [1e-8, 0.1]), sgd(torch, [1e-8, 0.1])
    mine = lr_scheduler.ReduceLROnPlateau(md_optimizer, patience=1, factor=0.5)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(torch_optimizer, patience=1, factor=0.5)
    for metric in [1.0, 1.0, 1.0]:
        mine.step(metric)
        theirs.step(metric)
    assert mine.get_last_lr() == theirs.get_last_lr() == [1e-8, 0.05]  # 1e-8 -> 5e-9 changes by less than eps
    resumed = lr_scheduler.ReduceLROnPlateau(md_optimizer, patience=1, factor=0.5)
    resumed.load_state_dict(mine.state_dict())
    for metric in [1.0, 1.0, 0.5, 1.0, 1.0]:
        resumed.step(metric)
        theirs.step(metric)
        assert resumed.get_last_lr() == theirs.get_last_lr()


# ----------------------------------------------------------------------------- closed forms
@given(base=st.floats(1e-4, 1.0), gamma=st.floats(0.1, 0.99), step_size=st.integers(1, 10), T_max=st.integers(1, 30))
def test_schedules_follow_their_closed_forms(base, gamma, step_size, T_max):
    milestones = [2, 5, 5, 17]
    eta_min = base / 10
    closed_forms = [
        (lambda o: lr_scheduler.StepLR(o, step_size, gamma), lambda e: base * gamma ** (e // step_size)),
        (lambda o: lr_scheduler.MultiStepLR(o, milestones, gamma), lambda e: base * gamma ** bisect.bisect_right(milestones, e)),
        (lambda o: lr_scheduler.ExponentialLR(o, gamma), lambda e: base * gamma**e),
        (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max, eta_min),
         lambda e: eta_min + (base - eta_min) * (1 + math.cos(math.pi * e / T_max)) / 2),
        (lambda o: lr_scheduler.LinearLR(o, gamma, 1.0, step_size),
         lambda e: base * (gamma + (1.0 - gamma) * min(step_size, e) / step_size)),
    ]  # fmt: skip
    for build, closed_form in closed_forms:
        optimizer = sgd(md, [base])
        scheduler = build(optimizer)
        for e in range(3 * T_max):
            assert math.isclose(scheduler.get_last_lr()[0], closed_form(e), rel_tol=1e-9, abs_tol=1e-15), (build, e)
            epoch(optimizer, scheduler)


def test_lr_times_0_1_every_epoch_for_100_epochs_is_1e_100_times_smaller():
    optimizer = sgd(md, [0.1])
    scheduler = lr_scheduler.ExponentialLR(optimizer, gamma=0.1)
    for _ in range(100):
        epoch(optimizer, scheduler)
    assert math.isclose(scheduler.get_last_lr()[0], 1e-101, rel_tol=1e-12)


def test_a_learning_rate_set_by_hand_carries_on_as_in_torch():
    """Schedulers multiply the current lr (they are chainable), so a hand-set lr is kept."""
    optimizer = sgd(md, [0.1])
    scheduler = lr_scheduler.ExponentialLR(optimizer, gamma=0.5)
    optimizer.param_groups[0]["lr"] = 1.0
    epoch(optimizer, scheduler)
    assert scheduler.get_last_lr() == [0.5]


# ----------------------------------------------------------------------------- warnings and errors
def test_stepping_the_scheduler_before_the_optimizer_warns():
    optimizer = sgd(md)
    scheduler = lr_scheduler.StepLR(optimizer, step_size=1)
    with pytest.warns(UserWarning, match=r"StepLR.step\(\) was called before optimizer.step\(\)"):
        scheduler.step()
    optimizer = sgd(md)
    scheduler = lr_scheduler.StepLR(optimizer, step_size=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        epoch(optimizer, scheduler)
        epoch(optimizer, scheduler)


def test_bad_arguments_raise_clear_errors():
    optimizer = sgd(md)
    with pytest.raises(TypeError, match="StepLR: list is not an Optimizer"):
        lr_scheduler.StepLR([], step_size=1)
    with pytest.raises(ValueError, match="StepLR: step_size must be a positive integer, got 0"):
        lr_scheduler.StepLR(optimizer, step_size=0)
    with pytest.raises(ValueError, match="CosineAnnealingLR: T_max must be a positive integer, got 2.5"):
        lr_scheduler.CosineAnnealingLR(optimizer, T_max=2.5)
    with pytest.raises(ValueError, match=r"LinearLR: start_factor must be in \(0, 1\], got 0"):
        lr_scheduler.LinearLR(optimizer, start_factor=0)
    with pytest.raises(ValueError, match=r"LinearLR: end_factor must be in \[0, 1\], got 2"):
        lr_scheduler.LinearLR(optimizer, end_factor=2)
    with pytest.raises(ValueError, match="LambdaLR: expected 2 lr_lambdas, one per param group, but got 1"):
        lr_scheduler.LambdaLR(optimizer, [lambda e: 1.0])
    with pytest.raises(TypeError, match="LambdaLR: lr_lambda should be a function"):
        lr_scheduler.LambdaLR(optimizer, 0.5)
    with pytest.raises(KeyError, match=r"StepLR: param 'initial_lr' is not specified in param_groups\[0\]"):
        lr_scheduler.StepLR(optimizer, step_size=1, last_epoch=5)
    with pytest.raises(ValueError, match="ChainedScheduler: expects at least one scheduler"):
        lr_scheduler.ChainedScheduler([])
    with pytest.raises(ValueError, match="ChainedScheduler: scheduler 1 belongs to another optimizer"):
        lr_scheduler.ChainedScheduler([lr_scheduler.StepLR(optimizer, 1), lr_scheduler.StepLR(sgd(md), 1)])


def test_reduce_lr_on_plateau_rejects_bad_settings():
    optimizer = sgd(md)
    with pytest.raises(ValueError, match="ReduceLROnPlateau: factor should be < 1.0, got 1.0"):
        lr_scheduler.ReduceLROnPlateau(optimizer, factor=1.0)
    with pytest.raises(ValueError, match="ReduceLROnPlateau: mode must be 'min' or 'max', got 'mean'"):
        lr_scheduler.ReduceLROnPlateau(optimizer, mode="mean")
    with pytest.raises(ValueError, match="ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got 'x'"):
        lr_scheduler.ReduceLROnPlateau(optimizer, threshold_mode="x")
    with pytest.raises(ValueError, match="ReduceLROnPlateau: expected 2 min_lrs, one per param group, got 3"):
        lr_scheduler.ReduceLROnPlateau(optimizer, min_lr=[0, 0, 0])
    with pytest.raises(ValueError, match="ChainedScheduler: scheduler 0 is a ReduceLROnPlateau"):
        lr_scheduler.ChainedScheduler([lr_scheduler.ReduceLROnPlateau(optimizer)])


# ----------------------------------------------------------------------------- OneCycleLR
ONE_CYCLE_RUNS = [
    ("SGD", dict(lr=0.1, momentum=0.9), dict(max_lr=0.05, total_steps=40)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True), dict(max_lr=0.05, epochs=4, steps_per_epoch=10, three_phase=True)),
    ("Adam", dict(lr=0.1), dict(max_lr=0.02, total_steps=40, anneal_strategy="linear", base_momentum=0.8)),
    ("AdamW", dict(lr=0.1, weight_decay=0.1), dict(max_lr=[0.02, 0.01], total_steps=40, pct_start=0.5)),
    ("RMSprop", dict(lr=0.1, momentum=0.5), dict(max_lr=0.01, total_steps=40, max_momentum=0.6, base_momentum=0.4)),
    ("Adagrad", dict(lr=0.1), dict(max_lr=0.1, total_steps=40, cycle_momentum=False)),
]


def _one_cycle_training(library, optimizer_name, optimizer_kwargs, schedule_kwargs):
    """40 steps on a quadratic in float64, two param groups; per step: lrs, momenta, parameters."""
    target = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    params = [library.tensor(np.zeros(3), requires_grad=True, dtype=library.float64) for _ in range(2)]
    optimizer_class = getattr(optim if library is md else library.optim, optimizer_name)
    optimizer = optimizer_class([{"params": [p]} for p in params], **optimizer_kwargs)
    schedule = (lr_scheduler if library is md else library.optim.lr_scheduler).OneCycleLR(optimizer, **schedule_kwargs)
    trajectory = []
    for step in range(40):
        optimizer.zero_grad()
        loss = sum(((p - library.tensor(t)) ** 2 * (step % 3 + 1)).sum() for p, t in zip(params, target))
        loss.backward()
        optimizer.step()
        schedule.step()
        momenta = [g.get("momentum", g.get("betas")) for g in optimizer.param_groups]
        trajectory.append((schedule.get_last_lr(), momenta, np.concatenate([p.detach().numpy() for p in params])))
    return trajectory


@pytest.mark.torch
@pytest.mark.parametrize("optimizer_name, optimizer_kwargs, schedule_kwargs", ONE_CYCLE_RUNS, ids=[r[0] for r in ONE_CYCLE_RUNS])
def test_one_cycle_lrs_momenta_and_training_are_torchs(torch, optimizer_name, optimizer_kwargs, schedule_kwargs):
    mine = _one_cycle_training(md, optimizer_name, optimizer_kwargs, schedule_kwargs)
    theirs = _one_cycle_training(torch, optimizer_name, optimizer_kwargs, schedule_kwargs)
    for step, ((my_lrs, my_momenta, my_params), (lrs, momenta, params)) in enumerate(zip(mine, theirs)):
        assert my_lrs == lrs and my_momenta == momenta, f"step {step}"
        np.testing.assert_allclose(my_params, params, rtol=1e-10, atol=1e-12, err_msg=f"step {step}")


def test_one_cycle_passes_through_its_corner_values():
    optimizer = sgd(md, [1.0])
    schedule = lr_scheduler.OneCycleLR(optimizer, max_lr=2.0, total_steps=10, pct_start=0.5, div_factor=4.0, final_div_factor=10.0)
    lrs, momenta = [], []
    for _ in range(10):
        lrs.append(schedule.get_last_lr()[0])
        momenta.append(optimizer.param_groups[0]["momentum"])
        epoch(optimizer, schedule)
    # steps 0, 4 = 0.5 * 10 - 1 and 9 = 10 - 1: max_lr / 4, max_lr, then max_lr / 4 / 10
    assert lrs[0] == 0.5 and math.isclose(lrs[4], 2.0) and math.isclose(lrs[9], 0.05)
    assert momenta[0] == 0.95 and math.isclose(momenta[4], 0.85) and math.isclose(momenta[9], 0.95)
    assert lrs[:5] == sorted(lrs[:5]) and lrs[4:] == sorted(lrs[4:], reverse=True)


@pytest.mark.torch
def test_one_cycle_refuses_to_step_past_total_steps_as_torch(torch):
    """Both take total_steps steps after the construction, and raise on the next one."""
    for library, message in [(torch, "Tried to step 6 times"), (md, "OneCycleLR: tried to step 6 times, but the schedule has only total_steps=5")]:
        optimizer = sgd(library)
        schedule = (lr_scheduler if library is md else torch.optim.lr_scheduler).OneCycleLR(optimizer, max_lr=1.0, total_steps=5)
        for _ in range(5):
            epoch(optimizer, schedule)
        with pytest.raises(ValueError, match=message):
            epoch(optimizer, schedule)


@pytest.mark.torch
@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(max_lr=1.0), "you must give either total_steps or both epochs and steps_per_epoch"),
        (dict(max_lr=1.0, epochs=3), "you must give either total_steps or both epochs and steps_per_epoch"),
        (dict(max_lr=1.0, total_steps=0), "total_steps must be a positive integer, got 0"),
        (dict(max_lr=1.0, total_steps=2.5), "total_steps must be a positive integer, got 2.5"),
        (dict(max_lr=1.0, epochs=0, steps_per_epoch=3), "epochs must be a positive integer, got 0"),
        (dict(max_lr=1.0, epochs=2, steps_per_epoch=-1), "steps_per_epoch must be a positive integer, got -1"),
        (dict(max_lr=1.0, total_steps=10, pct_start=1.5), "pct_start must be a float between 0 and 1, got 1.5"),
        (dict(max_lr=1.0, total_steps=10, pct_start=0), "pct_start must be a float between 0 and 1, got 0"),
        (dict(max_lr=1.0, total_steps=10, anneal_strategy="exp"), "anneal_strategy must be 'cos' or 'linear', got 'exp'"),
        (dict(max_lr=[1.0], total_steps=10), "expected 2 max_lrs, one per param group, got 1"),
        (dict(max_lr=1.0, total_steps=10, base_momentum=[0.8] * 3), "expected 2 base_momentums, one per param group, got 3"),
    ],
)
def test_one_cycle_rejects_what_torch_rejects(torch, kwargs, message):
    with pytest.raises(ValueError):
        torch.optim.lr_scheduler.OneCycleLR(sgd(torch), **kwargs)
    with pytest.raises(ValueError, match=f"OneCycleLR: {re.escape(message)}"):
        lr_scheduler.OneCycleLR(sgd(md), **kwargs)


@pytest.mark.torch
def test_one_cycle_momentum_needs_an_optimizer_with_momentum_as_torch(torch):
    with pytest.raises(ValueError):
        torch.optim.lr_scheduler.OneCycleLR(torch.optim.Adagrad([torch.zeros(1, requires_grad=True)]), 1.0, 10)
    with pytest.raises(ValueError, match="OneCycleLR: Adagrad has neither momentum nor betas; pass cycle_momentum=False"):
        lr_scheduler.OneCycleLR(optim.Adagrad([md.zeros(1, requires_grad=True)]), 1.0, 10)
