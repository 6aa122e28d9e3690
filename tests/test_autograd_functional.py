"""md.autograd.functional (vjp, jvp, hvp, jacobian, hessian) against torch.autograd.functional, and
md.testing.gradgradcheck: passes on correct second derivatives, catches a wrong one."""
import numpy as np
import pytest

import minidl as md
from minidl.testing import GradcheckError, gradgradcheck

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

X = np.array([0.3, -1.2, 2.0])
V = np.array([1.0, 0.5, -2.0])


def vector_fn(lib):
    return lambda x: lib.tanh(x) * x + lib.sin(x).sum()


def scalar_fn(lib):
    return lambda x: (lib.tanh(x) * x * x).sum() + (x.sum() * x.sum())


@pytest.mark.parametrize("name", ["vjp", "jvp", "hvp", "jacobian", "hessian"])
def test_matches_torch_autograd_functional(name):
    results = []
    for lib in (md, torch):
        functional = lib.autograd.functional
        x, v = lib.tensor(X), lib.tensor(V)
        if name in ("vjp", "jvp"):
            output, value = getattr(functional, name)(vector_fn(lib), x, v)
            results.append([output, value])
        elif name == "hvp":
            results.append(list(functional.hvp(scalar_fn(lib), x, v)))
        else:
            fn = vector_fn(lib) if name == "jacobian" else scalar_fn(lib)
            results.append([getattr(functional, name)(fn, x)])
        assert x.grad is None
    for mine, their in zip(*results):
        np.testing.assert_allclose(mine.numpy(), their.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_several_inputs_come_back_as_a_tuple():
    results = []
    for lib in (md, torch):
        a, b = lib.tensor(X), lib.tensor(V)
        results.append(lib.autograd.functional.hvp(lambda a, b: (a * a * b).sum(), (a, b), (lib.tensor(V), lib.tensor(X)))[1])
    assert isinstance(results[0], tuple) and len(results[0]) == 2
    for mine, their in zip(*results):
        np.testing.assert_allclose(mine.numpy(), their.numpy(), rtol=1e-12)


def test_gradgradcheck_passes_and_catches_a_wrong_second_derivative():
    a = md.tensor(np.random.default_rng(0).standard_normal((2, 3)), requires_grad=True)
    b = md.tensor(np.random.default_rng(1).standard_normal((3, 2)), requires_grad=True)
    assert gradgradcheck(lambda a, b: md.sin(a @ b) * md.exp(a @ b), [a, b])

    class Cube(md.autograd.Function):
        """out = a^3;  da = 3 a^2 g, right; its graph_backward treats 3 a^2 as a constant, wrong."""

        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a**3

        @staticmethod
        def backward(ctx, grad):
            (a,) = ctx.saved
            return grad * 3 * a * a

        @staticmethod
        def graph_backward(ctx, grad):
            (a,) = ctx.saved
            return grad * md.tensor(3 * a.numpy() ** 2)

    x = md.tensor(np.array([0.5, -1.5]), requires_grad=True)
    assert md.testing.gradcheck(Cube.apply, [x])  # the first derivative is right
    with pytest.raises(GradcheckError, match="input 0"):
        gradgradcheck(Cube.apply, [x])
