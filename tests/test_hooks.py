"""Hooks against torch: Module forward (pre-)hooks and full backward (pre-)hooks, Tensor.register_hook
on leaves and intermediate tensors; the same events, in the same order, with the same tensors as
torch; replacements; handles; errors."""
import warnings

import numpy as np
import pytest

import minidl as md
from minidl.testing import assert_close

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

TOL = (1e-12, 1e-12)


def mlp(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


def cnn(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 2))


NETS = {"mlp": (mlp, (5, 3)), "cnn": (cnn, (2, 2, 4, 4))}


def twins(build):
    """The same float64 network from torch.nn and md.nn, with the same random weights."""
    theirs = build(torch).double()
    rng = np.random.default_rng(0)
    state = {k: rng.standard_normal(v.shape) for k, v in theirs.state_dict().items()}
    theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    ours = build(md).double()
    ours.load_state_dict(state)
    return ours, theirs


def as_numpy(value):
    """A hook's argument as comparable data: Tensors as arrays, tuples as lists, None as None."""
    if isinstance(value, (tuple, list)):
        return [as_numpy(v) for v in value]
    return None if value is None else value.detach().numpy().copy()


def assert_same_events(ours, theirs):
    assert [e[:2] for e in ours] == [e[:2] for e in theirs]
    for mine, expected in zip(ours, theirs):
        for i, (a, b) in enumerate(zip(mine[2:], expected[2:])):
            a, b = (a, b) if isinstance(b, list) else ([a], [b])
            assert [x is None for x in a] == [y is None for y in b], f"{mine[:2]} argument {i}"
            for x, y in zip(a, b):
                if y is not None:
                    assert_close(x, y, *TOL, f"{mine[:2]} argument {i}")


def record_everything(model, events):
    """Every kind of hook on every module, a tensor hook on each module's output (registered by a
    forward hook) and on each weight; each appends (event, name, its tensors) to ``events``."""
    handles = []
    for name, module in model.named_modules():
        log = lambda kind, *tensors, name=name: events.append((kind, name, *map(as_numpy, tensors)))  # noqa: E731
        handles += [
            module.register_forward_pre_hook(lambda m, args, log=log: log("forward_pre", args)),
            module.register_forward_hook(lambda m, args, out, log=log: log("forward", args, out)),
            module.register_forward_hook(
                lambda m, args, out, log=log: out.register_hook(lambda g: log("output_grad", g)) and None
            ),
            module.register_full_backward_pre_hook(lambda m, g_out, log=log: log("backward_pre", g_out)),
            module.register_full_backward_hook(lambda m, g_in, g_out, log=log: log("backward", g_in, g_out)),
        ]
        weight = getattr(module, "weight", None)
        if weight is not None:
            handles.append(weight.register_hook(lambda g, log=log: log("weight_grad", g)))
    return handles


def forward_backward(model, lib, x, upstream):
    out = model(x)
    (out * lib.tensor(upstream)).sum().backward()
    return out


@pytest.mark.parametrize("input_requires_grad", [True, False])
@pytest.mark.parametrize("net", list(NETS))
def test_every_hook_fires_in_torchs_order_with_torchs_tensors(net, input_requires_grad):
    build, shape = NETS[net]
    rng = np.random.default_rng(1)
    x, upstream = rng.standard_normal(shape), rng.standard_normal((shape[0], 2))
    logs = []
    for model, lib in zip(twins(build), (md, torch)):
        events = []
        record_everything(model, events)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            forward_backward(model, lib, lib.tensor(x, requires_grad=input_requires_grad), upstream)
        events.append(("warned", len(caught)))
        logs.append(events)
    assert_same_events(*logs)
    kinds = [event[0] for event in logs[0]]
    assert kinds.count("backward") == len(list(model.modules())) and kinds.count("weight_grad") == 2


@pytest.mark.parametrize("net", list(NETS))
def test_removed_hooks_stay_silent_as_in_torch(net):
    build, shape = NETS[net]
    x = np.random.default_rng(2).standard_normal(shape)
    logs = []
    for model, lib in zip(twins(build), (md, torch)):
        events = []
        handles = record_everything(model, events)
        for handle in handles[::2]:
            handle.remove()
        handles[0].remove()  # removing twice is harmless
        forward_backward(model, lib, lib.tensor(x, requires_grad=True), np.ones((shape[0], 2)))
        logs.append(events)
    assert_same_events(*logs)
    assert len(logs[0]) > 0


def test_a_handle_removes_its_hook_on_leaving_a_with_block():
    layer, calls = md.nn.Linear(2, 2), []
    with layer.register_forward_hook(lambda *args: calls.append("hook")):
        layer(md.ones(1, 2))
    layer(md.ones(1, 2))
    assert calls == ["hook"]


def test_replacements_change_what_flows_as_in_torch():
    """A pre-hook that doubles the input, a forward hook that adds 1 to the output, a backward
    pre-hook that scales grad_output, a backward hook that replaces grad_input, tensor hooks that
    replace a leaf's and an intermediate tensor's gradient: same outputs and gradients."""
    x = np.random.default_rng(3).standard_normal((5, 3))
    results = []
    for model, lib in zip(twins(mlp), (md, torch)):
        model[0].register_forward_pre_hook(lambda m, args: (args[0] * 2,))
        model[0].register_forward_hook(lambda m, args, out: out + 1)
        model[2].register_full_backward_pre_hook(lambda m, g_out: (g_out[0] * 3,))
        model[1].register_full_backward_hook(lambda m, g_in, g_out: (g_in[0] * -0.5,))
        model[2].weight.register_hook(lambda g: g * 10)
        model[0].register_forward_hook(lambda m, args, out: out.register_hook(lambda g: g + 1) and None)
        xt = lib.tensor(x, requires_grad=True)
        out = forward_backward(model, lib, xt, np.ones((5, 2)))
        results.append([out, xt.grad] + [p.grad for p in model.parameters()])
    for i, (mine, expected) in enumerate(zip(*results)):
        assert_close(as_numpy(mine), as_numpy(expected), *TOL, f"tensor {i}")


def test_forward_pre_hook_may_return_a_single_value_or_args_and_kwargs():
    def pre(m, args):
        return args[0] + 1  # not a tuple: becomes the only argument

    def pre_kwargs(m, args, kwargs):
        return args, {**kwargs, "dim": 0}

    def hook_kwargs(m, args, kwargs, out):
        return out * kwargs["dim"]

    outs = []
    for lib in (md, torch):
        softmax = lib.nn.Softmax(dim=1)
        softmax.register_forward_pre_hook(pre)
        softmax.register_forward_pre_hook(pre_kwargs, with_kwargs=True)
        softmax.register_forward_hook(hook_kwargs, with_kwargs=True)
        softmax.register_forward_hook(lambda m, args, out: out + 1, prepend=True)
        softmax.forward = lambda x, dim=1, softmax=softmax: type(softmax).forward(softmax, x) * (dim + 2)
        outs.append(softmax(lib.tensor([[1.0, 2.0], [0.5, 0.0]], dtype=lib.float64)))
    assert_close(as_numpy(outs[0]), as_numpy(outs[1]), *TOL, "output")


def test_hooks_run_in_registration_order_and_prepend_goes_first():
    for lib in (md, torch):
        layer, order = lib.nn.Linear(2, 2), []
        for name in ("a", "b"):
            layer.register_forward_hook(lambda *args, name=name: order.append(name))
        layer.register_forward_hook(lambda *args: order.append("first"), prepend=True)
        layer.register_forward_pre_hook(lambda *args: order.append("pre b"))
        layer.register_forward_pre_hook(lambda *args: order.append("pre a"), prepend=True)
        x = lib.ones(1, 2, requires_grad=True)
        y = x * 1
        for name in ("a", "b"):
            y.register_hook(lambda g, name=name: order.append(f"grad {name}"))
        layer(y).sum().backward()
        assert order == ["pre a", "pre b", "first", "a", "b", "grad a", "grad b"], lib.__name__


def test_always_call_hooks_run_when_forward_raises_as_in_torch():
    for lib in (md, torch):
        layer, calls = lib.nn.Linear(2, 2), []
        layer.register_forward_hook(lambda m, args, out: calls.append(("plain", out)))
        layer.register_forward_hook(lambda m, args, out: calls.append(("always", out)), always_call=True)
        with pytest.raises(Exception):
            layer(lib.ones(1, 3))
        assert calls == [("always", None)], lib.__name__


def test_a_module_called_twice_reports_each_call_as_torch_does():
    x = np.random.default_rng(4).standard_normal((2, 4))
    logs = []
    for lib in (md, torch):
        shared = lib.nn.Linear(4, 4).double()
        with lib.no_grad():
            shared.weight.copy_(lib.tensor(np.arange(16.0).reshape(4, 4) / 10))
            shared.bias.zero_()
        events = []
        shared.register_full_backward_hook(
            lambda m, g_in, g_out: events.append(("backward", "", as_numpy(g_in), as_numpy(g_out)))
        )
        xt = lib.tensor(x, requires_grad=True)
        (shared(lib.tanh(shared(xt))) ** 2).sum().backward()
        logs.append(events)
    assert_same_events(*logs)


def test_leaf_hook_sees_the_summed_gradient_once_and_retain_grad_sees_the_hooked_one():
    logs = []
    for lib in (md, torch):
        calls = []
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        x.register_hook(lambda g: calls.append(("x", g.tolist())))
        y = x * 2
        y.retain_grad()
        y.register_hook(lambda g: g * 10)
        z = (y * x).sum() + (x * x).sum()
        z.register_hook(lambda g: calls.append(("z", g.tolist())))
        z.backward()
        logs.append((calls, x.grad.tolist(), y.grad.tolist()))
    assert logs[0] == logs[1]


def test_a_hook_on_the_tensor_backward_starts_from():
    for lib in (md, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        x.register_hook(lambda g: g * 3)
        x.backward(lib.tensor([1.0, 1.0]))
        assert x.grad.tolist() == [3.0, 3.0], lib.__name__


def test_no_backward_hooks_without_grad_mode():
    layer, calls = md.nn.Linear(2, 2), []
    layer.register_full_backward_hook(lambda *args: calls.append("backward"))
    with md.no_grad():
        out = layer(md.ones(1, 2, requires_grad=True))
    assert out.grad_fn is None and calls == []


# ----------------------------------------------------------------------------- errors
def test_a_tensor_hook_returning_a_gradient_of_the_wrong_shape_names_the_shapes():
    x = md.ones(2, 3, requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g.sum(0))
    expected = r"register_hook: the hook '<lambda>' returned a gradient of shape \(3,\).*expected the tensor's shape \(2, 3"
    with pytest.raises(RuntimeError, match=expected):
        y.sum().backward()


def test_a_tensor_hook_returning_another_dtype_or_a_non_tensor_is_refused():
    x = md.ones(2, requires_grad=True)
    handle = x.register_hook(lambda g: g.double())
    with pytest.raises(RuntimeError, match="dtype float64; expected the tensor's shape \\(2,\\) and dtype float32"):
        (x * 1).sum().backward()
    handle.remove()
    x.register_hook(lambda g: g.numpy())
    with pytest.raises(TypeError, match="must return a Tensor or None, got ndarray"):
        (x * 1).sum().backward()


def test_register_hook_on_a_tensor_that_needs_no_gradient_raises():
    with pytest.raises(RuntimeError, match=r"shape \(2,\) that doesn't require gradient"):
        md.ones(2).register_hook(print)


def test_a_backward_hook_returning_a_wrong_grad_input_names_the_layer_and_shapes():
    layer = md.nn.Linear(3, 2)
    handle = layer.register_full_backward_hook(lambda m, g_in, g_out: (g_in[0].sum(0),))
    expected = r"Linear: backward hook returned grad_input\[0\] of shape \(3,\), expected shape \(4, 3\)"
    with pytest.raises(RuntimeError, match=expected):
        layer(md.ones(4, 3, requires_grad=True)).sum().backward()
    handle.remove()
    layer.register_full_backward_hook(lambda m, g_in, g_out: (g_in[0], g_in[0]))
    expected = "Linear: backward hook returned an invalid number of grad_input, got 2, but expected 1"
    with pytest.raises(RuntimeError, match=expected):
        layer(md.ones(4, 3, requires_grad=True)).sum().backward()


def test_a_backward_pre_hook_returning_a_wrong_grad_output_names_the_layer_and_shapes():
    layer = md.nn.Linear(3, 2)
    layer.register_full_backward_pre_hook(lambda m, g_out: (g_out[0].T,))
    expected = r"Linear: backward pre-hook returned grad_output\[0\] of shape \(2, 4\), expected shape \(4, 2\)"
    with pytest.raises(RuntimeError, match=expected):
        layer(md.ones(4, 3)).sum().backward()


def test_backward_hook_of_a_module_without_grad_inputs_may_not_return_gradients():
    layer = md.nn.Linear(3, 2)
    layer.register_full_backward_hook(lambda m, g_in, g_out: (md.ones(4, 3),))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="Linear: a backward hook of a module where no input requires gradient"):
            layer(md.ones(4, 3)).sum().backward()


def test_a_kwargs_pre_hook_must_return_args_and_kwargs():
    layer = md.nn.Linear(3, 2)
    layer.register_forward_pre_hook(lambda m, args, kwargs: args, with_kwargs=True)
    expected = r"Linear: a forward pre-hook registered with with_kwargs=True must return None or a tuple \(new_args, "
    with pytest.raises(RuntimeError, match=expected):
        layer(md.ones(4, 3))
