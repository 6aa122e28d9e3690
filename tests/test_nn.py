"""minidl.nn: Module bookkeeping, containers, layers and losses; parity with torch.nn."""
import collections
import copy
import subprocess
import sys
import warnings

import numpy as np
import pytest

import minidl as md
from minidl import nn
from minidl.testing import assert_close, default_tolerance

DTYPES = ["float64", "float32"]


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


class Net(nn.Module):
    """fc1 -> relu -> fc2, plus a buffer: the smallest model with every kind of member."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.act = nn.ReLU()
        self.register_buffer("steps", md.tensor([0]))
        self.fc2 = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def build(nn_namespace, ones):
    """The same architecture from torch.nn or md.nn: a model, containers, a loss with buffers."""

    class Model(nn_namespace.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn_namespace.Embedding(10, 4, padding_idx=0)
            self.body = nn_namespace.Sequential(
                nn_namespace.Linear(4, 8),
                nn_namespace.PReLU(8),
                nn_namespace.ModuleList([nn_namespace.Linear(8, 8), nn_namespace.Linear(8, 8, bias=False)]),
                nn_namespace.Flatten(),
                nn_namespace.Identity(),
            )
            self.head = nn_namespace.Sequential(
                nn_namespace.GELU(approximate="tanh"), nn_namespace.Linear(8, 3), nn_namespace.LogSoftmax(dim=1)
            )
            self.loss = nn_namespace.BCEWithLogitsLoss(weight=ones(3), pos_weight=ones(3))

    return Model()


# ----------------------------------------------------------------------------- registration
def test_members_are_registered_in_assignment_order():
    net = Net()
    assert [name for name, _ in net.named_parameters()] == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert [name for name, _ in net.named_buffers()] == ["steps"]
    assert [name for name, _ in net.named_children()] == ["fc1", "act", "fc2"]
    assert [name for name, _ in net.named_modules()] == ["", "fc1", "act", "fc2"]
    assert list(net.state_dict()) == ["steps", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert [name for name, _ in net.named_parameters(prefix="net", recurse=False)] == []
    assert isinstance(net.fc1.weight, nn.Parameter) and net.fc1.weight.requires_grad


def test_reassigning_and_deleting_members():
    net = Net()
    net.fc1 = nn.Identity()  # a new module under the same name keeps its place
    assert [name for name, _ in net.named_children()] == ["fc1", "act", "fc2"]
    net.fc2.bias = None
    assert [name for name, _ in net.named_parameters()] == ["fc2.weight"]
    net.steps = md.tensor([5])
    assert net.state_dict()["steps"].item() == 5
    del net.act
    assert not hasattr(net, "act") and [name for name, _ in net.named_children()] == ["fc1", "fc2"]
    net.act = 3  # an ordinary attribute once the child is gone
    assert net.act == 3 and len(list(net.children())) == 2


def test_registration_errors_say_what_was_expected():
    net = Net()
    with pytest.raises(TypeError, match="Linear: cannot register Tensor as parameter 'weight' \\(a Parameter or None expected"):
        net.fc1.weight = md.ones(4, 3)
    with pytest.raises(TypeError, match="cannot register ndarray as buffer 'b'"):
        net.register_buffer("b", np.zeros(2))
    with pytest.raises(KeyError, match="without '.'"):
        net.register_parameter("a.b", nn.Parameter(md.ones(1)))
    with pytest.raises(TypeError, match="cannot register int as child module 'act' \\(a Module or None expected\\)"):
        net.act = 1
    with pytest.raises(KeyError, match="cannot register buffer 'forward': the class already has that attribute"):
        net.register_buffer("forward", md.ones(1))

    class Forgetful(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="call super\\(\\).__init__\\(\\) first"):
        Forgetful()
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'fc3'"):
        net.fc3
    with pytest.raises(NotImplementedError, match="Module: subclasses of Module must define forward"):
        nn.Module()(1)


def test_shared_parameters_and_modules_are_listed_once():
    layer = nn.Linear(2, 2)
    model = nn.Sequential(layer, nn.ReLU(), layer)
    assert len(list(model.parameters())) == 2
    assert [name for name, _ in model.named_modules()] == ["", "0", "1"]
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # as torch
    tied = Net()
    tied.fc2.weight = tied.fc1.weight
    assert [name for name, _ in tied.named_parameters()] == ["fc1.weight", "fc1.bias", "fc2.bias"]


def test_parameter_wraps_data_and_reprs_like_torch():
    t = md.tensor([1.0, 2.0])
    p = nn.Parameter(t)
    assert p.array is t.array and p.is_leaf and p.requires_grad
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    assert repr(p).startswith("Parameter containing:\ntensor([1., 2.]")
    assert type(p * 2) is md.Tensor


def test_apply_visits_children_first():
    visited = []
    Net().apply(lambda m: visited.append(type(m).__name__))
    assert visited == ["Linear", "ReLU", "Linear", "Net"]


# ----------------------------------------------------------------------------- modes, grads, dtypes
def test_train_and_eval_propagate_to_every_descendant():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(), nn.ModuleList([nn.ReLU()])))
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_dropout_is_identity_in_eval_and_scales_kept_elements_in_train():
    md.manual_seed(0)
    drop = nn.Dropout(p=0.3)
    x = md.ones(200, 100, requires_grad=True)
    out = drop(x)
    zeroed = float((out.numpy() == 0).mean())
    assert abs(zeroed - 0.3) < 0.02
    np.testing.assert_allclose(out.numpy()[out.numpy() != 0], 1 / 0.7, rtol=1e-6)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), out.numpy())  # same mask, same scale
    drop.eval()
    assert drop(x) is x
    with pytest.raises(ValueError, match="Dropout: probability has to be between 0 and 1, got 1.5"):
        nn.Dropout(1.5)


def test_zero_grad_sets_grads_to_none_or_zeros():
    net = Net()
    net(md.ones(5, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_to_float64_keeps_parameter_objects_and_casts_grads():
    net = Net()
    net(md.ones(5, 3)).sum().backward()
    before = list(net.parameters())
    values = [p.numpy().copy() for p in before]
    assert net.to(md.float64) is net
    assert all(a is b for a, b in zip(before, net.parameters()))
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in net.parameters())
    assert net.steps.dtype == np.int64  # integer buffers only move
    for p, v in zip(net.parameters(), values):
        np.testing.assert_array_equal(p.numpy(), v)
    assert net(md.ones(5, 3, dtype="float64")).dtype == np.float64
    net.to(device="cpu", dtype="float32")
    assert all(p.dtype == np.float32 for p in net.parameters())
    with pytest.raises(TypeError, match="Net.to: only floating dtypes are accepted, got int64"):
        net.to(md.int64)


def test_layers_follow_the_default_dtype_and_dtype_argument():
    with md.default_dtype("float64"):
        assert nn.Linear(2, 3).weight.dtype == np.float64
    assert nn.Linear(2, 3).bias.dtype == np.float32
    assert nn.Embedding(4, 2, dtype=md.float64).weight.dtype == np.float64
    assert nn.PReLU(dtype="float64").weight.dtype == np.float64


def test_deepcopy_gives_an_independent_model():
    net = Net()
    twin = copy.deepcopy(net)
    twin.fc1.weight.array[...] = 0
    assert net.fc1.weight.numpy().any()
    assert [n for n, _ in twin.named_parameters()] == [n for n, _ in net.named_parameters()]


def test_repr_nests_children_with_their_settings():
    model = nn.Sequential(nn.Linear(4, 8, bias=False), nn.Dropout(0.1), nn.ModuleList([nn.Softmax(dim=1)]))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=8, bias=False)\n"
        "  (1): Dropout(p=0.1, inplace=False)\n"
        "  (2): ModuleList(\n"
        "    (0): Softmax(dim=1)\n"
        "  )\n"
        ")"
    )


# ----------------------------------------------------------------------------- containers
def test_sequential_indexing_slicing_and_named_children():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    model = nn.Sequential(*layers)
    assert len(model) == 3 and list(model) == layers
    assert model[0] is layers[0] and model[-1] is layers[2]
    assert list(model[1:]) == layers[1:] and isinstance(model[1:], nn.Sequential)
    with pytest.raises(IndexError, match="Sequential: index 3 is out of range for 3 modules"):
        model[3]
    named = nn.Sequential(collections.OrderedDict([("fc", layers[0]), ("act", layers[1])]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"]
    assert named[0] is layers[0] and list(dict(named[1:].named_children())) == ["act"]
    x = md.randn(5, 2)
    assert_close(model(x).numpy(), layers[2](layers[1](layers[0](x))).numpy(), 0, 0, "sequential")


def test_module_list_registers_its_modules():
    blocks = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
    blocks.append(nn.Linear(2, 1)).extend([nn.ReLU()])
    assert len(blocks) == 4 and len(list(blocks.parameters())) == 6
    replacement = nn.Tanh()
    blocks[-1] = replacement
    assert blocks[3] is replacement and [n for n, _ in blocks.named_children()] == ["0", "1", "2", "3"]
    assert len(blocks[:2]) == 2 and isinstance(blocks[:2], nn.ModuleList)


# ----------------------------------------------------------------------------- state_dict
def test_state_dict_round_trip_reproduces_outputs():
    source, target = Net(), Net()
    x = md.randn(4, 3)
    state = source.state_dict()
    assert all(not t.requires_grad for t in state.values())
    assert np.shares_memory(state["fc1.weight"].array, source.fc1.weight.array)  # as torch: a view
    weight = target.fc1.weight
    assert target.load_state_dict(state) == ([], [])
    assert target.fc1.weight is weight  # values copied into the existing parameters
    np.testing.assert_array_equal(target(x).numpy(), source(x).numpy())


def test_load_state_dict_accepts_arrays_and_lists_and_casts_them():
    net = Net()
    state = {k: v.numpy().astype(np.float64).tolist() for k, v in Net().state_dict().items()}
    state["fc1.weight"] = np.full((4, 3), 0.5)
    net.load_state_dict(state)
    assert net.fc1.weight.dtype == np.float32
    np.testing.assert_array_equal(net.fc1.weight.numpy(), 0.5)
    np.testing.assert_array_equal(net.fc2.bias.numpy(), np.asarray(state["fc2.bias"], np.float32))


def test_load_state_dict_strict_errors_list_every_problem():
    net = Net()
    state = {k: v.numpy().copy() for k, v in Net().state_dict().items()}
    del state["fc2.bias"]
    state["fc3.weight"] = np.zeros((1, 1))
    state["fc1.weight"] = np.zeros((4, 5))
    before = net.fc2.weight.numpy().copy()
    with pytest.raises(nn.StateDictError) as error:
        net.load_state_dict(state)
    message = str(error.value)
    assert "load_state_dict: error(s) loading into Net" in message
    assert "size mismatch for fc1.weight: expected (4, 3), got (4, 5)" in message
    assert "missing keys: fc2.bias" in message and "unexpected keys: fc3.weight" in message
    np.testing.assert_array_equal(net.fc2.weight.numpy(), before)  # nothing was copied
    with pytest.raises(ValueError, match="size mismatch for fc1.weight"):
        net.load_state_dict(state, strict=False)  # shapes must agree even when not strict
    state["fc1.weight"] = np.ones((4, 3))
    result = net.load_state_dict(state, strict=False)
    assert result.missing_keys == ["fc2.bias"] and result.unexpected_keys == ["fc3.weight"]
    np.testing.assert_array_equal(net.fc1.weight.numpy(), 1)


# ----------------------------------------------------------------------------- bad input
def test_linear_with_wrong_feature_size_names_both_shapes():
    with pytest.raises(ValueError, match=r"linear: input \(\.\.\., 4\) .* got input \(2, 3\) and weight \(8, 4\)"):
        nn.Linear(4, 8)(md.ones(2, 3))


def test_embedding_rejects_float_indices_and_bad_padding():
    layer = nn.Embedding(5, 2)
    with pytest.raises(TypeError, match="embedding: indices must be integers, got dtype float32"):
        layer(md.tensor([1.0, 2.0]))
    with pytest.raises(IndexError, match="index 5 is out of range for 5 embeddings"):
        layer(md.tensor([5]))
    with pytest.raises(ValueError, match="Embedding: padding_idx must be within \\[-5, 4\\], got 5"):
        nn.Embedding(5, 2, padding_idx=5)
    assert nn.Embedding(5, 2, padding_idx=-1).padding_idx == 4


def test_losses_check_reduction_when_built():
    with pytest.raises(ValueError, match="CrossEntropyLoss: reduction must be one of .*, got 'avg'"):
        nn.CrossEntropyLoss(reduction="avg")
    assert nn.KLDivLoss(reduction="batchmean").reduction == "batchmean"
    with pytest.raises(TypeError):
        nn.MSELoss("sum")  # keyword-only: torch's first positional argument is size_average


def test_nn_functional_is_minidl_functional():
    assert nn.functional.relu is md.functional.relu
    assert nn.functional.cross_entropy is md.functional.cross_entropy


def test_importing_minidl_nn_loads_neither_torch_nor_scipy():
    code = "import sys, minidl as md; md.nn.Linear; print(sorted({'torch', 'scipy'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# ----------------------------------------------------------------------------- parity with torch.nn
def _check_against_torch(torch, md_module, torch_module, inputs, dtype):
    """Copy torch's state into md_module, run both on ``inputs`` (floating ones require grad),
    send the same upstream gradient back, and compare outputs, input and parameter gradients."""
    md_module.load_state_dict({k: v.numpy() for k, v in torch_module.state_dict().items()})
    md_inputs = [md.tensor(x, requires_grad=x.dtype.kind == "f") for x in inputs]
    torch_inputs = [torch.tensor(x, requires_grad=x.dtype.kind == "f") for x in inputs]
    md_out, torch_out = md_module(*md_inputs), torch_module(*torch_inputs)
    rtol, atol = default_tolerance(dtype)
    assert md_out.dtype == np.dtype(dtype)
    assert_close(md_out.numpy(), torch_out.detach().numpy(), rtol, atol, "output")
    upstream = np.random.default_rng(1).standard_normal(md_out.shape).astype(dtype)
    (md_out * md.tensor(upstream)).sum().backward()
    (torch_out * torch.tensor(upstream)).sum().backward()
    for k, (mine, theirs) in enumerate(zip(md_inputs, torch_inputs)):
        if theirs.requires_grad:
            assert_close(mine.grad.numpy(), theirs.grad.numpy(), rtol, atol, f"grad of input {k}")
    theirs = dict(torch_module.named_parameters())
    assert [name for name, _ in md_module.named_parameters()] == list(theirs)
    for name, param in md_module.named_parameters():
        assert param.dtype == np.dtype(dtype)
        assert_close(param.grad.numpy(), theirs[name].grad.numpy(), rtol, atol, f"grad of {name}")


def _torch_dtype(torch, dtype):
    return getattr(torch, dtype)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES)
def test_mlp_matches_torch(torch, dtype):
    def mlp(ns):
        return ns.Sequential(
            ns.Linear(5, 8), ns.ReLU(), ns.Linear(8, 8), ns.LeakyReLU(0.1), ns.Linear(8, 8), ns.PReLU(),
            ns.Linear(8, 8), ns.GELU(), ns.Linear(8, 8), ns.Tanh(), ns.Linear(8, 8), ns.Sigmoid(),
            ns.Linear(8, 8, bias=False), ns.GELU("tanh"), ns.Linear(8, 4), ns.Softmax(dim=1),
        )  # fmt: skip

    torch.manual_seed(0)
    torch_model = mlp(torch.nn).to(_torch_dtype(torch, dtype))
    with md.default_dtype(dtype):
        md_model = mlp(nn)
    x = np.random.default_rng(0).standard_normal((6, 5)).astype(dtype)
    _check_against_torch(torch, md_model, torch_model, [x], dtype)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_head_on_3d_input_matches_torch(torch, dtype):
    torch_model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LogSoftmax(dim=-1), torch.nn.Flatten())
    md_model = nn.Sequential(nn.Linear(4, 3, dtype=dtype), nn.LogSoftmax(dim=-1), nn.Flatten())
    x = np.random.default_rng(2).standard_normal((2, 5, 4)).astype(dtype)
    _check_against_torch(torch, md_model, torch_model.to(_torch_dtype(torch, dtype)), [x], dtype)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES)
def test_embedding_with_padding_matches_torch(torch, dtype):
    torch_layer = torch.nn.Embedding(10, 4, padding_idx=2).to(_torch_dtype(torch, dtype))
    md_layer = nn.Embedding(10, 4, padding_idx=2, dtype=dtype)
    index = np.array([[1, 2, 3, 1, 9], [2, 2, 0, 5, 1]])
    _check_against_torch(torch, md_layer, torch_layer, [index], dtype)
    assert not md_layer.weight.grad.numpy()[2].any()


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES)
def test_prelu_per_channel_matches_torch(torch, dtype):
    torch_layer = torch.nn.PReLU(3, init=0.1).to(_torch_dtype(torch, dtype))
    md_layer = nn.PReLU(num_parameters=3, init=0.1, dtype=dtype)
    np.testing.assert_array_equal(md_layer.weight.numpy(), np.full(3, 0.1, dtype))
    x = np.random.default_rng(3).standard_normal((4, 3, 5)).astype(dtype)
    _check_against_torch(torch, md_layer, torch_layer, [x], dtype)


def _probabilities(rng, shape, dtype):
    p = rng.random(shape)
    return (p / p.sum(axis=1, keepdims=True)).astype(dtype)


def _loss_cases():
    """(id, build(ns, ones), inputs(rng, dtype)): the same constructor call for torch.nn and md.nn."""
    logits = lambda rng, dt, shape=(4, 5): rng.standard_normal(shape).astype(dt)  # noqa: E731
    classes = np.array([0, 4, 1, 1])
    return [
        ("ce", lambda ns, ones: ns.CrossEntropyLoss(), lambda r, dt: [logits(r, dt), classes]),
        (
            "ce-weight-ignore",
            lambda ns, ones: ns.CrossEntropyLoss(ones(5), ignore_index=1),
            lambda r, dt: [logits(r, dt), classes],
        ),
        ("ce-probs-sum", lambda ns, ones: ns.CrossEntropyLoss(reduction="sum"),
         lambda r, dt: [logits(r, dt), _probabilities(r, (4, 5), dt)]),  # fmt: skip
        ("ce-spatial-none", lambda ns, ones: ns.CrossEntropyLoss(reduction="none"),
         lambda r, dt: [logits(r, dt, (4, 5, 3)), r.integers(0, 5, (4, 3))]),  # fmt: skip
        ("nll-weight", lambda ns, ones: ns.NLLLoss(ones(5)), lambda r, dt: [logits(r, dt), classes]),
        ("mse", lambda ns, ones: ns.MSELoss(), lambda r, dt: [logits(r, dt), logits(r, dt)]),
        ("mse-sum", lambda ns, ones: ns.MSELoss(reduction="sum"), lambda r, dt: [logits(r, dt), logits(r, dt)]),
        ("l1-none", lambda ns, ones: ns.L1Loss(reduction="none"), lambda r, dt: [logits(r, dt), logits(r, dt)]),
        ("bce-weight", lambda ns, ones: ns.BCELoss(ones(4, 5)),
         lambda r, dt: [r.uniform(0.05, 0.95, (4, 5)).astype(dt), r.random((4, 5)).astype(dt)]),  # fmt: skip
        ("bce-logits", lambda ns, ones: ns.BCEWithLogitsLoss(ones(5), pos_weight=ones(5)),
         lambda r, dt: [logits(r, dt), r.random((4, 5)).astype(dt)]),  # fmt: skip
        ("kl-batchmean", lambda ns, ones: ns.KLDivLoss(reduction="batchmean"),
         lambda r, dt: [np.log(_probabilities(r, (4, 5), dt)), _probabilities(r, (4, 5), dt)]),  # fmt: skip
        ("kl-log-target", lambda ns, ones: ns.KLDivLoss(reduction="sum", log_target=True),
         lambda r, dt: [logits(r, dt), np.log(_probabilities(r, (4, 5), dt))]),  # fmt: skip
    ]


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("build_loss, make_inputs", [case[1:] for case in _loss_cases()], ids=[c[0] for c in _loss_cases()])
def test_loss_modules_match_torch(torch, build_loss, make_inputs, dtype):
    rng = np.random.default_rng(4)
    torch_dtype = _torch_dtype(torch, dtype)

    def torch_weights(*shape):  # random class weights, copied into minidl through state_dict
        return torch.tensor(rng.uniform(0.5, 2.0, shape), dtype=torch_dtype)

    torch_loss = build_loss(torch.nn, torch_weights)
    md_loss = build_loss(nn, lambda *shape: md.ones(*shape, dtype=dtype))
    assert list(md_loss.state_dict()) == list(torch_loss.state_dict())
    _check_against_torch(torch, md_loss, torch_loss, make_inputs(rng, dtype), dtype)
    assert all(buffer.dtype == np.dtype(dtype) for buffer in md_loss.buffers())


@pytest.mark.torch
def test_names_and_repr_match_torch_for_the_same_architecture(torch):
    torch_model, md_model = build(torch.nn, torch.ones), build(nn, md.ones)
    assert list(md_model.state_dict()) == list(torch_model.state_dict())
    assert [n for n, _ in md_model.named_parameters()] == [n for n, _ in torch_model.named_parameters()]
    assert [n for n, _ in md_model.named_buffers()] == [n for n, _ in torch_model.named_buffers()]
    assert [n for n, _ in md_model.named_modules()] == [n for n, _ in torch_model.named_modules()]
    assert repr(md_model) == repr(torch_model)
    md_model.load_state_dict(torch_model.state_dict())  # torch tensors are accepted directly
    assert_close(md_model.body[0].weight.numpy(), torch_model.body[0].weight.detach().numpy(), 0, 0, "weight")


@pytest.mark.torch
def test_shared_modules_give_torch_names(torch):
    t_layer, m_layer = torch.nn.Linear(2, 2), nn.Linear(2, 2)
    t_model, m_model = torch.nn.Sequential(t_layer, t_layer), nn.Sequential(m_layer, m_layer)
    assert list(m_model.state_dict()) == list(t_model.state_dict())
    assert [n for n, _ in m_model.named_parameters()] == [n for n, _ in t_model.named_parameters()]
    assert [n for n, _ in m_model.named_modules()] == [n for n, _ in t_model.named_modules()]


# ----------------------------------------------------------------------------- walking the tree, as torch
def _tree(ns):
    """A model with a shared module and a shared parameter, from torch.nn or md.nn."""
    shared = ns.Linear(2, 2)
    model = ns.Sequential(ns.Linear(2, 2), ns.Sequential(shared, ns.ReLU()), shared, ns.Sequential(ns.Tanh()))
    model[0].weight = model[1][0].weight
    return model


@pytest.mark.torch
def test_named_modules_prefix_memo_and_duplicates_match_torch(torch):
    mine, theirs = _tree(nn), _tree(torch.nn)

    def names(model, **kwargs):
        return [(name, type(module).__name__) for name, module in model.named_modules(**kwargs)]

    for kwargs in [{}, {"prefix": "net"}, {"remove_duplicate": False}, {"prefix": "m", "remove_duplicate": False}]:
        assert names(mine, **kwargs) == names(theirs, **kwargs), kwargs
    assert names(mine, memo={mine[1]}) == names(theirs, memo={theirs[1]})  # a memoized subtree is skipped
    assert [type(m).__name__ for m in mine.modules()] == [type(m).__name__ for m in theirs.modules()]
    for kwargs in [{}, {"prefix": "p"}, {"remove_duplicate": False}, {"recurse": False}]:
        assert [n for n, _ in mine.named_parameters(**kwargs)] == [n for n, _ in theirs.named_parameters(**kwargs)]
    assert list(mine.state_dict()) == list(theirs.state_dict())


@pytest.mark.torch
def test_apply_visits_modules_in_torchs_order(torch):
    visited = {"mine": [], "theirs": []}
    _tree(nn).apply(lambda m: visited["mine"].append(type(m).__name__))
    _tree(torch.nn).apply(lambda m: visited["theirs"].append(type(m).__name__))
    assert visited["mine"] == visited["theirs"]


@pytest.mark.torch
def test_apply_initialises_weights_as_a_course_does(torch):
    def init_weights(ns, init):
        def fn(module):
            if isinstance(module, ns.Linear):
                init.constant_(module.weight, 0.5)
                init.zeros_(module.bias)

        return fn

    mine, theirs = _tree(nn), _tree(torch.nn)
    assert mine.apply(init_weights(nn, nn.init)) is mine
    theirs.apply(init_weights(torch.nn, torch.nn.init))
    for (name, p), (_, q) in zip(mine.state_dict().items(), theirs.state_dict().items()):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=name)


@pytest.mark.torch
def test_requires_grad_freezes_and_unfreezes_as_torch(torch):
    mine, theirs = _tree(nn), _tree(torch.nn)
    assert mine[3].requires_grad_(False) is mine[3]
    for model in (mine[1], theirs[1]):
        model.requires_grad_(False)
    assert [p.requires_grad for p in mine.parameters()] == [p.requires_grad for p in theirs.parameters()]
    mine[1][0].requires_grad_()
    theirs[1][0].requires_grad_()
    assert [p.requires_grad for p in mine.parameters()] == [p.requires_grad for p in theirs.parameters()]
    assert all(p.requires_grad for p in mine.parameters())


def test_frozen_parameters_get_no_gradient():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    model[0].requires_grad_(False)
    model(md.ones(3, 2)).sum().backward()
    assert model[0].weight.grad is None and model[1].weight.grad is not None


# ----------------------------------------------------------------------------- Unflatten
@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape, dim, sizes",
    [((3, 12), 1, (3, 4)), ((3, 12), 1, (2, -1, 3)), ((3, 12), -1, [6, 2]), ((12, 2), 0, (-1, 1, 4)), ((2, 6, 1), 1, (6,))],
)
def test_unflatten_matches_torch(torch, dtype, shape, dim, sizes):
    md_layer, torch_layer = nn.Unflatten(dim, sizes), torch.nn.Unflatten(dim, sizes)
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    _check_against_torch(torch, md_layer, torch_layer, [x], dtype)
    assert repr(md_layer) == repr(torch_layer)


@pytest.mark.torch
def test_unflatten_errors_where_torch_does(torch):
    for layer in (nn.Unflatten(1, (4, -1)), nn.Unflatten(1, (2, 2))):
        with pytest.raises(RuntimeError):
            torch.nn.Unflatten(layer.dim, layer.unflattened_size)(torch.ones(3, 6))
        with pytest.raises(ValueError, match=r"Unflatten: sizes \[.*\] don't multiply up to the size of dim 1 \(6\) of the input of shape \(3, 6\)"):
            layer(md.ones(3, 6))
    with pytest.raises(TypeError):
        torch.nn.Unflatten(1, 5)
    with pytest.raises(TypeError, match="Unflatten: unflattened_size must be a tuple of ints, got int 5"):
        nn.Unflatten(1, 5)
    with pytest.raises(IndexError):
        torch.nn.Unflatten(2, (3, 2))(torch.ones(3, 6))
    with pytest.raises(IndexError):
        nn.Unflatten(2, (3, 2))(md.ones(3, 6))


# ----------------------------------------------------------------------------- Dropout2d, in-place dropout
def _kept_value_and_constant_per_channel(out, p):
    """(the set of output values, whether each (n, c) slice is constant) for an input of ones."""
    flat = out.reshape(out.shape[0] * out.shape[1], -1)
    return sorted(set(np.round(flat.ravel(), 5).tolist())), bool((flat == flat[:, :1]).all())


@pytest.mark.torch
@pytest.mark.parametrize("shape", [(40, 30, 3, 4), (40, 30, 5), (40, 30), (4, 5, 2, 3, 2)])
def test_dropout2d_drops_what_torch_drops_and_warns_where_it_warns(torch, shape):
    p = 0.4
    md.manual_seed(0)
    torch.manual_seed(0)
    results = []
    for f, ones in [(md.functional.dropout2d, md.ones), (torch.nn.functional.dropout2d, torch.ones)]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = f(ones(*shape), p).numpy()
        results.append((_kept_value_and_constant_per_channel(out, p), len(caught)))
        assert abs((out == 0).mean() - p) < 0.08
    assert results[0] == results[1]
    with pytest.warns(UserWarning, match="1-D"), pytest.raises(RuntimeError):
        torch.nn.functional.dropout2d(torch.ones(5))
    with pytest.raises(ValueError, match=r"dropout2d: expected an input with at least 2 dims \(N, C, ...\), got shape \(5,\)"):
        md.functional.dropout2d(md.ones(5))


def test_dropout_on_the_cpu_draws_its_mask_from_minidls_generator():
    """The CPU mask is minidl's generator's ``random(mask_shape) >= p``: a seed gives the same
    masks as before the device got its own generator (CUDA tensors draw there instead)."""
    md.manual_seed(3)
    out = md.functional.dropout(md.ones(4, 5, dtype="float64"), 0.25)
    channels = md.functional.dropout2d(md.ones(2, 3, 2, 2, dtype="float64"), 0.5)
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(out.numpy(), (rng.random((4, 5)) >= 0.25) / 0.75)
    kept_channels = (rng.random((2, 3, 1, 1)) >= 0.5) * 2.0
    np.testing.assert_array_equal(channels.numpy(), np.broadcast_to(kept_channels, (2, 3, 2, 2)))


def test_value_checks_run_on_the_cpu_whatever_check_device_values_says():
    """``md.config.check_device_values`` only decides for CUDA tensors: reading CPU values is free."""
    with md.config.override(check_device_values=False):
        with pytest.raises(IndexError, match="cross_entropy: target 3 is out of bounds for 3 classes"):
            md.functional.cross_entropy(md.zeros(2, 3), md.tensor([0, 3]))
        with pytest.raises(IndexError, match="embedding: index 4 is out of range for 4 embeddings"):
            md.functional.embedding(md.tensor([4]), md.zeros(4, 2))
    with pytest.raises(TypeError, match="config.check_device_values must be True or False, got 'yes'"):
        md.config.check_device_values = "yes"


def test_dropout2d_gradient_is_the_channel_mask():
    md.manual_seed(1)
    x = md.tensor(np.random.default_rng(0).standard_normal((6, 8, 2, 2)), requires_grad=True)
    out = nn.Dropout2d(p=0.25)(x)
    out.sum().backward()
    mask = x.grad.numpy()
    assert set(np.unique(mask).tolist()) == {0.0, 1 / 0.75}
    assert (mask == mask[:, :, :1, :1]).all()
    np.testing.assert_allclose(out.numpy(), x.numpy() * mask)


@pytest.mark.torch
@pytest.mark.parametrize("layer", ["Dropout", "Dropout2d"])
def test_dropout_layers_identity_inplace_and_repr_as_torch(torch, layer):
    for ns, ones in [(nn, md.ones), (torch.nn, torch.ones)]:
        x = ones(2, 3, 4, 4)
        drop = getattr(ns, layer)(p=0.5, inplace=True)
        out = drop(x)
        assert out is x and (x.numpy() == 0).any()  # written into the input
        assert getattr(ns, layer)(p=0.5)(x) is not x
        assert drop.eval()(x) is x and getattr(ns, layer)(p=0.0)(x) is x
    assert repr(getattr(nn, layer)(0.2, inplace=True)) == repr(getattr(torch.nn, layer)(0.2, inplace=True))
    with pytest.raises(ValueError):
        getattr(torch.nn, layer)(1.5)
    with pytest.raises(ValueError, match=f"{layer}: probability has to be between 0 and 1, got 1.5"):
        getattr(nn, layer)(1.5)


@pytest.mark.torch
def test_inplace_dropout_on_a_leaf_that_requires_grad_raises_as_torch(torch):
    with pytest.raises(RuntimeError, match="leaf"):
        torch.nn.functional.dropout(torch.ones(3, requires_grad=True), inplace=True)
    with pytest.raises(RuntimeError, match="dropout_: a leaf tensor that requires grad"):
        md.functional.dropout(md.ones(3, requires_grad=True), inplace=True)


def test_inplace_dropout_on_a_non_leaf_keeps_gradients_right():
    md.manual_seed(2)
    w = md.tensor([[1.0, 2.0, 3.0, 4.0]] * 50, requires_grad=True)
    h = w * 2
    out = md.functional.dropout(h, p=0.5, inplace=True)
    assert out is h
    (out * out).sum().backward()
    mask = (h.numpy() != 0) * 2.0  # 1 / (1 - p) where kept
    np.testing.assert_allclose(w.grad.numpy(), 2 * (w.numpy() * 2 * mask) * mask * 2)
