"""md.testing.check_exercise: every exercise passes a correct solution (ours here, and the one in
tutorials/solutions/) and fails a wrong one; md.testing.progress() remembers the passes."""
import importlib.util
import json
from pathlib import Path

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


def _run_node(node, grad):
    """Run ``node``'s backward on ``grad``: add what reaches a leaf into its ``.grad`` and return
    ``[(parent node, its gradient)]`` for the rest."""
    grad_inputs = node.function.backward(node.ctx, grad)
    sent = []
    for edge, grad_in in zip(node.edges, grad_inputs if isinstance(grad_inputs, tuple) else (grad_inputs,)):
        if edge is not None and edge[0] is None:
            edge[1].grad = grad_in if edge[1].grad is None else edge[1].grad + grad_in
        elif edge is not None:
            sent.append((edge[0], grad_in))
    return sent


def backward_pass(loss):
    """The engine's walk (minidl/autograd.py iter_backward): count consumers, then run a node once
    its count reaches 0."""
    consumers = md.autograd._count_consumers(loss.grad_fn)  # the counting the learner writes in 01
    order, grads, ready = [], {loss.grad_fn: np.ones(())}, [loss.grad_fn]
    while ready:
        node = ready.pop()
        order.append(node)
        for parent, grad in _run_node(node, grads.pop(node)):
            grads[parent] = grads.get(parent, 0) + grad
            consumers[parent] -= 1
            if consumers[parent] == 0:
                ready.append(parent)
    return order


def depth_first_backward(loss):
    """The naive walk: push every gradient on at once.  The values come out right (the chain rule
    is linear), but a node read by two ops runs twice."""
    order = []

    def visit(node, grad):
        order.append(node)
        for parent, grad_in in _run_node(node, grad):
            visit(parent, grad_in)

    visit(loss.grad_fn, np.ones(()))
    return order


def matmul_backward(a, b, grad, transpose_grad_b=False):
    grad_b = a.reshape(-1, a.shape[-1]).T @ grad.reshape(-1, grad.shape[-1])  # a batch of a: summed over it
    return grad @ b.T, (grad_b.T if transpose_grad_b else grad_b)


def softmax_cross_entropy_backward(logits, targets, mean=True):
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    grad = shifted / shifted.sum(axis=1, keepdims=True)
    grad[np.arange(len(targets)), targets] -= 1
    return grad / len(targets) if mean else grad


def batch_norm_forward(x, gamma, beta, eps, ddof=0):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    x_hat = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, ddof=ddof, keepdims=True) + eps)
    return gamma.reshape(shape) * x_hat + beta.reshape(shape)


def batch_norm_backward(x, gamma, grad, eps, through_statistics=True):
    """dx through x_hat, mu and sigma^2 (``through_statistics=False``: as if they were constants)."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    inv_std = 1 / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    x_hat = (x - x.mean(axis=axes, keepdims=True)) * inv_std
    g_hat = gamma.reshape(shape) * grad
    dx = g_hat * inv_std
    if through_statistics:
        m = x.size // x.shape[1]
        dx = inv_std / m * (m * g_hat - g_hat.sum(axis=axes, keepdims=True) - x_hat * (g_hat * x_hat).sum(axis=axes, keepdims=True))
    return dx, (grad * x_hat).sum(axis=axes), grad.sum(axis=axes)


def attention(q, k, v, mask, scale=None):
    scores = q @ np.swapaxes(k, -1, -2) * (scale or 1 / np.sqrt(q.shape[-1]))
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return weights / weights.sum(axis=-1, keepdims=True) @ v


def activation_stds(model, x, kinds=(md.nn.ReLU, md.nn.Tanh), remove=True):
    """The std of every output of a module of ``kinds``, read by forward hooks."""
    stds = []
    handles = [module.register_forward_hook(lambda module, args, out: stds.append(out.std().item()))
               for module in model.modules() if isinstance(module, kinds)]
    model(x)
    for handle in handles if remove else ():
        handle.remove()
    return stds


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
    "matmul_backward": (matmul_backward, lambda a, b, grad: matmul_backward(a, b, grad, transpose_grad_b=True)),
    "softmax_cross_entropy_backward": (softmax_cross_entropy_backward,
                                       lambda z, y: softmax_cross_entropy_backward(z, y, mean=False)),
    "backward": (backward_pass, depth_first_backward),
    "activation_stds": (activation_stds, lambda model, x: activation_stds(model, x, kinds=(md.nn.Linear,))),
    "scaled_dot_product_attention": (attention, lambda q, k, v, mask: attention(q, k, v, mask, scale=1 / q.shape[-1])),
    "batch_norm_forward": (batch_norm_forward, lambda x, gamma, beta, eps: batch_norm_forward(x, gamma, beta, eps, ddof=1)),
    "batch_norm_backward": (batch_norm_backward,
                            lambda x, gamma, grad, eps: batch_norm_backward(x, gamma, grad, eps, through_statistics=False)),
}  # fmt: skip
TUTORIAL_SOLUTIONS = sorted((Path(__file__).resolve().parents[1] / "tutorials" / "solutions").glob("[0-9][0-9]_*.py"))


def tutorial_solutions():
    """``{exercise name: solution}`` from the ``CHECKED`` dict of every tutorials/solutions file."""
    checked = {}
    for path in TUTORIAL_SOLUTIONS:
        spec = importlib.util.spec_from_file_location(f"solutions_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        checked.update(module.CHECKED)
    return checked


def test_every_exercise_has_a_solution_here_and_in_the_tutorials():
    assert set(SOLUTIONS) == set(EXERCISES)
    assert set(tutorial_solutions()) == set(EXERCISES)


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_the_tutorials_solution_passes(name):
    solution = tutorial_solutions().get(name)
    assert solution is not None, f"no solution for {name} in tutorials/solutions/"
    verdict = check_exercise(name, solution)
    assert verdict, verdict.message


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


@pytest.mark.parametrize("name, calls_the_cell", [("lstm_cell", lambda x, h, c, cell: cell(x, (h, c))),
                                                   ("gru_step", lambda x, h, cell: cell(x, h))])
def test_calling_the_cell_is_not_an_answer(name, calls_the_cell):
    verdict = check_exercise(name, calls_the_cell)
    assert not verdict and verdict.message.startswith("case 1 (") and "expected" in verdict.message


def test_hooks_left_registered_are_named():
    verdict = check_exercise("activation_stds", lambda model, x: activation_stds(model, x, remove=False))
    assert not verdict and "still has 1 hook(s) registered" in verdict.message


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
    listing = r"(?s)unknown exercise 'conv'.*adam_step.*conv_forward \(tutorial 04 exercise 3\)"
    with pytest.raises(ValueError, match=listing):
        check_exercise("conv", conv_loops)
    with pytest.raises(TypeError, match="conv_forward expects a function"):
        check_exercise("conv_forward", None)


# ---------------------------------------------------------------- the backward-pass exercise
def test_a_depth_first_backward_pass_is_caught_at_the_first_shared_node():
    """Its gradients are right, so only the order shows the mistake."""
    verdict = check_exercise("backward", depth_first_backward)
    assert "case 2 (a diamond" in verdict.message
    assert "the node of v1 = tanh(v0) ran before its consumer (v3 = sin(v1))" in verdict.message


def test_a_backward_pass_that_runs_a_node_twice_is_named():
    verdict = check_exercise("backward", lambda loss: backward_pass(loss) + [loss.grad_fn])
    assert "ran twice" in verdict.message


def test_a_backward_pass_that_misses_nodes_or_returns_no_order_is_told_so():
    assert "never ran" in check_exercise("backward", lambda loss: backward_pass(loss)[:-1]).message
    assert "return the list of nodes" in check_exercise("backward", lambda loss: None).message


def test_a_backward_pass_out_of_order_is_named():
    def reversed_order(loss):
        return backward_pass(loss)[::-1]

    assert "ran before its consumer" in check_exercise("backward", reversed_order).message


def test_a_backward_pass_that_leaves_no_gradient_is_told_so():
    def order_only(loss):
        leaves_untouched = backward_pass(loss)
        for node in leaves_untouched:
            for edge in node.edges:
                if edge is not None and edge[0] is None:
                    edge[1].grad = None
        return leaves_untouched

    assert "has no .grad" in check_exercise("backward", order_only).message


def test_softmax_cross_entropy_with_a_naive_exponential_fails_on_large_logits():
    def naive(logits, targets):
        e = np.exp(logits)
        grad = e / e.sum(axis=1, keepdims=True)
        grad[np.arange(len(targets)), targets] -= 1
        return grad / len(targets)

    with np.errstate(over="ignore", invalid="ignore"):
        verdict = check_exercise("softmax_cross_entropy_backward", naive)
    assert "case 3 (logits near +-1000" in verdict.message and "got nan" in verdict.message


# ---------------------------------------------------------------- progress
def test_progress_remembers_passes_across_sessions(tmp_path, monkeypatch, capsys):
    progress_file = tmp_path / "deep" / "progress.json"
    monkeypatch.setenv("MINIDL_PROGRESS", str(progress_file))
    assert not any(md.testing.progress().values())
    check_exercise("sum_to_shape", lambda grad, shape: grad)  # wrong: not recorded
    check_exercise("sum_to_shape", sum_to_shape)
    assert json.loads(progress_file.read_text())["passed"].keys() == {"sum_to_shape"}
    assert list(progress_file.parent.iterdir()) == [progress_file], "a temporary file was left behind"
    capsys.readouterr()
    status = md.testing.progress()
    printed = capsys.readouterr().out
    assert status["sum_to_shape"] and not status["conv_forward"] and set(status) == set(EXERCISES)
    assert printed.startswith(f"1 of {len(EXERCISES)} exercises passed (saved in {progress_file})")
    assert "sum_to_shape" in printed and "passed 20" in printed and "not yet" in printed


def test_an_unreadable_progress_file_is_reported_not_trusted(tmp_path, monkeypatch):
    progress_file = tmp_path / "progress.json"
    progress_file.write_text("{not json")
    monkeypatch.setenv("MINIDL_PROGRESS", str(progress_file))
    with pytest.warns(UserWarning, match="unreadable progress file"):
        assert not any(md.testing.progress().values())
