"""md.autograd.step_through: the backward pass one node at a time, equal to backward()."""
import numpy as np
import pytest

import minidl as md
import minidl.functional as F


def diamond(a, b):
    x = a + b
    return (x * a).sum()


def mlp(x, w, b):
    return F.cross_entropy(md.tanh(x @ w + b), md.tensor([0, 2]))


def lstm_two_outputs(x, h, c, w_ih, w_hh):
    h_new, c_new = F.lstm_cell(x, (h, c), w_ih, w_hh)  # one LSTMStep node with two outputs
    return (h_new * c_new).sum() + c_new.sum()


def leaves(*shapes):
    rng = np.random.default_rng(0)
    return [md.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]


GRAPHS = {
    "diamond": (diamond, [(3,), (3,)]),
    "mlp": (mlp, [(2, 4), (4, 3), (3,)]),
    "lstm_cell (multi-output)": (lstm_two_outputs, [(2, 3), (2, 4), (2, 4), (16, 3), (16, 4)]),
}


@pytest.mark.parametrize("name", GRAPHS)
def test_step_through_gives_the_gradients_of_backward(name):
    fn, shapes = GRAPHS[name]
    walked, direct = leaves(*shapes), leaves(*shapes)
    steps = list(md.autograd.step_through(fn(*walked)))
    fn(*direct).backward()
    assert steps, "no step was yielded"
    for mine, theirs in zip(walked, direct):
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)


def test_each_step_describes_the_node():
    a, b = leaves((3,), (3,))
    steps = list(md.autograd.step_through(diamond(a, b), leaf_names={"a": a, "b": b}))
    assert [s.op for s in steps] == ["Sum", "Mul", "Add"]
    mul = steps[1]
    assert mul.input_shapes == ((3,), (3,))
    assert mul.targets(mul.leaf_names) == ("<AddBackward>", "leaf a (3,) (into .grad)")
    text = str(mul)
    assert "MulBackward" in text and "grad in" in text and "-> leaf a (3,)" in text and "-> <AddBackward>" in text
    assert mul._repr_html_().startswith("<pre>")


def test_constants_and_broadcasting_are_named():
    w = md.tensor([1.0, 2.0], requires_grad=True)
    loss = (md.tensor([[1.0, 2.0], [3.0, 4.0]]) * w).sum()
    mul = list(md.autograd.step_through(loss, leaf_names={"w": w}))[1]
    assert mul.targets() == ("nowhere (needs no gradient)", "leaf tensor (2,) (into .grad)")
    assert "summed to shape (2,) -> leaf w (2,)" in str(mul)


def test_iter_backward_steps_print_as_before():
    a, b = leaves((3,), (3,))
    step = next(md.autograd.iter_backward(diamond(a, b)))
    assert str(step) == repr(step) and "sent to" not in str(step)


def test_gradient_argument_for_a_non_scalar_output():
    (a,) = leaves((2, 2))
    list(md.autograd.step_through(a * 3, gradient=np.ones((2, 2))))
    np.testing.assert_allclose(a.grad.numpy(), np.full((2, 2), 3.0))
