"""The engine: graph shapes, accumulation, retain_grad, no_grad, errors, custom Functions."""
import numpy as np
import pytest

import minidl as md
from minidl import autograd
from minidl.autograd import Function
from minidl.testing import gradcheck


def leaf(values, dtype="float64"):
    return md.tensor(values, dtype=dtype, requires_grad=True)


def test_node_reused_many_times():
    x = leaf([1.5, -2.0])
    y = x * x * x + x * x  # x is an input of four multiplications
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * x.numpy() ** 2 + 2 * x.numpy(), rtol=1e-15)


def test_diamond_accumulates_both_paths():
    a, b = leaf([2.0]), leaf([3.0])
    x = a + b
    y = x * a  # dy/da = x + a = 2a + b, dy/db = a
    y.backward(md.tensor([1.0], dtype="float64"))
    assert a.grad.item() == 2 * 2.0 + 3.0
    assert b.grad.item() == 2.0


def test_graph_ten_thousand_ops_deep_needs_no_recursion():
    x = leaf([1.0])
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001**10_000], rtol=1e-10)


def test_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    first = x.grad
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0])
    assert first.numpy().tolist() == [3.0, 3.0], "accumulation must be out of place"


def test_leaf_gradient_is_not_aliased_with_the_seed():
    x = leaf([1.0, 2.0])
    seed = md.tensor([1.0, 1.0], dtype="float64")
    (x + 0).backward(seed)
    assert not np.shares_memory(x.grad.array, seed.array)


def test_retain_grad_keeps_gradient_of_a_non_leaf():
    x = leaf([1.0, 2.0])
    hidden = x * 2
    hidden.retain_grad()
    other = x * 5
    (hidden * hidden + other).sum().backward()
    np.testing.assert_array_equal(hidden.grad.numpy(), 2 * hidden.numpy())
    assert other.grad is None


def test_broadcast_gradients_sum_back_to_input_shapes():
    a, b = leaf(np.ones((3, 1))), leaf(np.arange(4.0))
    (a * b).sum().backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (4,)
    np.testing.assert_array_equal(a.grad.numpy(), np.full((3, 1), 6.0))
    np.testing.assert_array_equal(b.grad.numpy(), np.full(4, 3.0))


def test_no_grad_records_nothing_and_restores_the_mode():
    x = leaf([1.0])
    with md.no_grad():
        y = x * 2
        with md.enable_grad():
            z = x * 2
    assert y.grad_fn is None and not y.requires_grad
    assert z.requires_grad and md.is_grad_enabled()


def test_no_grad_as_decorator():
    @md.no_grad()
    def double(t):
        return t * 2

    assert not double(leaf([1.0])).requires_grad
    assert md.is_grad_enabled()


def test_detach_cuts_the_graph_and_shares_data():
    x = leaf([1.0, 2.0])
    d = (x * 2).detach()
    assert d.is_leaf and not d.requires_grad
    y = x * 2
    assert np.shares_memory(y.detach().array, y.array)


def test_backward_twice_on_a_freed_graph_raises():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])


def test_backward_of_a_non_scalar_needs_a_gradient():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"only for scalar outputs, got shape \(2,\)"):
        (x * 2).backward()
    with pytest.raises(ValueError, match=r"gradient must have the tensor's shape \(2,\), got \(3,\)"):
        (x * 2).backward(md.ones(3))
    (x * 2).backward(md.tensor([1.0, 0.5]))
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 1.0])


def test_backward_without_requires_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        md.tensor([1.0]).sum().backward()


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients, got dtype int64"):
        md.tensor([1, 2], requires_grad=True)


def test_requires_grad_of_a_non_leaf_cannot_change():
    y = leaf([1.0]) * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False


def test_integer_outputs_carry_no_graph():
    x = leaf([[1.0, 5.0], [3.0, 2.0]])
    values, indices = x.max(dim=1)
    assert values.requires_grad and not indices.requires_grad and indices.dtype == np.int64


class Softplus(Function):
    """A Function written the way a learner would: out = log(1 + e^x), dx = g * sigmoid(x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log1p(np.exp(x))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return grad / (1 + np.exp(-x))


def test_custom_function_passes_gradcheck():
    x = leaf(np.linspace(-3, 3, 7))
    assert gradcheck(lambda t: Softplus.apply(t), [x])


class SplitHalves(Function):
    """Two outputs: the first and second half of a vector."""

    @staticmethod
    def forward(ctx, x):
        half = x.shape[0] // 2
        return x[:half] * 1, x[half:] * 1

    @staticmethod
    def backward(ctx, grad_first, grad_second):
        return np.concatenate([grad_first, grad_second])


def test_unused_output_of_a_multi_output_function_gets_zero_gradient():
    x = leaf([1.0, 2.0, 3.0, 4.0])
    first, _ = SplitHalves.apply(x)
    (first * 10).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [10.0, 10.0, 0.0, 0.0])


def test_gradcheck_detects_a_wrong_backward():
    class WrongSquare(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved
            return grad * x  # should be 2 * x

    with pytest.raises(AssertionError, match="analytic"):
        gradcheck(lambda t: WrongSquare.apply(t), [leaf([1.0, 2.0])])


def test_gradcheck_demands_float64():
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda t: t * 2, [leaf([1.0], dtype="float32")])


def test_iter_backward_steps_match_backward():
    a, b = leaf([2.0, -1.0]), leaf([0.5, 3.0])
    loss = ((a * b).tanh() + a).sum()
    steps = list(autograd.iter_backward(loss))
    assert [s.op for s in steps][0] == "Sum"
    assert {"Mul", "Tanh", "Add"} <= {s.op for s in steps}
    assert "grad in" in repr(steps[0])
    stepped = a.grad.numpy().copy(), b.grad.numpy().copy()
    a.grad = b.grad = None
    ((a * b).tanh() + a).sum().backward()
    np.testing.assert_array_equal(stepped[0], a.grad.numpy())
    np.testing.assert_array_equal(stepped[1], b.grad.numpy())


class _OnDevice:
    def __init__(self, device):
        self.device, self.shape = device, (2,)


def test_mixing_devices_in_one_op_raises():
    with pytest.raises(ValueError, match=r"Mul: expected all tensors on the same device, got \(2,\) on cpu, \(2,\) on cuda"):
        autograd.check_same_device("Mul", [_OnDevice("cpu"), _OnDevice("cuda")])


@pytest.mark.skipif(md.cupy_usable(), reason="a GPU is usable here")
def test_cuda_without_a_usable_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match="no GPU is usable"):
        md.tensor([1.0]).to("cuda")


def test_unknown_device_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        md.zeros(2, device="tpu")


class WrongNextToInfinity(Function):
    """out = [2 x, -inf]; its backward claims d out_0 / dx = 1 (should be 2)."""

    @staticmethod
    def forward(ctx, x):
        return np.concatenate([2 * x, [-np.inf]])

    @staticmethod
    def backward(ctx, grad):
        return grad[:1]


def test_gradcheck_skips_infinite_outputs_and_still_checks_the_rest():
    """A max-pool window wholly in the padding is -inf: gradcheck leaves it out (inf * r made the
    objective nan, and nan compares as "no difference"), and still catches a wrong gradient."""
    with np.errstate(invalid="raise"):
        x = leaf(np.ones((1, 1, 1, 1)))
        assert gradcheck(lambda t: md.functional.max_pool2d(t, (2, 1), 1, (1, 0), dilation=(2, 1)), [x])
        with pytest.raises(AssertionError, match="analytic"):
            gradcheck(lambda t: WrongNextToInfinity.apply(t), [leaf([1.0])])
