"""Recurrent layers and cells: parity with torch.nn (outputs, final states, every gradient),
central-difference gradchecks, variable lengths, long sequences and error messages."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl as md
import minidl.functional as F
from minidl import nn
from minidl.ops import recurrent as R
from minidl.testing import assert_close, gradcheck

KINDS = {  # name -> (minidl class, torch class name, extra constructor arguments)
    "rnn_tanh": (nn.RNN, "RNN", {}),
    "rnn_relu": (nn.RNN, "RNN", {"nonlinearity": "relu"}),
    "lstm": (nn.LSTM, "LSTM", {}),
    "gru": (nn.GRU, "GRU", {}),
}
CELLS = {
    "rnn_tanh": (nn.RNNCell, "RNNCell", {}),
    "rnn_relu": (nn.RNNCell, "RNNCell", {"nonlinearity": "relu"}),
    "lstm": (nn.LSTMCell, "LSTMCell", {}),
    "gru": (nn.GRUCell, "GRUCell", {}),
}
TOLERANCE = {"float64": 1e-10, "float32": 1e-4}


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def twin_layers(torch, kind_table, kind, dtype, *args, **kwargs):
    """The torch layer and a minidl layer holding the same weights, both in ``dtype``."""
    md_class, torch_name, extra = kind_table[kind]
    torch_layer = getattr(torch.nn, torch_name)(*args, **extra, **kwargs).to(getattr(torch, dtype))
    md_layer = md_class(*args, **extra, **kwargs, dtype=dtype)
    md_layer.load_state_dict(torch_layer.state_dict())
    return md_layer, torch_layer


def as_pair(state):
    return state if isinstance(state, tuple) else (state,)


def as_hx(states):
    """What a layer or cell takes as hx: (h, c) for LSTM, h alone otherwise, None for no state."""
    return None if not states else tuple(states) if len(states) == 2 else states[0]


def backward_both(torch, md_outputs, torch_outputs, rng):
    """Send the same random upstream gradient into every output of both libraries."""
    upstream = [rng.standard_normal(t.shape) for t in torch_outputs]
    md_loss = sum((m * md.tensor(u, dtype=m.dtype)).sum() for m, u in zip(md_outputs, upstream))
    torch_loss = sum((t * torch.tensor(u, dtype=t.dtype)).sum() for t, u in zip(torch_outputs, upstream))
    md_loss.backward()
    torch_loss.backward()


def assert_same(md_tensor, torch_tensor, dtype, what):
    tol = TOLERANCE[dtype]
    assert md_tensor is not None, f"{what}: minidl has no gradient"
    assert md_tensor.dtype == np.dtype(dtype), f"{what}: dtype {md_tensor.dtype}"
    assert_close(md_tensor.numpy(), torch_tensor.detach().numpy(), tol, tol, what)


def assert_parameter_grads_match(md_layer, torch_layer, dtype):
    torch_params = dict(torch_layer.named_parameters())
    assert [name for name, _ in md_layer.named_parameters()] == list(torch_params)
    for name, param in md_layer.named_parameters():
        assert_same(param.grad, torch_params[name].grad, dtype, f"grad of {name}")


def leaf_pair(torch, array, dtype):
    """The same values as a minidl and a torch leaf that require grad."""
    return md.tensor(array, dtype=dtype, requires_grad=True), torch.tensor(array, dtype=getattr(torch, dtype), requires_grad=True)


def run_and_compare(torch, kind, dtype, sizes, options, with_hx, lengths, rng):
    """Run twin layers on the same input (and initial state, and lengths); compare everything."""
    seq_len, batch, input_size, hidden_size, num_layers = sizes
    md_layer, torch_layer = twin_layers(torch, KINDS, kind, dtype, input_size, hidden_size, num_layers, **options)
    shape = (batch, seq_len, input_size) if options["batch_first"] else (seq_len, batch, input_size)
    md_x, torch_x = leaf_pair(torch, rng.standard_normal(shape), dtype)
    state_shape = (num_layers * (2 if options["bidirectional"] else 1), batch, hidden_size)
    count = 2 if kind == "lstm" else 1
    states = [leaf_pair(torch, rng.standard_normal(state_shape), dtype) for _ in range(count)] if with_hx else []
    md_hx, torch_hx = as_hx([m for m, _ in states]), as_hx([t for _, t in states])
    md_out, md_final = md_layer(md_x, md_hx, lengths=lengths)
    if lengths is None:
        torch_out, torch_final = torch_layer(torch_x, torch_hx)
    else:
        pack = torch.nn.utils.rnn
        packed = pack.pack_padded_sequence(torch_x, lengths, batch_first=options["batch_first"], enforce_sorted=False)
        torch_packed_out, torch_final = torch_layer(packed, torch_hx)
        torch_out, _ = pack.pad_packed_sequence(torch_packed_out, batch_first=options["batch_first"], total_length=seq_len)
    md_outputs, torch_outputs = (md_out,) + as_pair(md_final), (torch_out,) + as_pair(torch_final)
    for k, (mine, theirs) in enumerate(zip(md_outputs, torch_outputs)):
        assert_same(mine, theirs, dtype, ["output", "h_n", "c_n"][k])
    backward_both(torch, md_outputs, torch_outputs, rng)
    assert_same(md_x.grad, torch_x.grad, dtype, "grad of input")
    for k, (mine, theirs) in enumerate(states):
        assert_same(mine.grad, theirs.grad, dtype, f"grad of {['h_0', 'c_0'][k]}")
    assert_parameter_grads_match(md_layer, torch_layer, dtype)


@st.composite
def layer_setups(draw):
    sizes = (
        draw(st.integers(1, 6)),  # seq_len
        draw(st.integers(1, 3)),  # batch
        draw(st.integers(1, 4)),  # input_size
        draw(st.integers(1, 4)),  # hidden_size
        draw(st.integers(1, 3)),  # num_layers
    )
    options = {key: draw(st.booleans()) for key in ("bidirectional", "batch_first", "bias")}
    return sizes, options, draw(st.booleans()), draw(st.integers(0, 2**32 - 1))


# ----------------------------------------------------------------------------- parity with torch.nn
@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", sorted(KINDS))
@settings(max_examples=15)
@given(setup=layer_setups())
def test_layer_matches_torch(torch, kind, dtype, setup):
    """Outputs, h_n (c_n), and the gradients of input, initial states and every parameter agree
    with torch.nn (1e-10 relative in float64, 1e-4 in float32), any size, layers, direction, layout."""
    sizes, options, with_hx, seed = setup
    run_and_compare(torch, kind, dtype, sizes, options, with_hx, None, np.random.default_rng(seed))


@pytest.mark.torch
@pytest.mark.parametrize("kind", sorted(KINDS))
@settings(max_examples=10)
@given(setup=layer_setups(), data=st.data())
def test_lengths_match_pack_padded_sequence(torch, kind, setup, data):
    """``lengths=`` gives what torch gives for pack_padded_sequence -> layer -> pad_packed_sequence:
    zero outputs at padded steps, h_n from each sequence's last real step, and the same gradients."""
    sizes, options, with_hx, seed = setup
    lengths = data.draw(st.lists(st.integers(1, sizes[0]), min_size=sizes[1], max_size=sizes[1]), label="lengths")
    run_and_compare(torch, kind, "float64", sizes, options, with_hx, lengths, np.random.default_rng(seed))


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", sorted(CELLS))
@settings(max_examples=6)
@given(batch=st.sampled_from([None, 1, 3]), sizes=st.tuples(st.integers(1, 4), st.integers(1, 4)),
       bias=st.booleans(), with_hx=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_cell_matches_torch(torch, kind, dtype, batch, sizes, bias, with_hx, seed):
    """Cells, batched or unbatched (batch None), with or without a state, agree with torch.nn."""
    rng = np.random.default_rng(seed)
    input_size, hidden_size = sizes
    md_cell, torch_cell = twin_layers(torch, CELLS, kind, dtype, input_size, hidden_size, bias=bias)
    lead = () if batch is None else (batch,)
    md_x, torch_x = leaf_pair(torch, rng.standard_normal(lead + (input_size,)), dtype)
    count = 2 if kind == "lstm" else 1
    states = [leaf_pair(torch, rng.standard_normal(lead + (hidden_size,)), dtype) for _ in range(count)] if with_hx else []
    md_out = as_pair(md_cell(md_x, as_hx([m for m, _ in states])))
    torch_out = as_pair(torch_cell(torch_x, as_hx([t for _, t in states])))
    for k, (mine, theirs) in enumerate(zip(md_out, torch_out)):
        assert_same(mine, theirs, dtype, f"output {k}")
    backward_both(torch, md_out, torch_out, rng)
    assert_same(md_x.grad, torch_x.grad, dtype, "grad of input")
    for k, (mine, theirs) in enumerate(states):
        assert_same(mine.grad, theirs.grad, dtype, f"grad of state {k}")
    assert_parameter_grads_match(md_cell, torch_cell, dtype)


@pytest.mark.torch
def test_parameter_names_shapes_and_order_match_torch(torch):
    for kind, (md_class, torch_name, extra) in KINDS.items():
        md_layer = md_class(3, 5, num_layers=2, bidirectional=True, **extra)
        torch_layer = getattr(torch.nn, torch_name)(3, 5, num_layers=2, bidirectional=True, **extra)
        expected = [(name, tuple(p.shape)) for name, p in torch_layer.named_parameters()]
        assert [(name, p.shape) for name, p in md_layer.named_parameters()] == expected, kind
    for kind, (md_class, torch_name, extra) in CELLS.items():
        expected = [(name, tuple(p.shape)) for name, p in getattr(torch.nn, torch_name)(3, 5, **extra).named_parameters()]
        assert [(name, p.shape) for name, p in md_class(3, 5, **extra).named_parameters()] == expected, kind


@pytest.mark.torch
def test_unbind_matches_torch(torch):
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    for dim in (0, 1, -1):
        md_x, torch_x = leaf_pair(torch, x, "float64")
        md_parts, torch_parts = F.unbind(md_x, dim), torch.unbind(torch_x, dim)
        assert len(md_parts) == len(torch_parts)
        backward_both(torch, md_parts[:-1], torch_parts[:-1], np.random.default_rng(1))  # one part unused
        assert_same(md_x.grad, torch_x.grad, "float64", f"grad of unbind(dim={dim})")


# ----------------------------------------------------------------------------- fused vs reference
STEPS = {  # name -> (fused step, reference step, gate count, number of states)
    "rnn_tanh": (R.rnn_step, R.rnn_step_reference, 1, 1),
    "lstm": (R.lstm_step, R.lstm_step_reference, 4, 2),
    "gru": (R.gru_step, R.gru_step_reference, 3, 1),
}


@pytest.mark.parametrize("dtype, tolerance", [("float64", 1e-12), ("float32", 1e-5)])
@pytest.mark.parametrize("kind", sorted(STEPS))
@settings(max_examples=8)
@given(batch=st.integers(1, 4), hidden=st.integers(1, 5), bias=st.booleans(), scale=st.sampled_from([1.0, 40.0]),
       seed=st.integers(0, 2**32 - 1))
def test_fused_step_matches_its_reference(kind, dtype, tolerance, batch, hidden, bias, scale, seed):
    """The fused Function and the same step composed from small ops agree to rounding, outputs and
    the gradients of every input; huge pre-activations (scale 40: e^-a overflows in float32)
    saturate the gates cleanly, without nan."""
    fused, reference, gates, states = STEPS[kind]
    rng = np.random.default_rng(seed)
    shapes = [(batch, gates * hidden)] + [(batch, hidden)] * states + [(gates * hidden, hidden)] + [(gates * hidden,)] * bias
    arrays = [scale * rng.standard_normal(shape) for shape in shapes]
    results = []
    for step in (fused, reference):
        inputs = [md.tensor(a, dtype=dtype, requires_grad=True) for a in arrays]
        with np.errstate(invalid="raise", divide="raise"):
            outputs = as_pair(step(*inputs))
            weights = np.random.default_rng(0)
            sum((out * md.tensor(weights.standard_normal(out.shape), dtype=dtype)).sum() for out in outputs).backward()
        results.append([out.numpy() for out in outputs] + [x.grad.numpy() for x in inputs])
    for k, (mine, expected) in enumerate(zip(*results)):
        assert_close(mine, expected, tolerance, tolerance, f"{kind} result {k}")


# ----------------------------------------------------------------------------- central differences
def _layer_function(layer, lengths=None):
    def run(x, h0, *c0):
        output, final = layer(x, (h0, *c0) if c0 else h0, lengths=lengths)
        return (output,) + as_pair(final)

    return run


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_layer_gradcheck(kind, float64):
    """Input and initial-state gradients of a 2-layer bidirectional layer with padded sequences
    agree with central differences."""
    md.manual_seed(0)
    md_class, _, extra = KINDS[kind]
    layer = md_class(2, 3, num_layers=2, bidirectional=True, batch_first=True, **extra)
    rng = np.random.default_rng(0)
    x = md.tensor(rng.standard_normal((2, 4, 2)))
    states = [md.tensor(rng.standard_normal((4, 2, 3))) for _ in range(2 if kind == "lstm" else 1)]
    assert gradcheck(_layer_function(layer, lengths=[4, 2]), [x.requires_grad_(), *(s.requires_grad_() for s in states)])


@pytest.mark.parametrize("cell", [F.rnn_tanh_cell, F.rnn_relu_cell, F.lstm_cell, F.gru_cell], ids=lambda f: f.__name__)
def test_cell_function_gradcheck(cell, float64):
    """Every input of the fused step, weights included, against central differences."""
    gates = {"lstm_cell": 4, "gru_cell": 3}.get(cell.__name__, 1)
    rng = np.random.default_rng(1)
    shapes = [(3, 2), (3, 4), (3, 4), (gates * 4, 2), (gates * 4, 4), (gates * 4,), (gates * 4,)]
    x, h, c, *weights = (md.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes)

    def step(x, h, c, *weights):
        return cell(x, (h, c) if cell is F.lstm_cell else h, *weights)

    inputs = [x, h, c] if cell is F.lstm_cell else [x, h, md.zeros(3, 4)]
    assert gradcheck(step, inputs + weights, atol=1e-6, rtol=1e-4)


# ----------------------------------------------------------------------------- behaviour
def test_long_sequence_runs_without_recursion_errors():
    md.manual_seed(0)
    layer = nn.LSTM(3, 4)
    x = md.randn(1000, 2, 3, requires_grad=True)
    output, (h_n, c_n) = layer(x)
    (output.sum() + h_n.sum()).backward()
    assert output.shape == (1000, 2, 4)
    assert np.isfinite(x.grad.numpy()).all() and np.isfinite(layer.weight_hh_l0.grad.numpy()).all()


def test_shapes_for_both_layouts_and_directions():
    md.manual_seed(0)
    x = md.randn(5, 7, 3)  # (batch, seq, feature) for batch_first
    output, (h_n, c_n) = nn.LSTM(3, 4, num_layers=3, batch_first=True, bidirectional=True)(x)
    assert output.shape == (5, 7, 8) and h_n.shape == c_n.shape == (6, 5, 4)
    output, h_n = nn.GRU(3, 4)(x)
    assert output.shape == (5, 7, 4) and h_n.shape == (1, 7, 4)


def test_initial_weights_are_uniform_within_one_over_sqrt_hidden():
    md.manual_seed(0)
    layer = nn.LSTM(10, 16, num_layers=2)
    values = np.concatenate([p.numpy().ravel() for p in layer.parameters()])
    assert np.abs(values).max() <= 0.25 and np.abs(values).max() > 0.24
    assert abs(values.mean()) < 0.01 and layer.weight_ih_l0.dtype == md.float32


def test_full_lengths_equal_no_lengths_and_padding_does_not_leak():
    md.manual_seed(0)
    layer = nn.GRU(2, 3, bidirectional=True)
    x = md.randn(4, 2, 2)
    full, h_full = layer(x)  # one GRUSequence op: the biases are added in another order than ...
    same, h_same = layer(x, lengths=[4, 4])  # ... the per-step path's, so float32 rounding differs
    assert_close(full.numpy(), same.numpy(), 1e-6, 1e-6, "outputs")
    assert_close(h_full.numpy(), h_same.numpy(), 1e-6, 1e-6, "h_n")
    noisy = md.tensor(x.numpy().copy())
    noisy[2:, 1] = 100.0  # padding of sequence 1 (length 2) must not matter
    out_a, h_a = layer(x, lengths=[4, 2])
    out_b, h_b = layer(noisy, lengths=md.tensor([4, 2]))
    np.testing.assert_array_equal(out_a.numpy(), out_b.numpy())
    np.testing.assert_array_equal(h_a.numpy(), h_b.numpy())
    assert not out_a.numpy()[2:, 1].any()


def test_dropout_acts_between_layers_only_while_training():
    md.manual_seed(0)
    layer = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    plain = nn.LSTM(3, 4, num_layers=2)
    plain.load_state_dict(layer.state_dict())
    x = md.randn(6, 2, 3)
    assert not np.array_equal(layer(x)[0].numpy(), layer(x)[0].numpy())
    layer.eval()
    np.testing.assert_array_equal(layer(x)[0].numpy(), plain(x)[0].numpy())
    with pytest.warns(UserWarning, match="dropout=0.2 acts between layers only"):
        nn.GRU(3, 4, dropout=0.2)


def test_no_graph_is_recorded_under_no_grad():
    layer = nn.RNN(2, 3)
    with md.no_grad():
        output, h_n = layer(md.randn(3, 1, 2))
    assert output.grad_fn is None and h_n.grad_fn is None


def test_repr_shows_non_default_settings():
    assert repr(nn.LSTM(3, 4, num_layers=2, batch_first=True)) == "LSTM(3, 4, num_layers=2, batch_first=True)"
    assert repr(nn.RNN(3, 4, nonlinearity="relu")) == "RNN(3, 4, nonlinearity=relu)"
    assert repr(nn.GRUCell(3, 4, bias=False)) == "GRUCell(3, 4, bias=False)"


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: nn.LSTM(3, 4)(md.randn(5, 2, 7)), ValueError,
         r"LSTM: expected input \(seq_len, batch, input_size\) with input_size=3, got shape \(5, 2, 7\)"),
        (lambda: nn.GRU(3, 4, batch_first=True)(md.randn(5, 3)), ValueError,
         r"GRU: expected a 3-D input \(batch, seq_len, input_size\), got shape \(5, 3\); .*x.unsqueeze\(0\)"),
        (lambda: nn.RNN(3, 4, num_layers=2)(md.randn(5, 2, 3), md.zeros(1, 2, 4)), ValueError,
         r"RNN: expected h_0 of shape \(num_layers \* num_directions, batch, hidden_size\) = \(2, 2, 4\), got \(1, 2, 4\)"),
        (lambda: nn.LSTM(3, 4)(md.randn(5, 2, 3), (md.zeros(1, 2, 4), md.zeros(1, 3, 4))), ValueError,
         r"LSTM: expected c_0 of shape .* = \(1, 2, 4\), got \(1, 3, 4\)"),
        (lambda: nn.LSTM(3, 4)(md.randn(5, 2, 3), md.zeros(1, 2, 4)), TypeError,
         r"LSTM: hx must be a tuple \(h, c\) of two tensors, got Tensor"),
        (lambda: nn.GRU(3, 4)(md.randn(5, 2, 3), (md.zeros(1, 2, 4),)), TypeError, r"GRU: hx must be one tensor h_0"),
        (lambda: nn.GRU(3, 4)(md.randn(5, 2, 3).double()), TypeError,
         r"GRU: input has dtype float64 but the weights are float32"),
        (lambda: nn.LSTM(3, 4)(md.randn(5, 2, 3), lengths=[5, 6]), ValueError,
         r"LSTM: lengths must lie in \[1, seq_len=5\], got \[5, 6\]"),
        (lambda: nn.LSTM(3, 4)(md.randn(5, 2, 3), lengths=[5]), ValueError,
         r"LSTM: lengths must be 2 integers \(one per sequence\)"),
        (lambda: nn.LSTMCell(3, 4)(md.randn(2, 5)), ValueError,
         r"LSTMCell: expected input of shape \(batch, input_size=3\), got \(2, 5\)"),
        (lambda: nn.GRUCell(3, 4)(md.randn(2, 3), md.zeros(3, 4)), ValueError,
         r"GRUCell: expected hx of shape \(batch=2, hidden_size=4\), got \(3, 4\)"),
        (lambda: nn.RNNCell(3, 4)(md.randn(3), md.zeros(2, 4)), ValueError, r"RNNCell: hx must be 1-D like the input"),
        (lambda: nn.RNN(3, 4, nonlinearity="sigmoid"), ValueError, r"RNN: nonlinearity must be 'tanh' or 'relu'"),
        (lambda: nn.LSTM(3, 0), ValueError, r"LSTM: hidden_size must be a positive integer, got 0"),
    ],
)
def test_bad_input_names_the_layer_and_the_shapes(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lstm_kernels_match_their_array_module_twin(dtype, monkeypatch):
    """The Numba kernels (NumPy arrays; the forward one for float32) and the array-module code
    (what CuPy arrays run) give the same outputs and gradients."""
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal(s) for s in [(3, 8), (3, 2), (3, 2), (8, 2), (8,)]]
    upstream = rng.standard_normal((3, 2))
    results = []
    for use_kernel in (True, False):
        if not use_kernel:
            monkeypatch.setattr(R, "fused_kernels", lambda array: None)
        inputs = [md.tensor(a, dtype=dtype, requires_grad=True) for a in arrays]
        h, c = R.lstm_step(*inputs)
        (h * md.tensor(upstream, dtype=dtype) + c * 3).sum().backward()
        results.append([h.numpy(), c.numpy()] + [x.grad.numpy() for x in inputs])
    for mine, expected in zip(*results):
        assert_close(mine, expected, 1e-12 if dtype == "float64" else 1e-5, 1e-12 if dtype == "float64" else 1e-5, "lstm step")


def _float32_gate_kernel(block, x):
    """Run the float32 forward kernel with H = 1 and ``x`` as the pre-activations of gate
    ``block`` (0 = i, 2 = g); returns that block's activations."""
    from kernels import recurrent as K

    gates = np.zeros((x.size, 4), np.float32)
    gates[:, block] = x
    bias, c = np.zeros(4, np.float32), np.zeros((x.size, 1), np.float32)
    K.lstm_gates_forward_float32(gates, np.zeros_like(gates), bias, c, *(np.empty_like(c) for _ in range(3)))
    return gates[:, block]


def _ulps(ours, exact):
    return np.abs(ours - exact) / np.spacing(np.abs(exact).astype(np.float32))


def test_float32_tanh_kernel_is_within_6_ulp():
    """The rational tanh of the float32 LSTM kernel against tanh in float64, on a dense grid that
    covers the clamp at |x| = 9, tiny inputs and zero."""
    x = np.concatenate([np.linspace(-12, 12, 1_000_001), np.geomspace(1e-30, 1, 10_001), [0.0]]).astype(np.float32)
    x = np.concatenate([x, -x])
    ours = _float32_gate_kernel(2, x)
    ulps = _ulps(ours, np.tanh(x.astype(np.float64)))
    assert ulps.max() <= 6, f"{ulps.max():.1f} ulp at x = {x[ulps.argmax()]}"
    assert np.all(np.abs(ours) <= 1) and ours[x.size // 2 - 1] == 0


def test_float32_sigmoid_kernel_is_within_4_ulp():
    """The kernel's sigmoid 1 / (1 + e^-a), e^-a from its own exp: within 4 ulp of the float64 value
    wherever that is a normal float32, saturated gates included (sigmoid(-80) = 1.8e-35), and
    between 0 and 1 everywhere."""
    a = np.concatenate([np.linspace(-100, 100, 2_000_001), [-np.inf, np.inf]]).astype(np.float32)
    ours = _float32_gate_kernel(0, a)
    exact = 1 / (1 + np.exp(-a.astype(np.float64)))
    normal = exact >= np.finfo(np.float32).tiny
    ulps = _ulps(ours[normal], exact[normal])
    assert ulps.max() <= 4, f"{ulps.max():.1f} ulp at a = {a[normal][ulps.argmax()]}"
    assert np.all((ours >= 0) & (ours <= 1)) and np.all(ours[~normal] < 1e-37)


def test_float32_exp_kernel_is_within_1_ulp_and_keeps_nan():
    """The kernels' e^x (2^k times Cephes' polynomial) against e^x in float64, over the range where
    it is a normal float32 and the clamp does not act; clamped beyond; NaN in, NaN out."""
    from numba import njit

    from kernels.recurrent import exp_float32

    @njit
    def exp_all(x, out):
        for k in range(x.size):
            out[k] = exp_float32(x[k])

    x = np.concatenate([np.linspace(-87, 88, 1_000_001), np.geomspace(1e-30, 1, 1001)]).astype(np.float32)
    x = np.concatenate([x, -x[-1001:]])
    ours = np.empty_like(x)
    exp_all(x, ours)
    ulps = _ulps(ours, np.exp(x.astype(np.float64)))
    assert ulps.max() <= 1, f"{ulps.max():.2f} ulp at x = {x[ulps.argmax()]}"
    edges = np.array([-np.inf, -200, 200, np.inf, np.nan], np.float32)
    clamped = np.empty_like(edges)
    exp_all(edges, clamped)
    np.testing.assert_array_equal(clamped[:4], np.exp(np.array([-87, -87, 88, 88], np.float32)))
    assert np.isnan(clamped[4]) and np.isnan(_float32_gate_kernel(0, np.array([np.nan], np.float32))[0])


def _sequence_results(layer, x, lengths=None):
    """Outputs, final states, the input's and every parameter's gradient of one forward and
    backward through ``layer`` (an LSTM or GRU), as NumPy arrays."""
    layer.zero_grad()
    inputs = md.tensor(x, requires_grad=True)
    output, states = layer(inputs, lengths=lengths)
    states = states if isinstance(states, tuple) else (states,)
    (output.sum() + sum((state * state * (k + 1)).sum() for k, state in enumerate(states))).backward()
    return [output.numpy(), *(s.numpy() for s in states), inputs.grad.numpy()] + [p.grad.numpy() for p in layer.parameters()]


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_sequence_op_matches_the_step_by_step_path(kind, bidirectional, float64):
    """Full-length sequences run as one LSTMSequence / GRUSequence op; giving lengths (all full)
    takes the per-step path. Outputs, final states and every gradient agree."""
    md.manual_seed(3)
    layer = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=bidirectional)
    x = np.random.default_rng(3).standard_normal((5, 2, 3))
    if not bidirectional:  # (two directions end in a cat)
        assert layer(md.tensor(x))[0].grad_fn.name == f"{kind}Sequence"
    for k, (mine, expected) in enumerate(zip(_sequence_results(layer, x), _sequence_results(layer, x, [5, 5]))):
        assert_close(mine, expected, 1e-12, 1e-12, f"result {k}")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", ["GRU", "GRUCell"])
def test_gru_kernels_match_their_array_module_twin(kind, dtype, monkeypatch):
    """The GRU's Numba kernels (GRUSequence in nn.GRU, GRUStep in nn.GRUCell; the forward one for
    float32) and the array-module code (what CuPy arrays run) give the same outputs and gradients,
    with and without biases."""
    x = np.random.default_rng(5).standard_normal((6, 3, 2) if kind == "GRU" else (3, 2))
    md.manual_seed(5)
    layers = [getattr(nn, kind)(2, 4, bias=bias, dtype=dtype) for bias in (True, False)]
    tolerance = 1e-12 if dtype == "float64" else 1e-5
    for layer in layers:
        results = []
        for use_kernel in (True, False):
            if not use_kernel:
                monkeypatch.setattr(R, "fused_kernels", lambda array: None)
            layer.zero_grad()
            inputs = md.tensor(x, dtype=dtype, requires_grad=True)
            output = layer(inputs)
            output = output[0] if isinstance(output, tuple) else output
            (output * md.tensor(np.arange(output.numel()).reshape(output.shape) % 5, dtype=dtype)).sum().backward()
            results.append([output.numpy(), inputs.grad.numpy()] + [p.grad.numpy() for p in layer.parameters()])
        monkeypatch.undo()
        for mine, expected in zip(*results):
            assert_close(mine, expected, tolerance, tolerance, f"{kind} bias={layer.bias}")


def _backward_after_changing_in_place(library, layer, x, change_output):
    """The word "raises" or "runs": what backward through ``layer`` does after an in-place change
    of its output (or of h_n and c_n)."""
    output, (h_n, c_n) = layer(library.tensor(x))
    if change_output:
        output.add_(1)
    else:
        h_n.add_(1)
        c_n.mul_(2)
    try:
        (output.sum() + h_n.sum() + c_n.sum()).backward()
    except RuntimeError as error:
        assert "modified by an inplace operation" in str(error)
        return "raises"
    return "runs"


@pytest.mark.parametrize("options", [{}, {"num_layers": 2}, {"batch_first": True}, {"bidirectional": True}])
def test_lstm_output_changed_in_place_raises_at_backward_as_in_pytorch(torch, options):
    """The LSTM's backward reads its outputs (they are the states the steps started from), so
    changing them in place raises at backward, as in PyTorch, except where the output is a new
    tensor joining two directions; changing h_n or c_n never does."""
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    md_layer, torch_layer = twin_layers(torch, KINDS, "lstm", "float32", 3, 4, **options)
    for change_output in (True, False):
        ours = _backward_after_changing_in_place(md, md_layer, x, change_output)
        theirs = _backward_after_changing_in_place(torch, torch_layer, x, change_output)
        assert ours == theirs == ("runs" if options.get("bidirectional") or not change_output else "raises")
