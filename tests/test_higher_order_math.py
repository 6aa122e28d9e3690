"""Gradients of gradients of the math ops against torch (float64), where the op registry's
hypothesis draws do not go: ties of max/amax, zeros in prod, a zero base of pow, zero elements of a
norm, gelu's tanh form far out, -inf in logsumexp; erf (not in the registry); third derivatives."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minidl as md
from minidl.ops.arithmetic import erf
from minidl.testing import check_hvp_against_torch, gradgradcheck

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

TIES = [[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [-1.0, 0.5, -1.0, 0.5]]
ZEROS = [[0.0, 2.0, 3.0, -1.5], [0.0, 1.5, 0.0, 4.0], [1.0, 2.0, 3.0, 4.0]]
SPREAD = [[-30.0, -2.2, -0.3, 0.0], [0.4, 1.1, 3.0, 40.0]]


def curved(lib, y):
    """sin(y) y: a nonzero second derivative, so a linear op's Hessian-vector product is not just 0."""
    return lib.sin(y) * y


def erf_of(lib, x):
    return erf(x) if lib is md else torch.erf(x)


EDGE_CASES = {  # name: (function of the library and the input, the input)
    "amax: ties share the gradient evenly": (lambda lib, x: x.amax(dim=1), TIES),
    "amin over two dims: ties share evenly": (lambda lib, x: x.amin(dim=(0, 1), keepdim=True), TIES),
    "max of all: ties share evenly": (lambda lib, x: x.max(), TIES),
    "max(dim): the first of the ties takes all": (lambda lib, x: x.max(dim=1)[0], TIES),
    "min(dim, keepdim): the first of the ties takes all": (lambda lib, x: x.min(dim=0, keepdim=True)[0], TIES),
    "prod along a dim with one and two zeros": (lambda lib, x: x.prod(dim=1), ZEROS),
    "prod of all with zeros": (lambda lib, x: x[:2, :3].prod(), ZEROS),
    "prod of a single zero": (lambda lib, x: x[:, :1].prod(dim=1, keepdim=True), ZEROS),
    "pow: zero base, constant tensor exponent": (lambda lib, x: x ** lib.tensor([2.0, 1.0, 3.5, 2.0]), ZEROS),
    "gelu tanh far out and at 0": (lambda lib, x: lib.nn.functional.gelu(x, approximate="tanh"), SPREAD),
    "gelu far out and at 0": (lambda lib, x: lib.nn.functional.gelu(x), SPREAD),
    "silu far out and at 0": (lambda lib, x: lib.nn.functional.silu(x), SPREAD),
    "leaky_relu at 0": (lambda lib, x: lib.nn.functional.leaky_relu(x, 0.2), SPREAD),
    "2-norm with zero elements": (lambda lib, x: x.norm(2, 1), ZEROS),
    "3-norm with zero elements": (lambda lib, x: x.norm(3, 1), ZEROS),
    "1-norm with zero elements": (lambda lib, x: x.norm(1, 0), ZEROS),
    "inf-norm: ties share evenly": (lambda lib, x: x.norm(float("inf"), 1), TIES),
    "0-norm: no gradient": (lambda lib, x: x.norm(0, 1), ZEROS),
    "logsumexp with -inf": (lambda lib, x: lib.logsumexp(x, 1), [[-np.inf, 0.0, 1.0], [2.0, 3.0, -np.inf]]),
    "cumsum": (lambda lib, x: lib.cumsum(x * x, 0), ZEROS),
    "round: zero gradient": (lambda lib, x: lib.round(x * 3.3), SPREAD),
    "var of a constant row": (lambda lib, x: x.var(dim=1), [[2.0, 2.0, 2.0], [0.5, -1.0, 3.0]]),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_cases_have_torchs_hessian_vector_products(name):
    fn, values = EDGE_CASES[name]
    check_hvp_against_torch(lambda x: curved(md, fn(md, x)), lambda x: curved(torch, fn(torch, x)), [np.array(values)])


def gradient_and_hvp(lib, fn, arrays, seed=0):
    """(dL/dx, H v) for L = sum(fn(*inputs) * r), with random r and v."""
    draw = np.random.default_rng(seed)
    inputs = [lib.tensor(a, requires_grad=True) for a in arrays]
    out = fn(lib, *inputs)
    grads = lib.autograd.grad((out * lib.tensor(draw.standard_normal(tuple(out.shape)))).sum(), inputs, create_graph=True)
    directional = sum((g * lib.tensor(draw.standard_normal(a.shape))).sum() for g, a in zip(grads, arrays))
    hvps = lib.autograd.grad(directional, inputs)
    return [g.detach().numpy() for g in grads], [h.detach().numpy() for h in hvps]


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # the nan of log 0, in both libraries
def test_pow_with_a_tensor_exponent_at_a_zero_base():
    """0 ** b: the gradients are torch's (0 for the exponent where b >= 0, inf for the base where
    b < 1); the Hessian-vector product is torch's wherever torch's is finite (log 0 makes it nan at
    the zero bases)."""
    base, exponent = np.array([0.0, 0.0, 0.0, 2.0, 1.5]), np.array([2.0, 1.0, 0.5, 0.0, -1.0])
    (mine, my_hvp), (theirs, their_hvp) = (gradient_and_hvp(lib, lambda _, a, b: a**b, [base, exponent]) for lib in (md, torch))
    for a, b in zip(mine, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    for a, b in zip(my_hvp, their_hvp):
        finite = np.isfinite(b)
        assert finite[3:].all()
        np.testing.assert_allclose(a[finite], b[finite], rtol=1e-12)


@settings(max_examples=10, deadline=None)
@given(shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4), seed=st.integers(0, 2**32 - 1))
def test_erf_has_torchs_hessian_vector_products(shape, seed):
    x = 1.5 * np.random.default_rng(seed).standard_normal(shape)
    check_hvp_against_torch(erf, torch.erf, [np.asarray(x)])


@pytest.mark.parametrize("fn", [
    erf,
    lambda x: md.nn.functional.gelu(x, approximate="tanh"),
    lambda x: x.prod(dim=0),
    lambda x: (x * x + 0.5) ** md.tensor([[1.5], [-2.5]]),
    lambda x: md.logsumexp(x, 1) * x.var(dim=0).sum(),
], ids=["erf", "gelu tanh", "prod with a zero", "pow", "logsumexp, var"])  # fmt: skip
def test_second_derivatives_match_central_differences(fn):
    x = md.tensor(np.array([[0.3, -1.2, 0.0], [0.8, 0.5, 1.7]]), requires_grad=True)
    assert gradgradcheck(fn, [x])


THIRD_ORDER = {
    "erf": lambda lib, x: erf_of(lib, x),
    "gelu": lambda lib, x: lib.nn.functional.gelu(x),
    "gelu tanh": lambda lib, x: lib.nn.functional.gelu(x, approximate="tanh"),
    "silu": lambda lib, x: lib.nn.functional.silu(x),
    "pow": lambda lib, x: (x * x + 0.5) ** lib.sin(x),
    "prod with zeros": lambda lib, x: (x * lib.tensor(np.array([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])) + x * x).prod(dim=1),
    "cumsum": lambda lib, x: lib.cumsum(lib.sin(x), 1),
    "logsumexp": lambda lib, x: lib.logsumexp(x, 0),
    "var": lambda lib, x: x.var(dim=1) * x.sum(),
    "2-norm": lambda lib, x: x.norm(2, 1),
    "expm1, log1p": lambda lib, x: lib.log1p(lib.expm1(x) + 2.0),
    "binary_cross_entropy": lambda lib, x: lib.nn.functional.binary_cross_entropy(lib.sigmoid(x), lib.sigmoid(0.5 * x + 0.3)),
    "binary_cross_entropy_with_logits": lambda lib, x: lib.nn.functional.binary_cross_entropy_with_logits(x, lib.sigmoid(x * x)),
    "kl_div": lambda lib, x: lib.nn.functional.kl_div(lib.log_softmax(x, 1), lib.softmax(x * x, 1), reduction="batchmean"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(THIRD_ORDER))
def test_third_derivatives_match_torch(name):
    """The backward of the backward is itself differentiable: d/dx <d/dx <dL/dx, v>, u>."""
    results = {}
    for lib in (md, torch):
        draw = np.random.default_rng(5)
        v, u = draw.standard_normal((2, 3)), draw.standard_normal((2, 3))
        x = lib.tensor(np.array([[0.3, -1.2, 0.7], [0.8, 0.5, -1.7]]), requires_grad=True)
        out = THIRD_ORDER[name](lib, x)
        total = (out * lib.tensor(draw.standard_normal(tuple(out.shape)))).sum()
        (first,) = lib.autograd.grad(total, x, create_graph=True)
        (second,) = lib.autograd.grad((first * lib.tensor(v)).sum(), x, create_graph=True)
        (third,) = lib.autograd.grad((second * lib.tensor(u)).sum(), x)
        results[lib.__name__] = [d.detach().numpy() for d in (first, second, third)]
    for mine, theirs in zip(results["minidl"], results["torch"]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-12)
