"""Freezing against torch: ``requires_grad_(False)`` on a layer, then training.  Frozen parameters get
no gradient, and the optimizers skip a parameter whose ``.grad`` is None, leaving it and its state
untouched, as torch.optim does: every parameter and every state entry match torch's."""
import numpy as np
import pytest

import minidl as md
from minidl.testing import assert_close

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

TOL = (1e-12, 1e-12)
OPTIMIZERS = [
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("Adam", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("AdamW", dict(lr=0.01)),
    ("Adagrad", dict(lr=0.1)),
    ("Adadelta", dict(lr=0.5)),
]
IDS = [name for name, _ in OPTIMIZERS]


def twins(name, hyper):
    """The same float64 net (Linear-Tanh-Linear) from torch and minidl with the same weights, each
    with its optimizer, and a batch."""
    rng = np.random.default_rng(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()
    state = {k: rng.standard_normal(v.shape) for k, v in theirs.state_dict().items()}
    theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    ours = md.nn.Sequential(md.nn.Linear(3, 4), md.nn.Tanh(), md.nn.Linear(4, 2)).double()
    ours.load_state_dict(state)
    x, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    return (
        (ours, getattr(md.optim, name)(ours.parameters(), **hyper), md, x, y),
        (theirs, getattr(torch.optim, name)(theirs.parameters(), **hyper, foreach=False), torch, x, y),
    )


def train(model, optimizer, lib, x, y, steps):
    for _ in range(steps):
        optimizer.zero_grad()
        ((model(lib.tensor(x)) - lib.tensor(y)) ** 2).mean().backward()
        optimizer.step()


def assert_same(ours, theirs):
    """Every parameter, its gradient's presence, and every optimizer state entry as torch's."""
    (model, optimizer, *_), (torch_model, torch_optimizer, *_) = ours, theirs
    for (name, p), q in zip(model.named_parameters(), torch_model.parameters()):
        assert_close(p.numpy(), q.detach().numpy(), *TOL, name)
        assert (p.grad is None) == (q.grad is None), name
        assert (p in optimizer.state) == (q in torch_optimizer.state), name
        mine, expected = optimizer.state.get(p, {}), torch_optimizer.state.get(q, {})
        assert list(mine) == list(expected), name
        for key, value in expected.items():
            assert_close(mine[key].numpy(), value.numpy(), *TOL, f"{name}: state[{key!r}]")


@pytest.mark.parametrize("name, hyper", OPTIMIZERS, ids=IDS)
def test_a_frozen_first_layer_trains_as_in_torch(name, hyper):
    ours, theirs = twins(name, hyper)
    before = ours[0][0].weight.numpy().copy()
    for model, optimizer, *batch in (ours, theirs):
        model[0].requires_grad_(False)
        train(model, optimizer, *batch, steps=3)
    assert_same(ours, theirs)
    np.testing.assert_array_equal(ours[0][0].weight.numpy(), before)


@pytest.mark.parametrize("name, hyper", OPTIMIZERS, ids=IDS)
def test_freezing_midway_leaves_the_frozen_layers_state_as_it_was(name, hyper):
    """Two steps of the whole net, then the first layer frozen for two more: its parameters and
    their momentum/moments/step counts stay at what they were after step 2, as in torch."""
    ours, theirs = twins(name, hyper)
    for model, optimizer, *batch in (ours, theirs):
        train(model, optimizer, *batch, steps=2)
    frozen = ours[0][0].weight
    state_after_two = {key: value.numpy().copy() for key, value in ours[1].state[frozen].items()}
    for model, optimizer, *batch in (ours, theirs):
        model[0].requires_grad_(False)
        train(model, optimizer, *batch, steps=2)
    assert_same(ours, theirs)
    for key, value in ours[1].state[frozen].items():
        np.testing.assert_array_equal(value.numpy(), state_after_two[key], err_msg=key)


def test_unfreezing_trains_the_layer_again():
    ours, theirs = twins("SGD", dict(lr=0.1, momentum=0.9))
    for model, optimizer, *batch in (ours, theirs):
        model[0].requires_grad_(False)
        train(model, optimizer, *batch, steps=2)
        model[0].requires_grad_(True)
        train(model, optimizer, *batch, steps=2)
    assert_same(ours, theirs)
