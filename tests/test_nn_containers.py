"""md.nn.ModuleDict, ParameterList and ParameterDict against torch.nn: the same keys in the same
order after the same operations, the same state_dict names (a torch state_dict loads), the same
outputs and gradients."""
import collections

import numpy as np
import pytest

import minidl as md
from minidl import nn


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def build(lib):
    """One model using every container, from torch or minidl (``lib``)."""
    nn_ = lib.nn

    class Model(nn_.Module):
        def __init__(self):
            super().__init__()
            self.heads = nn_.ModuleDict({"cls": nn_.Linear(4, 3), "aux": nn_.Sequential(nn_.Linear(4, 2), nn_.Tanh())})
            self.scales = nn_.ParameterList([nn_.Parameter(lib.ones(3)), lib.zeros(3)])  # a Tensor is wrapped
            self.bias = nn_.ParameterDict({"b": lib.zeros(2), "a": nn_.Parameter(lib.ones(3))})

        def forward(self, x):
            logits = self.heads["cls"](x) * self.scales[0] + self.scales[-1] + self.bias["a"]
            return logits.sum() + (self.heads["aux"](x) + self.bias["b"]).sum()

    return Model()


@pytest.mark.torch
def test_names_match_torch_and_a_torch_state_dict_loads(torch):
    torch.manual_seed(0)
    theirs, mine = build(torch), build(md)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in mine.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in mine.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in mine.parameters())
    with torch.no_grad():
        for p in theirs.parameters():
            p.uniform_(-1, 1)
    mine.load_state_dict(theirs.state_dict())
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    their_out = theirs(torch.tensor(x))
    my_out = mine(md.tensor(x))
    their_out.backward()
    my_out.backward()
    np.testing.assert_allclose(my_out.item(), their_out.item(), rtol=1e-5)
    their_grads = dict(theirs.named_parameters())
    for name, p in mine.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), their_grads[name].grad.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)


# ----------------------------------------------------------------------------- ModuleDict
def edit_module_dict(lib, d):
    """The same dict operations on a ModuleDict of torch or minidl; the keys after each one."""
    nn_ = lib.nn
    keys = [list(d)]
    d["relu"] = nn_.ReLU()
    d.update([("tanh", nn_.Tanh()), ("lin", nn_.Linear(1, 1))])
    keys.append(list(d.keys()))
    d.update(collections.OrderedDict([("z", nn_.Identity()), ("a", nn_.Identity())]))
    d.update({"y": nn_.Sigmoid(), "b": nn_.Identity()})  # a plain dict keeps its order too
    keys.append(list(d))
    popped = d.pop("tanh")
    del d["relu"]
    keys.append([len(d), "relu" in d, "lin" in d, type(popped).__name__])
    keys.append([name for name, _ in d.items()] + [type(m).__name__ for m in d.values()])
    d.update(type(d)({"q": nn_.ReLU()}))
    keys.append([n for n, _ in d.named_parameters()])
    d.clear()
    keys.append(list(d))
    return keys


@pytest.mark.torch
def test_module_dict_behaves_as_torchs(torch):
    mine = edit_module_dict(md, nn.ModuleDict({"conv": nn.Linear(2, 2)}))
    theirs = edit_module_dict(torch, torch.nn.ModuleDict({"conv": torch.nn.Linear(2, 2)}))
    assert mine == theirs


@pytest.mark.torch
def test_module_dict_repr_matches_torch(torch):
    def make(nn_):
        return nn_.ModuleDict([("b", nn_.Linear(1, 2)), ("a", nn_.ModuleDict({"act": nn_.ReLU()}))])

    assert repr(make(nn)) == repr(make(torch.nn))


def test_module_dict_errors():
    d = nn.ModuleDict()
    with pytest.raises(TypeError, match="ModuleDict.update: expected a mapping or an iterable of \\(key, value\\) pairs, got int"):
        d.update(3)
    with pytest.raises(ValueError, match="ModuleDict.update: element #1 should be a \\(key, value\\) pair, got length 3"):
        d.update([("a", nn.ReLU()), ("b", nn.ReLU(), 1)])
    with pytest.raises(TypeError, match="ModuleDict.update: element #0 should be a \\(key, value\\) pair, got int"):
        nn.ModuleDict([1])
    with pytest.raises(TypeError, match="cannot register int as child module 'x'"):
        d["x"] = 1
    with pytest.raises(KeyError, match="'nope'"):
        d["nope"]
    with pytest.raises(NotImplementedError, match="ModuleDict: subclasses of Module must define forward"):
        d(1)


# ----------------------------------------------------------------------------- ParameterList
def edit_parameter_list(lib, values):
    """The same list operations on a ParameterList of torch or minidl; what they show."""
    plist = lib.nn.ParameterList(values)
    plist.append(lib.ones(2))
    plist.extend([lib.nn.Parameter(lib.zeros(1)), lib.ones(3, 1)])
    plist += [lib.ones(4)]
    plist[1] = lib.full((2,), 7.0)
    shown = [len(plist), [tuple(p.shape) for p in plist], [type(p).__name__ for p in plist]]
    shown.append([tuple(plist[i].shape) for i in (-1, -2, 0)])
    shown.append([tuple(p.shape) for p in plist[1:5:2]] + [type(plist[::2]).__name__])
    shown.append([(n, tuple(p.shape)) for n, p in plist.named_parameters()])
    shown.append([p.requires_grad for p in plist] + [plist[1].detach().numpy().tolist()])
    return shown


@pytest.mark.torch
def test_parameter_list_behaves_as_torchs(torch):
    mine = edit_parameter_list(md, [md.randn(2, 3), nn.Parameter(md.zeros(5), requires_grad=False)])
    theirs = edit_parameter_list(torch, [torch.randn(2, 3), torch.nn.Parameter(torch.zeros(5), requires_grad=False)])
    assert mine == theirs


@pytest.mark.torch
def test_parameter_list_repr_layout_matches_torch(torch):
    mine = repr(nn.ParameterList([md.ones(2, 3), md.ones(3)]))
    theirs = repr(torch.nn.ParameterList([torch.ones(2, 3), torch.ones(3)]))
    assert mine == theirs.replace("torch.float32", "float32")
    one = repr(nn.ParameterList([md.ones(2)]))
    assert one == repr(torch.nn.ParameterList([torch.ones(2)])).replace("torch.float32", "float32")


def test_parameter_list_errors():
    plist = nn.ParameterList([md.ones(2)])
    with pytest.raises(IndexError, match="ParameterList: index 1 is out of range for 1 parameters"):
        plist[1]
    with pytest.raises(IndexError, match="ParameterList: index -2 is out of range for 1 parameters"):
        plist[-2] = md.ones(1)
    with pytest.raises(TypeError, match="ParameterList.extend: expected an iterable of parameters, got Tensor"):
        plist.extend(md.ones(3))
    with pytest.raises(TypeError, match="ParameterList.extend: expected an iterable of parameters, got int"):
        plist.extend(3)
    with pytest.raises(RuntimeError, match="ParameterList should not be called"):
        plist(1)


def test_parameter_list_is_trained_by_an_optimizer():
    plist = nn.ParameterList([md.tensor([1.0, 2.0])])
    optimizer = md.optim.SGD(plist.parameters(), lr=0.5)
    (plist[0] ** 2).sum().backward()
    optimizer.step()
    np.testing.assert_array_equal(plist[0].detach().numpy(), [0.0, 0.0])  # w - 0.5 * 2w


# ----------------------------------------------------------------------------- ParameterDict
def edit_parameter_dict(lib, pdict):
    """The same dict operations on a ParameterDict of torch or minidl; the keys after each one."""
    shown = [list(pdict)]
    pdict.update({"zeta": lib.ones(1), "alpha": lib.ones(2)})  # a plain dict: sorted, as torch
    shown.append(list(pdict.keys()))
    pdict.update(collections.OrderedDict([("yy", lib.ones(1)), ("bb", lib.ones(1))]))
    pdict.update([("x2", lib.ones(1)), ("x1", lib.ones(1))])
    shown.append(list(pdict))
    pdict["alpha"] = lib.zeros(5)  # replacing keeps the place
    shown.append([(k, tuple(v.shape), type(v).__name__) for k, v in pdict.items()])
    shown.append([pdict.pop("zeta").shape[0], pdict.popitem()[0], "zeta" in pdict, len(pdict)])
    shown.append([pdict.get("nope") is None, tuple(pdict.get("alpha").shape), tuple(pdict.setdefault("new", lib.ones(6)).shape)])
    shown.append(list(reversed(pdict)))
    copy = pdict.copy()
    del pdict["bb"]
    shown.append([list(copy), list(pdict), copy["yy"] is pdict["yy"]])
    shown.append([(n, tuple(p.shape)) for n, p in pdict.named_parameters()])
    pdict.clear()
    shown.append([list(pdict), list(pdict.parameters())])
    return shown


@pytest.mark.torch
def test_parameter_dict_behaves_as_torchs(torch):
    mine = edit_parameter_dict(md, nn.ParameterDict({"w": md.ones(3), "b": nn.Parameter(md.zeros(1))}))
    theirs = edit_parameter_dict(torch, torch.nn.ParameterDict({"w": torch.ones(3), "b": torch.nn.Parameter(torch.zeros(1))}))
    assert mine == theirs


@pytest.mark.torch
def test_parameter_dict_repr_layout_matches_torch(torch):
    mine = repr(nn.ParameterDict({"b": md.ones(2, 3), "a": md.ones(3)}))
    theirs = repr(torch.nn.ParameterDict({"b": torch.ones(2, 3), "a": torch.ones(3)}))
    assert mine == theirs.replace("torch.FloatTensor", "float32")


def test_parameter_dict_errors():
    pdict = nn.ParameterDict({"w": md.ones(2)})
    with pytest.raises(KeyError, match="ParameterDict: no key 'v'; the keys are \\['w'\\]"):
        pdict["v"]
    with pytest.raises(TypeError, match="ParameterDict: keys must be strings, got int 3"):
        pdict[3] = md.ones(1)
    with pytest.raises(KeyError, match="name must be a non-empty string without '.', got 'a.b'"):
        pdict["a.b"] = md.ones(1)
    assert list(pdict) == ["w"]  # a refused key is not half-added
    with pytest.raises(TypeError, match="ParameterDict.update: expected a mapping or an iterable of \\(key, value\\) pairs"):
        pdict.update(1.5)
    with pytest.raises(RuntimeError, match="ParameterDict should not be called"):
        pdict(1)


# ----------------------------------------------------------------------------- Sequential
@pytest.mark.torch
def test_sequential_item_assignment_replaces_a_layer_as_torchs(torch):
    """``model[-1] = Linear(...)``: a new head keeps the old child's name, as in torch."""
    models = {}
    for lib in (torch, md):
        model = lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.ReLU(), lib.nn.Linear(3, 1))
        model[-1] = lib.nn.Linear(3, 5)
        model[0] = lib.nn.Linear(2, 3, bias=False)
        models[lib.__name__] = [(name, tuple(p.shape)) for name, p in model.named_parameters()]
    assert models["minidl"] == models["torch"] == [("0.weight", (3, 2)), ("2.weight", (5, 3)), ("2.bias", (5,))]
    with pytest.raises(IndexError):
        md.nn.Sequential(md.nn.ReLU())[3] = md.nn.ReLU()
