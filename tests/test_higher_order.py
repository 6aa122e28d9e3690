"""Gradients of gradients (create_graph=True) against torch, float64: a Hessian-vector product for
every op with a differentiable backward, f'' of a scalar function, backward(create_graph=True),
a WGAN-GP gradient-penalty step; and the clear errors for ops without one."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl as md
from minidl.testing import check_hvp_against_torch
from op_cases import CASES as OP_CASES

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

rng = np.random.default_rng(0)
POSITIVE = rng.uniform(0.5, 2.0, (3, 4))
MASK = rng.random((3, 4)) > 0.5
CASES = {  # name: (function of the library and its inputs, input arrays)
    "add": (lambda lib, a, b: a + b, [rng.standard_normal((3, 4)), rng.standard_normal((4,))]),
    "sub": (lambda lib, a, b: a - b, [rng.standard_normal((3, 4)), rng.standard_normal((3, 1))]),
    "mul": (lambda lib, a, b: a * b, [rng.standard_normal((3, 4)), rng.standard_normal((4,))]),
    "div": (lambda lib, a, b: a / b, [rng.standard_normal((3, 4)), POSITIVE]),
    "neg": (lambda lib, a: -a * a, [rng.standard_normal((3, 4))]),
    "exp": (lambda lib, a: lib.exp(a), [rng.standard_normal((3, 4))]),
    "log": (lambda lib, a: lib.log(a), [POSITIVE]),
    "sin": (lambda lib, a: lib.sin(a), [rng.standard_normal((3, 4))]),
    "cos": (lambda lib, a: lib.cos(a), [rng.standard_normal((3, 4))]),
    "tanh": (lambda lib, a: lib.tanh(a), [rng.standard_normal((3, 4))]),
    "sigmoid": (lambda lib, a: lib.sigmoid(a), [rng.standard_normal((3, 4))]),
    "relu": (lambda lib, a: lib.relu(a) * a, [rng.standard_normal((3, 4))]),
    "sum": (lambda lib, a: (a.sum(dim=1) ** 2 if lib is torch else a.sum(dim=1) * a.sum(dim=1)), [rng.standard_normal((3, 4))]),
    "mean keepdim": (lambda lib, a: a.mean(dim=0, keepdim=True) * a, [rng.standard_normal((3, 4))]),
    "matmul": (lambda lib, a, b: lib.tanh(a @ b), [rng.standard_normal((3, 4)), rng.standard_normal((4, 2))]),
    "matmul batched, vector": (lambda lib, a, b: lib.tanh(a @ b), [rng.standard_normal((2, 3, 4)), rng.standard_normal((4,))]),
    "linear": (lambda lib, x, w, b: lib.tanh(lib.nn.functional.linear(x, w, b)),
               [rng.standard_normal((5, 4)), rng.standard_normal((3, 4)), rng.standard_normal((3,))]),
    "reshape, expand, permute": (lambda lib, a: lib.sin(a.reshape(2, 6).expand(3, 2, 6).permute(2, 0, 1)),
                                 [rng.standard_normal((3, 4))]),
    "sqrt": (lambda lib, a: lib.sqrt(a) * a, [POSITIVE]),
    "softmax": (lambda lib, a: lib.softmax(a, dim=1) * a, [rng.standard_normal((3, 4))]),
    "log_softmax": (lambda lib, a: lib.log_softmax(a, dim=0) * a, [rng.standard_normal((3, 4))]),
    "cross_entropy": (lambda lib, a: lib.nn.functional.cross_entropy(lib.tanh(a), lib.tensor([1, 0, 3])).reshape(1),
                      [rng.standard_normal((3, 4))]),
    "abs": (lambda lib, a: lib.abs(a) * a, [rng.standard_normal((3, 4))]),
    "clamp": (lambda lib, a: lib.clamp(a, -0.5, 0.8) * a, [rng.standard_normal((3, 4))]),
    "where": (lambda lib, a, b: lib.where(lib.tensor(MASK), a * a, b * a), [rng.standard_normal((3, 4)), rng.standard_normal((3, 4))]),
    "cat": (lambda lib, a, b: lib.cat([a * b, lib.sin(a)], dim=1), [rng.standard_normal((3, 4)), rng.standard_normal((3, 4))]),
    "getitem": (lambda lib, a: a[1:, ::2] * a[:2, 1::2], [rng.standard_normal((3, 4))]),
}  # fmt: skip


def hessian_vector_products(lib, fn, arrays, seed=1):
    """H v for the loss sum(fn(inputs) * w): the gradient of (grad . v), with random w and v."""
    draw = np.random.default_rng(seed)
    inputs = [lib.tensor(a, requires_grad=True) for a in arrays]
    out = fn(lib, *inputs)
    loss = (out * lib.tensor(draw.standard_normal(tuple(out.shape)))).sum()
    grads = lib.autograd.grad(loss, inputs, create_graph=True)
    directional = sum((g * lib.tensor(draw.standard_normal(a.shape))).sum() for g, a in zip(grads, arrays))
    if not directional.requires_grad:  # the gradient does not depend on the inputs: H = 0
        return [g.detach().numpy() for g in grads], [np.zeros_like(a) for a in arrays]
    return [g.detach().numpy() for g in grads], [
        h.detach().numpy() for h in lib.autograd.grad(directional, inputs, materialize_grads=True)]


@pytest.mark.parametrize("name", sorted(CASES))
def test_hessian_vector_product_matches_torch(name):
    fn, arrays = CASES[name]
    (ours, ours_hv), (theirs, theirs_hv) = (hessian_vector_products(lib, fn, arrays) for lib in (md, torch))
    for mine, their in zip(ours + ours_hv, theirs + theirs_hv):
        np.testing.assert_allclose(mine, their, rtol=1e-9, atol=1e-12)


def test_second_and_third_derivative_of_a_scalar_function():
    values = {}
    for lib in (md, torch):
        x = lib.tensor(np.array([0.3, -1.2, 2.0]), requires_grad=True)
        y = (lib.tanh(x) * x * x * x + lib.exp(lib.sin(x))).sum()
        (d1,) = lib.autograd.grad(y, x, create_graph=True)
        (d2,) = lib.autograd.grad(d1.sum(), x, create_graph=True)
        (d3,) = lib.autograd.grad(d2.sum(), x)
        values[lib.__name__] = [d.detach().numpy() for d in (d1, d2, d3)]
    for mine, their in zip(values["minidl"], values["torch"]):
        np.testing.assert_allclose(mine, their, rtol=1e-10)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")  # torch's note on .grad cycles
def test_backward_with_create_graph_leaves_a_differentiable_grad():
    seconds = {}
    for lib in (md, torch):
        x = lib.tensor(np.array([0.5, -2.0]), requires_grad=True)
        (lib.sin(x) * x).sum().backward(create_graph=True)
        first, x.grad = x.grad, None
        assert first.requires_grad
        first.sum().backward()
        seconds[lib.__name__] = x.grad.detach().numpy()
    np.testing.assert_allclose(seconds["minidl"], seconds["torch"], rtol=1e-12)


def critic(lib):
    """Linear-Tanh-Linear with the same float64 weights in both libraries."""
    model = lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.Tanh(), lib.nn.Linear(8, 1)).double()
    draw = np.random.default_rng(3)
    with lib.no_grad():
        for p in model.parameters():
            p.copy_(lib.tensor(draw.standard_normal(tuple(p.shape)) * 0.5))
    return model


def test_wgan_gp_gradient_penalty_steps_equal_torchs():
    """A WGAN-GP critic update, three times: loss = mean(critic(fake)) - mean(critic(real)) + 10 *
    mean((|d critic / d x|^2 - 1)^2) at points between real and fake samples, then an Adam step.
    The loss and every parameter equal torch's after each step."""
    draw = np.random.default_rng(4)
    batches = [(draw.standard_normal((6, 4)), draw.standard_normal((6, 4)) + 1, draw.uniform(size=(6, 1)))
               for _ in range(3)]  # fmt: skip
    results = {}
    for lib in (md, torch):
        model = critic(lib)
        optimizer = lib.optim.Adam(model.parameters(), lr=0.01)
        history = []
        for real, fake, mix in batches:
            points = lib.tensor(mix * real + (1 - mix) * fake, requires_grad=True)
            (slope,) = lib.autograd.grad(model(points).sum(), points, create_graph=True)
            gap = (slope * slope).sum(dim=1) - 1
            loss = model(lib.tensor(fake)).mean() - model(lib.tensor(real)).mean() + 10 * (gap * gap).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history.append([loss.item()] + [p.detach().numpy().copy() for p in model.parameters()])
        results[lib.__name__] = history
    for step, (mine, theirs) in enumerate(zip(results["minidl"], results["torch"])):
        for k, (a, b) in enumerate(zip(mine, theirs)):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13, err_msg=f"step {step}, value {k}")


class Cube(md.autograd.Function):
    """x^3 with a backward on arrays only: a learner's op that has no second derivative yet."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a**3

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved
        return 3 * a * a * grad


def test_an_op_without_a_differentiable_backward_is_named_before_anything_runs():
    x = md.tensor(np.array([0.5, -2.0, 1.0]), requires_grad=True)
    y = (Cube.apply(x) * md.exp(x)).sum()
    with pytest.raises(NotImplementedError, match="create_graph=True: no differentiable backward yet for Cube"):
        md.autograd.grad(y, x, create_graph=True)
    assert x.grad is None
    (first,) = md.autograd.grad(y, x)  # the graph is intact: an ordinary gradient still works
    assert first.shape == (3,)


def test_hooks_are_refused_on_this_path():
    x = md.tensor(np.array([0.5, -2.0]), requires_grad=True)
    x.register_hook(lambda grad: grad * 2)
    with pytest.raises(NotImplementedError, match="hooks"):
        md.autograd.grad((x * x).sum(), x, create_graph=True)


def test_a_saved_array_that_is_not_an_input_or_output_is_refused_not_treated_as_constant():
    class Square(md.autograd.Function):
        differentiable_backward = True  # wrongly: it saves 2a, derived from its input

        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(2 * a)
            return a * a

        @staticmethod
        def backward(ctx, grad):
            (twice,) = ctx.saved
            return grad * twice

    x = md.tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(RuntimeError, match="Square saved an array that is neither its input nor its output"):
        md.autograd.grad(Square.apply(x).sum(), x, create_graph=True)


@pytest.mark.parametrize("name", sorted(OP_CASES))
@settings(max_examples=4, deadline=None)
@given(data=st.data())
def test_every_registry_op_has_torchs_hessian_vector_products(name, data):
    """Every op of tests/op_cases.py, on hypothesis-drawn shapes in float64: the gradient built with
    create_graph=True and the Hessian-vector product equal torch's (1e-9)."""
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    inputs, md_fn, torch_fn = OP_CASES[name](data.draw, np.random.default_rng(seed))
    inputs = [np.asarray(x, dtype=np.float64 if np.asarray(x).dtype.kind == "f" else None) for x in inputs]
    check_hvp_against_torch(md_fn, torch_fn, inputs)
