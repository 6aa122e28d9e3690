"""md.autograd.grad against torch.autograd.grad: leaves and computed tensors as inputs, several
outputs (one feeding another), grad_outputs, unused inputs, retain_graph, tensor hooks, errors;
and that no .grad is written."""
import numpy as np
import pytest

import minidl as md

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


def leaves(lib, seed=0, shapes=((3,), (2, 3))):
    rng = np.random.default_rng(seed)
    return [lib.tensor(rng.standard_normal(shape), requires_grad=True) for shape in shapes]


def program(lib, x, w):
    """hidden = tanh(w @ x); loss = sum(hidden^2) + sum(x * x); returns (loss, hidden, second output)."""
    hidden = lib.tanh(w @ x)
    loss = (hidden * hidden).sum() + (x * x).sum()
    return loss, hidden, (hidden * 3).sum()


def assert_same(ours, theirs):
    assert len(ours) == len(theirs)
    for mine, their in zip(ours, theirs):
        if their is None:
            assert mine is None
        else:
            np.testing.assert_allclose(mine.numpy(), their.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("pick", ["leaves", "hidden", "hidden and x", "x twice"])
def test_gradients_of_one_output(pick):
    results = []
    for lib in (md, torch):
        x, w = leaves(lib)
        loss, hidden, _ = program(lib, x, w)
        inputs = {"leaves": [x, w], "hidden": [hidden], "hidden and x": [hidden, x], "x twice": [x, x]}[pick]
        results.append(lib.autograd.grad(loss, inputs))
        assert x.grad is None and w.grad is None  # grad() writes no .grad
    assert_same(*results)


def test_several_outputs_one_feeding_another_with_grad_outputs():
    results = []
    for lib in (md, torch):
        x, w = leaves(lib)
        loss, hidden, second = program(lib, x, w)
        upstream = lib.tensor(np.arange(2.0))
        results.append(lib.autograd.grad([loss, hidden, second], [w, x], grad_outputs=[None, upstream, None]))
    assert_same(*results)


def test_unused_inputs():
    results = []
    for lib in (md, torch):
        x, w = leaves(lib)
        unused = lib.tensor(np.ones(4), requires_grad=True)
        loss = (x * x).sum()
        with pytest.raises(RuntimeError):
            lib.autograd.grad(loss, [x, unused], retain_graph=True)
        results.append(lib.autograd.grad(loss, [x, unused], allow_unused=True, retain_graph=True))
        results.append(lib.autograd.grad(loss, [x, unused], materialize_grads=True))
    assert_same(results[0], results[2])
    assert_same(results[1], results[3])


def test_retain_graph_and_a_second_pass():
    for lib in (md, torch):
        x, w = leaves(lib)
        loss = program(lib, x, w)[0]
        first = lib.autograd.grad(loss, [x], retain_graph=True)
        second = lib.autograd.grad(loss, [x])
        np.testing.assert_array_equal(first[0].detach().numpy(), second[0].detach().numpy())
        with pytest.raises(RuntimeError):
            lib.autograd.grad(loss, [x])


def test_tensor_hooks_apply_as_in_torch():
    results = []
    for lib in (md, torch):
        x, w = leaves(lib)
        loss, hidden, _ = program(lib, x, w)
        x.register_hook(lambda grad: grad * 2)
        hidden.register_hook(lambda grad: grad + 1)
        results.append(lib.autograd.grad(loss, [x, w]))
    assert_same(*results)


def test_errors():
    x, w = leaves(md)
    loss = program(md, x, w)[0]
    with pytest.raises(RuntimeError, match=r"grad: input 0 \(shape \(3,\)\) does not require grad"):
        md.autograd.grad(loss, [md.tensor([1.0, 2.0, 3.0])])
    with pytest.raises(ValueError, match=r"grad: grad_outputs\[0\] has shape \(4,\), but outputs\[0\] has shape \(3,\)"):
        md.autograd.grad(x * 2, [x], grad_outputs=[md.ones(4)], create_graph=True)
    with pytest.raises(ValueError, match="grad: got 2 grad_outputs for 1 outputs"):
        md.autograd.grad(loss, [x], grad_outputs=[None, None])
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        md.autograd.grad(x * 2, [x])
    with pytest.raises(RuntimeError, match=r"input 1 \(shape \(4,\)\) was not used"):
        md.autograd.grad(loss, [x, md.tensor(np.ones(4), requires_grad=True)])
