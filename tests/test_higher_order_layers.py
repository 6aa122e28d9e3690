"""Second derivatives (create_graph=True) of the layers built on fused ops against torch.nn, in
float64: recurrent cells and layers, multi-head attention, batch/layer/group norm.  Each check is
``check_hvp_against_torch`` with the input and every parameter differentiated: minidl's layer
holds torch's weights, and both run with their parameters replaced by the checked tensors."""
import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl as md
from minidl import nn
from minidl.testing import check_hvp_against_torch, gradgradcheck

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

FEW = settings(max_examples=10, deadline=None)
# The recurrent layers' fused ops keep no inputs for a second derivative: they run unfused here
def unfused():
    return md.config.override(recurrent_algorithm="unfused")


def twins(name, *args, **kwargs):
    """The same layer from torch.nn and md.nn in float64: torch's, with random weights, and ours
    loaded from its state_dict."""
    theirs = getattr(torch.nn, name)(*args, **kwargs).double()
    rng = np.random.default_rng(0)
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.tensor(rng.uniform(-0.8, 0.8, p.shape)))
    ours = getattr(nn, name)(*args, **kwargs).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


@contextlib.contextmanager
def parameters_replaced(module, tensors):
    """minidl's ``module`` with its parameters (dotted names) replaced by ``tensors`` inside the block."""
    owners = dict(module.named_modules())
    originals = []
    for name, tensor in tensors.items():
        owner, _, attr = name.rpartition(".")
        store = owners[owner]._parameters
        originals.append((store, attr, store[attr]))
        store[attr] = tensor
    try:
        yield module
    finally:
        for store, attr, original in originals:
            store[attr] = original


def flat(outputs):
    """A layer's outputs as one flat tuple of tensors (LSTM: output, (h, c) -> output, h, c)."""
    if isinstance(outputs, (tuple, list)):
        return tuple(t for o in outputs for t in flat(o))
    return () if outputs is None else (outputs,)


def check_layer(ours, theirs, arrays, arguments=lambda *xs: xs):
    """H v of sum_k <out_k, r_k> with respect to the inputs ``arrays`` and every parameter, minidl
    against torch; each layer is called with ``arguments(*inputs)``."""
    names = [name for name, _ in theirs.named_parameters()]
    values = [p.detach().numpy().copy() for _, p in theirs.named_parameters()]
    count = len(arrays)

    def ours_fn(*tensors):
        with parameters_replaced(ours, dict(zip(names, tensors[count:]))) as layer:
            return flat(layer(*arguments(*tensors[:count])))

    def theirs_fn(*tensors):
        replaced = dict(zip(names, tensors[count:]))
        return flat(torch.func.functional_call(theirs, replaced, arguments(*tensors[:count])))

    check_hvp_against_torch(ours_fn, theirs_fn, list(arrays) + values)


def normal(rng, *shape):
    return rng.standard_normal(shape)


# ----------------------------------------------------------------------------- recurrent
def with_hx(x, *states):
    """A recurrent layer's arguments: (x, hx) with hx = (h, c) for LSTM, h otherwise, or x alone."""
    return (x,) if not states else (x, tuple(states) if len(states) == 2 else states[0])


CELLS = {"rnn_tanh": ("RNNCell", {}), "rnn_relu": ("RNNCell", {"nonlinearity": "relu"}),
         "lstm": ("LSTMCell", {}), "gru": ("GRUCell", {})}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(CELLS))
@FEW
@given(batch=st.integers(1, 3), features=st.integers(1, 3), hidden=st.integers(1, 3), bias=st.booleans(),
       with_state=st.booleans(), seed=st.integers(0, 2**16))  # fmt: skip
def test_cells(kind, batch, features, hidden, bias, with_state, seed):
    name, options = CELLS[kind]
    ours, theirs = twins(name, features, hidden, bias=bias, **options)
    rng = np.random.default_rng(seed)
    states = [normal(rng, batch, hidden) for _ in range(2 if kind == "lstm" else 1)] if with_state else []
    with unfused():
        check_layer(ours, theirs, [normal(rng, batch, features), *states], with_hx)


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
@FEW
@given(seq=st.integers(1, 3), batch=st.integers(1, 2), features=st.integers(1, 3), hidden=st.integers(1, 3),
       layers=st.integers(1, 2), bidirectional=st.booleans(), batch_first=st.booleans(), with_state=st.booleans(),
       seed=st.integers(0, 2**16))  # fmt: skip
def test_recurrent_layers(name, seq, batch, features, hidden, layers, bidirectional, batch_first, with_state, seed):
    ours, theirs = twins(name, features, hidden, num_layers=layers, bidirectional=bidirectional,
                         batch_first=batch_first)  # fmt: skip
    rng = np.random.default_rng(seed)
    x = normal(rng, *((batch, seq) if batch_first else (seq, batch)), features)
    state_shape = (layers * (2 if bidirectional else 1), batch, hidden)
    states = [normal(rng, *state_shape) for _ in range(2 if name == "LSTM" else 1)] if with_state else []
    with unfused():
        check_layer(ours, theirs, [x, *states], with_hx)


@pytest.mark.parametrize("name, fused_op", [("LSTM", "LSTMSequence"), ("LSTMCell", "LSTMStep"), ("GRU", "GRUSequence"),
                                           ("GRUCell", "GRUStep")])
def test_the_fused_recurrent_ops_refuse_a_second_derivative_naming_the_switch(name, fused_op):
    layer = getattr(nn, name)(2, 3).double()
    x = md.tensor(np.ones((4, 2) if name.endswith("Cell") else (3, 4, 2)), requires_grad=True)
    out = layer(x)
    total = flat(out)[0].sum()
    with pytest.raises(NotImplementedError, match=f"no second derivative through {fused_op}: it is a fused kernel.*"
                                                  "recurrent_algorithm = 'unfused'"):
        md.autograd.grad(total, x, create_graph=True)
    (first,) = md.autograd.grad(total, x)  # the ordinary gradient still works
    assert first.shape == x.shape


def test_lstm_cell_gradgradcheck():
    """Second derivatives of the unfused LSTM step against central differences of its gradient."""
    cell = nn.LSTMCell(2, 2).double()
    rng = np.random.default_rng(2)
    names = [n for n, _ in cell.named_parameters()]
    params = [md.tensor(p.numpy().copy(), requires_grad=True) for _, p in cell.named_parameters()]
    x, h, c = (md.tensor(normal(rng, 2, 2), requires_grad=True) for _ in range(3))

    def step(x, h, c, *params):
        with parameters_replaced(cell, dict(zip(names, params))) as layer:
            return layer(x, (h, c))

    with unfused():
        assert gradgradcheck(step, [x, h, c, *params])


# ----------------------------------------------------------------------------- attention
@FEW
@given(heads=st.integers(1, 2), head_size=st.integers(1, 2), length=st.integers(1, 3), source=st.integers(1, 3),
       batch=st.integers(1, 2), self_attention=st.booleans(), bias=st.booleans(), batch_first=st.booleans(),
       seed=st.integers(0, 2**16))  # fmt: skip
def test_multihead_attention(heads, head_size, length, source, batch, self_attention, bias, batch_first, seed):
    embed = heads * head_size
    ours, theirs = twins("MultiheadAttention", embed, heads, bias=bias, batch_first=batch_first)
    rng = np.random.default_rng(seed)

    def shape(n):
        return (batch, n, embed) if batch_first else (n, batch, embed)

    if self_attention:
        check_layer(ours, theirs, [normal(rng, *shape(length))], lambda x: (x, x, x))
    else:
        inputs = [normal(rng, *shape(length)), normal(rng, *shape(source)), normal(rng, *shape(source))]
        check_layer(ours, theirs, inputs)


# ----------------------------------------------------------------------------- normalization
@FEW
@given(batch=st.integers(1, 3), channels=st.integers(1, 3), height=st.integers(1, 3), width=st.integers(2, 3),
       affine=st.booleans(), seed=st.integers(0, 2**16))  # fmt: skip
def test_batch_norm_2d_training(batch, channels, height, width, affine, seed):
    ours, theirs = twins("BatchNorm2d", channels, affine=affine)
    rng = np.random.default_rng(seed)
    check_layer(ours, theirs, [normal(rng, batch, channels, height, width + 1)])


@FEW
@given(shape=st.lists(st.integers(1, 3), min_size=1, max_size=3), normalized_dims=st.integers(1, 3),
       affine=st.booleans(), seed=st.integers(0, 2**16))  # fmt: skip
def test_layer_norm(shape, normalized_dims, affine, seed):
    shape = tuple(shape[:-1]) + (shape[-1] + 2,)  # at least 3 values per mean
    normalized_shape = shape[len(shape) - min(normalized_dims, len(shape)):]
    ours, theirs = twins("LayerNorm", normalized_shape, elementwise_affine=affine)
    check_layer(ours, theirs, [normal(np.random.default_rng(seed), *shape)])


@FEW
@given(batch=st.integers(1, 3), groups=st.integers(1, 3), per_group=st.integers(1, 2), length=st.integers(2, 3),
       affine=st.booleans(), seed=st.integers(0, 2**16))  # fmt: skip
def test_group_norm(batch, groups, per_group, length, affine, seed):
    ours, theirs = twins("GroupNorm", groups, groups * per_group, affine=affine)
    check_layer(ours, theirs, [normal(np.random.default_rng(seed), batch, groups * per_group, length)])
