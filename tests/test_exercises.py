"""md.testing.check_exercise: every exercise passes a correct solution and fails a wrong one."""
import numpy as np
import pytest

import minidl as md
from minidl.autograd import Function
from minidl.testing import EXERCISES, check_exercise


def softplus_class(derivative):
    class Softplus(Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return np.logaddexp(0, a)

        @staticmethod
        def backward(ctx, grad):
            (a,) = ctx.saved
            return grad * derivative(a)

    return Softplus


def sum_to_shape(grad, shape):
    grad = grad.sum(axis=tuple(range(grad.ndim - len(shape))))
    return grad.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)


def window_backward(window, grad):
    result = np.zeros_like(window)
    result[np.unravel_index(np.argmax(window), window.shape)] = grad
    return result


def conv_loops(x, weight, stride=1, padding=0):
    """The plainest convolution: one output element at a time."""
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    _, _, kh, kw = weight.shape
    out_h, out_w = (x.shape[2] - kh) // stride + 1, (x.shape[3] - kw) // stride + 1
    out = np.zeros((x.shape[0], weight.shape[0], out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            patch = x[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
            out[:, :, i, j] = np.einsum("nchw,ochw->no", patch, weight)
    return out


def adam_step(w, g, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, bias_correction=True):
    m = betas[0] * m + (1 - betas[0]) * g
    v = betas[1] * v + (1 - betas[1]) * g * g
    m_hat, v_hat = (m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)) if bias_correction else (m, v)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def lstm_step(x, h, c, cell, gate_order="ifgo"):
    H = cell.hidden_size
    gates = x @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
    block = {name: gates[:, k * H : (k + 1) * H] for k, name in enumerate(gate_order)}
    i, f, o = md.sigmoid(block["i"]), md.sigmoid(block["f"]), md.sigmoid(block["o"])
    c = f * c + i * md.tanh(block["g"])
    return o * md.tanh(c), c, "gates (ignored)"


def gru_step(x, h, cell, gate_order="rzn"):
    size = cell.hidden_size
    from_x = x @ cell.weight_ih.T + cell.bias_ih
    from_h = h @ cell.weight_hh.T + cell.bias_hh
    block = {name: slice(k * size, (k + 1) * size) for k, name in enumerate(gate_order)}
    r = md.sigmoid(from_x[:, block["r"]] + from_h[:, block["r"]])
    z = md.sigmoid(from_x[:, block["z"]] + from_h[:, block["z"]])
    n = md.tanh(from_x[:, block["n"]] + r * from_h[:, block["n"]])
    return (1 - z) * n + z * h


def standardize(train, test, ddof=0):
    mean, std = train.mean(axis=0), train.std(axis=0, ddof=ddof)
    std = np.where(std > 0, std, 1.0)
    return (train - mean) / std, (test - mean) / std


def quantize(w, levels=127):
    scale = np.abs(w).max() / levels
    return np.clip(np.round(w / scale), -levels, levels), scale


SOLUTIONS = {  # name: (a correct solution, a wrong one)
    "softplus_backward": (softplus_class(lambda a: np.exp(-np.logaddexp(0, -a))), softplus_class(lambda a: np.tanh(a))),
    "sum_to_shape": (sum_to_shape, lambda grad, shape: sum_to_shape(grad, shape) * 0.5),
    "max_pool_backward_window": (window_backward, lambda window, grad: (window == window.max()) * grad),
    "conv_forward": (conv_loops, lambda x, w, stride=1, padding=0: conv_loops(x, w[:, :, ::-1, ::-1], stride, padding)),
    "adam_step": (adam_step, lambda *args, **kw: adam_step(*args, **kw, bias_correction=False)),
    "lstm_cell": (lstm_step, lambda x, h, c, cell: lstm_step(x, h, c, cell, gate_order="figo")),
    "gru_step": (gru_step, lambda x, h, cell: gru_step(x, h, cell, gate_order="zrn")),
    "standardize": (standardize, lambda train, test: standardize(train, test, ddof=1)),
    "quantize_int8": (quantize, lambda w: quantize(w, levels=128)),
}


def test_every_exercise_has_a_solution_here():
    assert set(SOLUTIONS) == set(EXERCISES)


@pytest.mark.parametrize("name", SOLUTIONS)
def test_a_correct_solution_passes(name, capsys):
    verdict = check_exercise(name, SOLUTIONS[name][0])
    assert verdict and "correct" in verdict.message
    assert capsys.readouterr().out.startswith(f"{name}: correct!")


@pytest.mark.parametrize("name", SOLUTIONS)
def test_a_wrong_solution_fails_and_says_where(name):
    verdict = check_exercise(name, SOLUTIONS[name][1])
    assert not verdict
    assert verdict.message.startswith("case ") and "expected" in verdict.message


def test_an_unfinished_exercise_is_not_done_yet():
    def unfinished(grad, shape):
        raise NotImplementedError("exercise 3")

    verdict = check_exercise("sum_to_shape", unfinished)
    assert not verdict and "not done yet" in str(verdict)


def test_an_exception_in_the_solution_is_reported():
    verdict = check_exercise("conv_forward", lambda x, weight, stride, padding: x.reshape(7, 7))
    assert not verdict and "raised ValueError" in verdict.message


def test_a_wrong_shape_is_named():
    verdict = check_exercise("sum_to_shape", lambda grad, shape: grad)
    assert "has shape (2, 3, 4), expected (2, 3, 4)" not in verdict.message
    assert "the result has shape (2, 3, 4), expected (4,)" in verdict.message


def test_unknown_names_list_the_valid_ones():
    listing = r"(?s)unknown exercise 'conv'.*conv_forward \(tutorial 02 exercise 3\).*adam_step"
    with pytest.raises(ValueError, match=listing):
        check_exercise("conv", conv_loops)
    with pytest.raises(TypeError, match="conv_forward expects a function"):
        check_exercise("conv_forward", None)
