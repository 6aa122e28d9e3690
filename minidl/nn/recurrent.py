"""Recurrent layers with PyTorch's layout: RNN, LSTM, GRU and the one-step cells RNNCell, LSTMCell,
GRUCell.  The gate equations and their derivatives are in ``minidl.ops.recurrent``.

Parameters, for layer k (and ``_reverse`` for the backward direction of a bidirectional layer):

    weight_ih_l{k}   (gates * hidden_size, input size of layer k)
    weight_hh_l{k}   (gates * hidden_size, hidden_size)
    bias_ih_l{k}, bias_hh_l{k}   (gates * hidden_size,)

with gates = 1 (RNN), 4 (LSTM, blocks i, f, g, o) or 3 (GRU, blocks r, z, n); the cells name them
``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``.  Everything starts as U(-1/sqrt(H), 1/sqrt(H)).

A layer runs each direction as: one matmul x W_ih^T + b_ih for all time steps (plus b_hh for RNN and
LSTM, where it adds to the gates just like b_ih), then a loop with one fused step op per time step.
Layer k > 0 reads the outputs of layer k - 1 (both directions side by side), with dropout in
between while training.

Differences from PyTorch: a 2-D input is refused (PyTorch reads it as one unbatched sequence; add
the batch axis yourself), variable lengths come as ``lengths=`` rather than a PackedSequence, and
LSTM has no ``proj_size``.

Variable-length batches: ``lstm(x, lengths=lengths)``, where ``lengths[b]`` counts the real steps of
sequence b and the rest is padding.  The result equals PyTorch's
``pad_packed_sequence(lstm(pack_padded_sequence(x, lengths, enforce_sorted=False)),
total_length=seq_len)``: outputs at padded steps are zero, and h_n (and c_n) hold each sequence's
state after its last real step (for the reverse direction, which starts at step lengths[b] - 1:
after step 0).  Here every step is computed, and a sequence simply keeps its state at padded steps.
"""
import math
import warnings

import numpy as np

from minidl import backend
from minidl import functional as F
from minidl.nn import init
from minidl.nn.layers import empty_parameter
from minidl.nn.module import Module
from minidl.ops import recurrent as R
from minidl.tensor import Tensor


def _reset_uniform(module):
    """Every parameter ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
    bound = 1 / math.sqrt(module.hidden_size)
    for param in module.parameters():
        init.uniform_(param, -bound, bound)


def _check_positive(layer, name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}")


def _check_dtype(layer, name, tensor, weight):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{layer}: {name} must be a Tensor, got {type(tensor).__name__}")
    if tensor.dtype != weight.dtype:
        raise TypeError(
            f"{layer}: {name} has dtype {tensor.dtype} but the weights are {weight.dtype}; "
            f"convert one of them (x.to({weight.dtype}) or layer.to({tensor.dtype}))"
        )


def _parameter_shapes(num_gates, input_size, hidden_size, bias):
    """Parameter name -> shape, in PyTorch's order, for one layer and direction."""
    rows = num_gates * hidden_size
    shapes = {"weight_ih": (rows, input_size), "weight_hh": (rows, hidden_size)}
    return {**shapes, "bias_ih": (rows,), "bias_hh": (rows,)} if bias else shapes


def _zeros(like, shape):
    return Tensor(like.xp.zeros(shape, dtype=like.dtype))


def _check_nonlinearity(layer, nonlinearity):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"{layer}: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return nonlinearity


# ----------------------------------------------------------------------------- the three kinds
# A cell and a layer of one kind share its gate count, how the input is projected and the step: the
# fused op of one time step, from x_proj and the tuple of previous states to the tuple of new states.
class _Kind:
    def _project(self, x, w_ih, b_ih, b_hh):
        """(x W_ih^T + (b_ih + b_hh), None) for every row of x.  In RNN and LSTM, b_hh enters the
        gates just like b_ih, so it is added here once rather than at every step (None: the step
        has no bias left to add)."""
        return F.linear(x, w_ih, None if b_ih is None else b_ih + b_hh), None


class _ElmanKind(_Kind):
    num_gates = 1

    def _step(self, x_proj, states, w_hh, b_hh):
        return (R.rnn_step(x_proj, states[0], w_hh, b_hh, self.nonlinearity),)


class _LSTMKind(_Kind):
    num_gates = 4

    def _step(self, x_proj, states, w_hh, b_hh):
        return R.lstm_step(x_proj, *states, w_hh, b_hh)


class _GRUKind(_Kind):
    num_gates = 3

    def _project(self, x, w_ih, b_ih, b_hh):
        """(x W_ih^T + b_ih, b_hh): b_hn sits inside r * (h W_hn^T + b_hn), so the step needs b_hh."""
        return F.linear(x, w_ih, b_ih), b_hh

    def _step(self, x_proj, states, w_hh, b_hh):
        return (R.gru_step(x_proj, states[0], w_hh, b_hh),)


# ----------------------------------------------------------------------------- cells
class _CellBase(Module):
    """One time step: ``cell(input, hx=None)`` with input (batch, input_size) or (input_size,)
    and each state (batch, hidden_size) or (hidden_size,); a missing state is zeros."""

    state_names = ("hx",)

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        _check_positive(name, "input_size", input_size)
        _check_positive(name, "hidden_size", hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        for kind, shape in _parameter_shapes(self.num_gates, input_size, hidden_size, bias).items():
            self.register_parameter(kind, empty_parameter(shape, device, dtype))
        if not bias:  # registered as absent, as in PyTorch
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_uniform(self)

    def _run(self, input, states):
        """Check the arguments, add a batch axis to unbatched ones, call ``self._step`` on
        x W_ih^T + b_ih, and drop the batch axis again; returns the tuple of new states."""
        name = type(self).__name__
        _check_dtype(name, "input", input, self.weight_ih)
        if input.ndim not in (1, 2):
            raise ValueError(
                f"{name}: expected input of shape (batch, {self.input_size}) or ({self.input_size},), "
                f"got {tuple(input.shape)}"
            )
        batched = input.ndim == 2
        if not batched:
            input = F.unsqueeze(input, 0)
        checked = []
        for state_name, state in zip(self.state_names, states):
            if state is None:
                state = _zeros(input, (input.shape[0], self.hidden_size))
            else:
                _check_dtype(name, state_name, state, self.weight_hh)
                if state.ndim != (2 if batched else 1):
                    raise ValueError(
                        f"{name}: {state_name} must be {2 if batched else 1}-D like the input "
                        f"{'(batch, hidden_size)' if batched else '(hidden_size,)'}, got shape {tuple(state.shape)}"
                    )
                state = state if batched else F.unsqueeze(state, 0)
            checked.append(state)
        R.check_cell_shapes(name, input, dict(zip(self.state_names, checked)), self.weight_ih, self.weight_hh)
        x_proj, step_bias = self._project(input, self.weight_ih, self.bias_ih, self.bias_hh)
        new_states = self._step(x_proj, tuple(checked), self.weight_hh, step_bias)
        return new_states if batched else tuple(F.squeeze(s, 0) for s in new_states)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_ElmanKind, _CellBase):
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = tanh (default) or relu."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        self.nonlinearity = _check_nonlinearity("RNNCell", nonlinearity)
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input, hx=None):
        return self._run(input, (hx,))[0]

    def extra_repr(self):
        act = "" if self.nonlinearity == "tanh" else ", nonlinearity=relu"
        return super().extra_repr() + act


class LSTMCell(_LSTMKind, _CellBase):
    """i, f, o = sigmoid(.), g = tanh(.) of the four blocks of x W_ih^T + b_ih + h W_hh^T + b_hh;
    c' = f * c + i * g,  h' = o * tanh(c').  ``hx = (h, c)``; returns ``(h', c')``."""

    state_names = ("h", "c")

    def forward(self, input, hx=None):
        return self._run(input, _state_pair("LSTMCell", hx))


class GRUCell(_GRUKind, _CellBase):
    """r = sigmoid(x_r + h_r), z = sigmoid(x_z + h_z), n = tanh(x_n + r * h_n),
    h' = (1 - z) * n + z * h, where [x_r x_z x_n] = x W_ih^T + b_ih and [h_r h_z h_n] = h W_hh^T + b_hh."""

    def forward(self, input, hx=None):
        return self._run(input, (hx,))[0]


def _state_pair(layer, hx):
    """LSTM states come as a pair (h, c), or None for zeros."""
    if hx is None:
        return (None, None)
    if not isinstance(hx, (tuple, list)) or len(hx) != 2:
        raise TypeError(f"{layer}: hx must be a tuple (h, c) of two tensors, got {type(hx).__name__}")
    return tuple(hx)


# ----------------------------------------------------------------------------- layers
class _RNNBase(Module):
    """A stack of ``num_layers`` recurrent layers, each run forwards (and backwards, when
    ``bidirectional``) over the whole sequence.

    ``layer(input, hx=None, lengths=None)``: input (seq_len, batch, input_size), or
    (batch, seq_len, input_size) when ``batch_first``; hx (num_layers * num_directions, batch,
    hidden_size), zeros when missing; ``lengths`` see the module docstring.  Returns ``output``
    (seq_len, batch, num_directions * hidden_size) (batch first when ``batch_first``) and h_n of
    hx's shape.
    """

    state_names = ("h_0",)

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        for arg, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            _check_positive(name, arg, value)
        if isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout must be a number in [0, 1], got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{name}: dropout={dropout} acts between layers only, so it does nothing with num_layers=1",
                UserWarning,
            )
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional = bidirectional
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * self.num_directions
            shapes = _parameter_shapes(self.num_gates, layer_input, hidden_size, bias)
            for suffix in self._suffixes:
                for kind, shape in shapes.items():
                    self.register_parameter(f"{kind}_l{layer}{suffix}", empty_parameter(shape, device, dtype))
        self.reset_parameters()

    @property
    def num_directions(self):
        return 2 if self.bidirectional else 1

    @property
    def _suffixes(self):
        return ("", "_reverse")[: self.num_directions]

    def reset_parameters(self):
        _reset_uniform(self)

    def _weights(self, layer, suffix):
        """(W_ih, W_hh, b_ih, b_hh) of one layer and direction (biases None when ``bias=False``)."""
        names = (f"{kind}_l{layer}{suffix}" for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
        return tuple(self._parameters.get(name) for name in names)

    # -------------------------------------------------------------- checking the arguments
    def _check_input(self, input):
        name = type(self).__name__
        _check_dtype(name, "input", input, self.weight_ih_l0)
        layout = "(batch, seq_len, input_size)" if self.batch_first else "(seq_len, batch, input_size)"
        if input.ndim != 3:
            batch_axis = 0 if self.batch_first else 1
            raise ValueError(
                f"{name}: expected a 3-D input {layout}, got shape {tuple(input.shape)}; "
                f"for a single sequence add a batch axis with x.unsqueeze({batch_axis}), "
                f"or use {name}Cell for a single time step"
            )
        if input.shape[2] != self.input_size:
            raise ValueError(
                f"{name}: expected input {layout} with input_size={self.input_size}, got shape {tuple(input.shape)}"
            )
        if 0 in input.shape[:2]:
            raise ValueError(f"{name}: expected a non-empty batch and sequence, got shape {tuple(input.shape)}")

    def _initial_states(self, hx, batch, like):
        """One tuple of (batch, hidden_size) states per layer and direction."""
        name = type(self).__name__
        count = self.num_layers * self.num_directions
        expected = (count, batch, self.hidden_size)
        if hx is None:
            zeros = _zeros(like, (batch, self.hidden_size))
            return [(zeros,) * len(self.state_names)] * count
        per_state = []
        for state_name, state in zip(self.state_names, self._split_hx(hx)):
            _check_dtype(name, state_name, state, self.weight_hh_l0)
            if tuple(state.shape) != expected:
                raise ValueError(
                    f"{name}: expected {state_name} of shape (num_layers * num_directions, batch, hidden_size) "
                    f"= {expected}, got {tuple(state.shape)}"
                )
            per_state.append(R.unbind(state))
        return list(zip(*per_state))

    def _split_hx(self, hx):
        if isinstance(hx, (tuple, list)):
            raise TypeError(f"{type(self).__name__}: hx must be one tensor h_0, got a {type(hx).__name__}")
        return (hx,)

    def _valid_steps(self, lengths, seq_len, batch, device):
        """(seq_len, batch) booleans on ``device``: True where step t of sequence b is real
        (t < lengths[b]).  The lengths are checked on the host (as PyTorch, which wants them
        there), and the mask goes to the device once per forward, not once per step."""
        name = type(self).__name__
        array = np.asarray(backend.to_device(lengths.array if isinstance(lengths, Tensor) else lengths, "cpu"))
        if array.shape != (batch,) or array.dtype.kind not in "iu":
            raise ValueError(
                f"{name}: lengths must be {batch} integers (one per sequence), got shape {array.shape} "
                f"of dtype {array.dtype}"
            )
        if array.min() < 1 or array.max() > seq_len:
            raise ValueError(f"{name}: lengths must lie in [1, seq_len={seq_len}], got {array.tolist()}")
        return backend.to_device(np.arange(seq_len)[:, None] < array[None, :], device)

    # -------------------------------------------------------------- running
    def forward(self, input, hx=None, lengths=None):
        self._check_input(input)
        x = F.transpose(input, 0, 1) if self.batch_first else input
        seq_len, batch = x.shape[:2]
        initial = self._initial_states(hx, batch, x)
        valid = None if lengths is None else self._valid_steps(lengths, seq_len, batch, x.device)
        finals = []
        for layer in range(self.num_layers):
            outputs = []
            for direction, suffix in enumerate(self._suffixes):
                state = initial[layer * self.num_directions + direction]
                output, final = self._run_direction(x, self._weights(layer, suffix), state, direction == 1, valid)
                outputs.append(output)
                finals.append(final)
            x = F.cat(outputs, dim=2) if self.bidirectional else outputs[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout)
        if valid is not None:
            x = x * Tensor(valid[:, :, None].astype(x.dtype))
        output = F.transpose(x, 0, 1) if self.batch_first else x
        final_states = tuple(R.stack_steps([f[k] for f in finals]) for k in range(len(self.state_names)))
        return output, final_states if len(final_states) > 1 else final_states[0]

    def _run_direction(self, x, weights, state, reverse, valid):
        """One direction of one layer over the whole sequence; returns the outputs
        (seq_len, batch, hidden_size) and the final state tuple."""
        w_ih, w_hh, b_ih, b_hh = weights
        if valid is None and self.num_gates == 4:  # full-length LSTM sequences: one op for all steps
            bias = None if b_ih is None else b_ih + b_hh
            outputs, h, c = R.lstm_sequence(x, *state, w_ih, w_hh, bias, reverse=reverse)
            return outputs, (h, c)
        if valid is None and self.num_gates == 3:  # full-length GRU sequences: one op for all steps
            outputs, h = R.gru_sequence(x, *state, w_ih, w_hh, b_ih, b_hh, reverse=reverse)
            return outputs, (h,)
        seq_len, batch, features = x.shape
        projection, step_bias = self._project(F.reshape(x, (seq_len * batch, features)), w_ih, b_ih, b_hh)
        projection = F.reshape(projection, (seq_len, batch, projection.shape[1]))
        x_proj = R.unbind(projection)
        outputs = [None] * seq_len
        for t in reversed(range(seq_len)) if reverse else range(seq_len):
            new_state = self._step(x_proj[t], state, w_hh, step_bias)
            if valid is not None:  # a finished sequence keeps its state
                keep = valid[t][:, None]
                new_state = tuple(F.where(keep, new, old) for new, old in zip(new_state, state))
            state = new_state
            outputs[t] = state[0]
        return R.stack_steps(outputs), state

    def extra_repr(self):
        settings = [f"{self.input_size}, {self.hidden_size}"]
        defaults = {"num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0, "bidirectional": False}
        settings += [f"{key}={getattr(self, key)}" for key in defaults if getattr(self, key) != defaults[key]]
        return ", ".join(settings)


class RNN(_ElmanKind, _RNNBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act = tanh (default) or relu.
    Returns ``output, h_n``."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        self.nonlinearity = _check_nonlinearity("RNN", nonlinearity)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, device, dtype)

    def extra_repr(self):
        return super().extra_repr() + ("" if self.nonlinearity == "tanh" else ", nonlinearity=relu")


class LSTM(_LSTMKind, _RNNBase):
    """Long short-term memory, per step (gate blocks i, f, g, o):
    i, f, o = sigmoid(.), g = tanh(.) of x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh;
    c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t).
    ``hx = (h_0, c_0)``; returns ``output, (h_n, c_n)``."""

    state_names = ("h_0", "c_0")

    def _split_hx(self, hx):
        return _state_pair("LSTM", hx)


class GRU(_GRUKind, _RNNBase):
    """Gated recurrent unit, per step (gate blocks r, z, n):
    r = sigmoid(x_r + h_r), z = sigmoid(x_z + h_z), n = tanh(x_n + r * h_n), h_t = (1 - z) * n + z * h_{t-1},
    where [x_r x_z x_n] = x_t W_ih^T + b_ih and [h_r h_z h_n] = h_{t-1} W_hh^T + b_hh.
    Returns ``output, h_n``."""
