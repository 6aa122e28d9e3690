"""Recurrent cells as fused ops: one Function per time step does the hidden-state matmul, every gate
nonlinearity and, in backward, all of their derivatives.

A recurrent layer spends its time in a loop over the sequence, so the engine should see one node
per step, not the dozen small ops the gate equations are made of.  The input's share of the gates
does not depend on the previous step, so it is computed for the whole sequence by one matmul
before the loop (``x_proj = x W_ih^T + b_ih``) and split into steps with ``unbind``.  Each step
Function then takes its slice ``x_proj`` plus the previous state and ``W_hh``, ``b_hh`` (``nn.LSTM`` and
``nn.GRU`` run full-length sequences as one op, ``LSTMSequence`` / ``GRUSequence``, which own the
projection and loop over the same steps without a graph node per step):

    RNN:   h' = act(x_proj + h W_hh^T + b_hh),  act = tanh or relu
    LSTM:  [i f g o] = x_proj + h W_hh^T + b_hh        (four blocks of H columns)
           i, f, o = sigmoid(.),  g = tanh(.)
           c' = f * c + i * g,   h' = o * tanh(c')
    GRU:   [x_r x_z x_n] = x_proj,  [h_r h_z h_n] = h W_hh^T + b_hh
           r = sigmoid(x_r + h_r),  z = sigmoid(x_z + h_z),  n = tanh(x_n + r * h_n)
           h' = (1 - z) * n + z * h

Weights have PyTorch's layout: ``W_hh`` is (gates * H, H), gate blocks stacked in the order above.
``lstm_cell``, ``gru_cell``, ``rnn_tanh_cell`` and ``rnn_relu_cell`` are the one-step functions with
``torch.lstm_cell``'s arguments (they do the input projection themselves).  The ``*_reference``
functions at the end compute the same steps from small differentiable ops, line by line as above:
slower, but the plain statement of what the fused Functions must agree with.  They are also the
"unfused" path (``md.config.recurrent_algorithm = "unfused"``): a graph of small ops, which can be
differentiated twice; the fused Functions keep only what their own backward needs and refuse a
second derivative, naming that switch.
"""
import numpy as np

from minidl import backend
from minidl.autograd import Function
from minidl.config import config
from minidl.ops.activation import relu, sigmoid, tanh
from minidl.ops.arithmetic import gradient_where
from minidl.ops.common import normalize_dim
from minidl.ops.linalg import linear
from minidl.ops.shape import _check_tensor, stack


UNFUSED_HINT = ("a fused kernel that keeps only what its own backward needs; for gradients of gradients run "
                "the recurrent layers on small ops: md.config.recurrent_algorithm = 'unfused' (or, for a block, "
                "with md.config.override(recurrent_algorithm='unfused'))")


def sigmoid_(a):
    """a <- 1 / (1 + e^-a), in place.  (e^-a overflows to inf for a < -88 in float32; the result,
    0, is still right, so NumPy's warning is silenced.  CuPy does not warn.)"""
    xp = backend.get_array_module(a)
    with np.errstate(over="ignore"):
        xp.exp(xp.negative(a, out=a), out=a)
    a += 1
    return xp.reciprocal(a, out=a)


def _blocks(gates, count):
    """The ``count`` gate blocks of (batch, count * H) ``gates``, as views."""
    size = gates.shape[1] // count
    return tuple(gates[:, k * size : (k + 1) * size] for k in range(count))


def _hidden_gates(h, w_hh, b_hh):
    """h W_hh^T + b_hh: the previous state's share of every gate, (batch, gates * H)."""
    out = h @ w_hh.T
    if b_hh is not None:
        out += b_hh
    return out


def _hidden_grads(ctx, d_gates, h, w_hh):
    """The gradients that reach h, W_hh and b_hh from d_gates = dL/d(h W_hh^T + b_hh):
    dh = d_gates W_hh,  dW_hh = d_gates^T h,  db_hh = d_gates summed over the batch.

    Every step Function has h as input 1 and W_hh at ``ctx.w_hh_index``; ``ctx.has_bias`` says
    whether b_hh came last."""
    needs = ctx.needs_input_grad
    grad_h = d_gates @ w_hh if needs[1] else None
    grad_w = d_gates.T @ h if needs[ctx.w_hh_index] else None
    grad_b = (d_gates.sum(axis=0),) if ctx.has_bias else ()
    return (grad_h, grad_w) + grad_b


class Unbind(Function):
    """out_t = a[..., t, ...] for every t along ``axis`` (views, one output each);
    da = the g_t stacked along ``axis``."""

    @staticmethod
    def forward(ctx, a, axis=0):
        ctx.axis = axis
        return tuple(backend.get_array_module(a).moveaxis(a, axis, 0))

    @staticmethod
    def backward(ctx, *grads):
        return backend.get_array_module(grads[0]).stack(grads, axis=ctx.axis)

    @staticmethod
    def graph_backward(ctx, *grads):
        """The same stack, of Tensors (for gradients of gradients)."""
        return stack(grads, dim=ctx.axis)


class Stack(Function):
    """out = the arrays stacked along a new axis 0 (the inverse of Unbind);  each input gets g[t]."""

    differentiable_backward = True  # its backward runs on Tensors too (higher_order.py)

    @staticmethod
    def forward(ctx, *arrays):
        return backend.get_array_module(arrays[0]).stack(arrays)

    @staticmethod
    def backward(ctx, grad):
        return tuple(grad)


class RNNStep(Function):
    """h' = act(x_proj + h W_hh^T + b_hh);  with s = act'(pre-activation) = 1 - h'^2 for tanh,
    [h' > 0] for relu:  d_pre = g * s,  dx_proj = d_pre,  dh = d_pre W_hh,  dW_hh = d_pre^T h."""

    differentiable_backward = True  # its backward runs on Tensors too (higher_order.py)

    @staticmethod
    def forward(ctx, x_proj, h, w_hh, b_hh=None, nonlinearity="tanh"):
        xp = backend.get_array_module(h)
        pre = _hidden_gates(h, w_hh, b_hh)
        pre += x_proj
        h_new = xp.tanh(pre, out=pre) if nonlinearity == "tanh" else xp.maximum(pre, 0, out=pre)
        ctx.save_for_backward(h, w_hh, h_new)
        ctx.nonlinearity, ctx.w_hh_index, ctx.has_bias = nonlinearity, 2, b_hh is not None
        return h_new

    @staticmethod
    def backward(ctx, grad):
        h, w_hh, h_new = ctx.saved
        d_pre = grad * (1 - h_new * h_new) if ctx.nonlinearity == "tanh" else gradient_where(h_new > 0, grad)
        return (d_pre,) + _hidden_grads(ctx, d_pre, h, w_hh)


class LSTMStep(Function):
    """One LSTM step (gate order i, f, g, o); see the module docstring for the equations.

    Backward, with tc = tanh(c') and g_h, g_c the gradients of h' and c':
        dc' = g_c + g_h * o * (1 - tc^2),   do = g_h * tc
        di = dc' * g,  df = dc' * c,  dg = dc' * i,  dc = dc' * f
        d_gates = [di i(1-i), df f(1-f), dg (1-g^2), do o(1-o)]   (through sigmoid and tanh)
        dx_proj = d_gates,  dh = d_gates W_hh,  dW_hh = d_gates^T h,  db_hh = sum_batch d_gates
    """

    first_order_only = UNFUSED_HINT  # a second derivative goes through the unfused path

    @staticmethod
    def forward(ctx, x_proj, h, c, w_hh, b_hh=None):
        xp = backend.get_array_module(h)
        c = xp.ascontiguousarray(c)
        gates, c_new, tanh_c, h_new = h @ w_hh.T, xp.empty_like(c), xp.empty_like(c), xp.empty_like(c)
        gate_pass = lstm_gates_forward_pass(x_proj, h, c, w_hh)
        gate_pass(gates, x_proj, _bias_or_zeros(b_hh, gates), c, c_new, tanh_c, h_new)
        ctx.save_for_backward(gates, c, tanh_c, h, w_hh)
        ctx.w_hh_index, ctx.has_bias = 3, b_hh is not None
        return h_new, c_new

    @staticmethod
    def backward(ctx, grad_h, grad_c):
        gates, c, tanh_c, h, w_hh = ctx.saved
        xp = backend.get_array_module(gates)
        d_gates, grad_c_prev = xp.empty_like(gates), xp.empty_like(c)
        lstm_gates_backward_pass(gates)(gates, c, tanh_c, xp.ascontiguousarray(grad_h), xp.ascontiguousarray(grad_c),
                                        d_gates, grad_c_prev)
        grads = _hidden_grads(ctx, d_gates, h, w_hh)
        return (d_gates, grads[0], grad_c_prev if ctx.needs_input_grad[2] else None) + grads[1:]


class LSTMSequence(Function):
    """A whole LSTM layer direction over full-length sequences as one op, from the input x
    (seq_len, batch, input_size): one matrix product gives the input's share of every step's gates
    (x W_ih^T), then the steps of ``LSTMStep`` run in a plain loop, each activating its gates in
    place and adding ``bias`` (``nn.LSTM`` passes b_ih + b_hh) in the same pass.  The backward walks
    the steps in reverse, carrying dh and dc, and takes the weight and bias gradients from one
    product or sum each at the end instead of one per step:
        dW_hh = sum_t d_gates_t^T h_{t-1} = D^T H,   dW_ih = D^T X,   dx = D W_ih,
        db = sum over t and batch of d_gates_t.
    Outputs: all h_t (seq_len, batch, H), h_n and c_n."""

    first_order_only = UNFUSED_HINT  # a second derivative goes through the unfused path

    @staticmethod
    def forward(ctx, x, h, c, w_ih, w_hh, bias=None, reverse=False):
        xp = backend.get_array_module(h)
        seq_len, batch, features = x.shape
        steps = range(seq_len - 1, -1, -1) if reverse else range(seq_len)
        gates_all = (x.reshape(-1, features) @ w_ih.T).reshape(seq_len, batch, w_ih.shape[0])
        # hs[k], cs[k]: the states between steps; step t reads them at t + read and writes them at
        # t + write, so the states each step started from need no copies
        read, write = (1, 0) if reverse else (0, 1)
        hs = xp.empty((seq_len + 1,) + h.shape, dtype=h.dtype)
        cs, tanh_c_all = xp.empty_like(hs), xp.empty_like(hs[1:])
        hs[steps[0] + read], cs[steps[0] + read] = h, c
        w_t = xp.ascontiguousarray(w_hh.T)  # OpenBLAS runs h @ W^T 20% faster from W^T in rows (measured)
        gate_pass, step_bias = lstm_gates_forward_pass(x, h, c, w_ih, w_hh), _bias_or_zeros(bias, gates_all)
        for t in steps:
            gate_pass(gates_all[t], hs[t + read] @ w_t, step_bias, cs[t + read], cs[t + write], tanh_c_all[t],
                      hs[t + write])
        needs_x, needs_w_ih = ctx.needs_input_grad[0], ctx.needs_input_grad[3]
        ctx.save_for_backward(gates_all, hs[read : seq_len + read], cs[read : seq_len + read], tanh_c_all,
                              x if needs_w_ih else None, w_ih if needs_x else None, w_hh)
        ctx.steps, ctx.has_bias = steps, bias is not None
        last = steps[-1] + write
        # the outputs are rows of hs, which backward reads: changing them in place makes backward
        # raise, as in PyTorch; h_n is a copy, free to change (also as in PyTorch)
        return hs[write : seq_len + write], hs[last].copy(), cs[last]

    @staticmethod
    def backward(ctx, grad_outputs, grad_h, grad_c):
        gates_all, previous_h, previous_c, tanh_c_all, x, w_ih, w_hh = ctx.saved
        xp = backend.get_array_module(gates_all)
        gate_backward = lstm_gates_backward_pass(gates_all)
        d_gates_all = xp.empty_like(gates_all)
        dh, dc = grad_h, xp.ascontiguousarray(grad_c)
        g_h, dh_next = xp.empty_like(dc), xp.empty_like(dc)  # buffers the steps reuse
        for t in reversed(ctx.steps):
            xp.add(grad_outputs[t], dh, out=g_h)
            dc_prev = xp.empty_like(dc)
            gate_backward(gates_all[t], previous_c[t], tanh_c_all[t], g_h, dc, d_gates_all[t], dc_prev)
            dh, dc = xp.matmul(d_gates_all[t], w_hh, out=dh_next), dc_prev
        d_rows = d_gates_all.reshape(-1, gates_all.shape[2])
        grad_x = (d_rows @ w_ih).reshape(gates_all.shape[:2] + (w_ih.shape[1],)) if w_ih is not None else None
        (grad_w_hh, grad_w_ih), grad_b = _weight_grads(d_rows, [previous_h, x], ctx.has_bias)
        return (grad_x, dh, dc, grad_w_ih, grad_w_hh) + ((grad_b,) if ctx.has_bias else ())


def _weight_grads(d_rows, inputs, has_bias):
    """The weight and bias gradients of a product with matrices X_k (a pre-activation
    sum_k X_k W_k^T + b with gradient D, rows matching): dW_k = D^T X_k and db = D^T 1, all from one
    product D^T [X_1 | X_2 | ... | 1], one pass over the (steps * batch, gates * H) array D instead
    of one per weight and one for the bias.  ``inputs`` holds None where a weight needs no
    gradient; returns ([dW_k or None, ...], db or None)."""
    xp = backend.get_array_module(d_rows)
    rows = d_rows.shape[0]
    columns = [x.reshape(rows, -1) for x in inputs if x is not None]
    columns += [xp.ones((rows, 1), d_rows.dtype)] if has_bias else []
    if not columns:
        return [None] * len(inputs), None
    products = d_rows.T @ xp.concatenate(columns, axis=1)
    grads, start = [], 0
    for x in inputs:
        width = 0 if x is None else x.shape[-1]
        grads.append(None if x is None else xp.ascontiguousarray(products[:, start : start + width]))
        start += width
    return grads, (xp.ascontiguousarray(products[:, -1]) if has_bias else None)


def lstm_gates_forward_pass(*arrays):
    """The function that runs the LSTM's gate activations and cell update on ``arrays``' kind:
    the Numba kernel of ``kernels.recurrent`` for float32 NumPy arrays, ``_lstm_gates_forward``
    (the array-module code) for the others.  Both take (gates, addend, bias, c, c_new, tanh_c,
    h_new) and activate ``gates`` in place."""
    kernels = fused_kernels(arrays[0])
    if kernels is None or any(a.dtype != np.float32 for a in arrays):
        return _lstm_gates_forward
    return kernels.lstm_gates_forward_float32


def _bias_or_zeros(bias, gates):
    """``bias``, or zeros of one row of ``gates`` where there is none (the gate passes always add one)."""
    return backend.get_array_module(gates).zeros(gates.shape[-1], gates.dtype) if bias is None else bias


def lstm_gates_backward_pass(array):
    """The function that runs the gradients through the LSTM's gates on ``array``'s kind: the Numba
    kernel for NumPy arrays, ``_lstm_gates_backward`` for CuPy's; both take (gates, c, tanh_c,
    grad_h, grad_c, d_gates, grad_c_prev) and write the last two."""
    kernels = fused_kernels(array)
    return _lstm_gates_backward if kernels is None else kernels.lstm_gates_backward


def fused_kernels(array):
    """The Numba kernels for the LSTM's and GRU's elementwise work when ``array`` is a NumPy array
    (``kernels.recurrent``), None for CuPy arrays, which take the array-module code below."""
    if backend.is_cupy_array(array):
        return None
    from kernels import recurrent

    return recurrent


def _lstm_gates_forward(gates, addend, bias, c, c_new, tanh_c, h_new):
    """The array-module twin of ``kernels.recurrent.lstm_gates_forward_float32``: gates +=
    addend + bias, activated in place (i, f, o = sigmoid, g = tanh); then c' = f c + i g,
    tanh_c = tanh(c'), h' = o tanh_c, each written into its array."""
    xp = backend.get_array_module(gates)
    gates += addend
    gates += bias
    i, f, g, o = _blocks(gates, 4)
    g *= 2  # tanh(g) = 2 sigmoid(2g) - 1, so one sigmoid call serves all four blocks
    sigmoid_(gates)
    g *= 2
    g -= 1
    xp.multiply(f, c, out=c_new)
    c_new += i * g
    xp.tanh(c_new, out=tanh_c)
    xp.multiply(o, tanh_c, out=h_new)


def _lstm_gates_backward(gates, c, tanh_c, grad_h, grad_c, d_gates, grad_c_prev):
    """The array-module twin of ``kernels.recurrent.lstm_gates_backward``: writes d_gates and
    grad_c_prev."""
    xp = backend.get_array_module(gates)
    i, f, g, o = _blocks(gates, 4)
    d_c_new = tanh_c * tanh_c
    xp.subtract(1, d_c_new, out=d_c_new)
    d_c_new *= o
    d_c_new *= grad_h
    d_c_new += grad_c
    d_i, d_f, d_g, d_o = _blocks(d_gates, 4)  # first the gradients of the activated gates ...
    xp.multiply(d_c_new, g, out=d_i)
    xp.multiply(d_c_new, c, out=d_f)
    xp.multiply(d_c_new, i, out=d_g)
    xp.multiply(grad_h, tanh_c, out=d_o)
    slopes = 1 - gates  # ... then through the activations: s (1 - s) for sigmoid, 1 - g^2 for tanh
    slopes *= gates
    slope_g = _blocks(slopes, 4)[2]
    xp.subtract(1, xp.multiply(g, g, out=slope_g), out=slope_g)
    d_gates *= slopes
    xp.multiply(d_c_new, f, out=grad_c_prev)


class GRUSequence(Function):
    """A whole GRU layer direction over full-length sequences as one op, like ``LSTMSequence``:
    one product gives the input's share of every step's gates (x W_ih^T), then each step takes
    h W_hh^T and one gate pass (``GRUStep``'s equations, both biases added in it).  The backward
    walks the steps in reverse.  The two shares get different gradients in the n block (r scales
    h_n there), d_x = [dr, dz, dn] for x W_ih^T + b_ih and d_hidden = [dr, dz, dn r] for
    h W_hh^T + b_hh, so the weights come from two products at the end:
        [dW_ih | db_ih] = D_x^T [X | 1],   [dW_hh | db_hh] = D_h^T [H | 1],   dx = D_x W_ih.
    Outputs: all h_t (seq_len, batch, H; a copy, as PyTorch's) and h_n."""

    first_order_only = UNFUSED_HINT  # a second derivative goes through the unfused path

    @staticmethod
    def forward(ctx, x, h, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
        xp = backend.get_array_module(h)
        seq_len, batch, features = x.shape
        steps = range(seq_len - 1, -1, -1) if reverse else range(seq_len)
        gates_all = (x.reshape(-1, features) @ w_ih.T).reshape(seq_len, batch, w_ih.shape[0])
        read, write = (1, 0) if reverse else (0, 1)  # the state buffer as in LSTMSequence
        hs = xp.empty((seq_len + 1,) + h.shape, dtype=h.dtype)
        hidden_n_all = xp.empty_like(hs[1:])  # h W_hn^T + b_hn of every step, for backward
        hs[steps[0] + read] = h
        w_t = xp.ascontiguousarray(w_hh.T)
        gate_pass = gru_gates_forward_pass(x, h, w_ih, w_hh)
        bias_ih, bias_hh = _bias_or_zeros(b_ih, gates_all), _bias_or_zeros(b_hh, gates_all)
        for t in steps:
            gate_pass(gates_all[t], hs[t + read] @ w_t, bias_ih, bias_hh, hs[t + read], hs[t + write],
                      hidden_n_all[t])
        needs_x, needs_w_ih = ctx.needs_input_grad[0], ctx.needs_input_grad[2]
        ctx.save_for_backward(gates_all, hidden_n_all, hs[read : seq_len + read], x if needs_w_ih else None,
                              w_ih if needs_x else None, w_hh)
        ctx.steps, ctx.has_bias = steps, b_ih is not None
        return hs[write : seq_len + write].copy(), hs[steps[-1] + write].copy()

    @staticmethod
    def backward(ctx, grad_outputs, grad_h):
        gates_all, hidden_n_all, previous_h, x, w_ih, w_hh = ctx.saved
        xp = backend.get_array_module(gates_all)
        gate_backward = gru_gates_backward_pass(gates_all)
        d_x_all, d_hidden_all = xp.empty_like(gates_all), xp.empty_like(gates_all)
        dh = grad_h
        g_h, direct, dh_next = (xp.empty_like(previous_h[0]) for _ in range(3))  # buffers the steps reuse
        for t in reversed(ctx.steps):
            xp.add(grad_outputs[t], dh, out=g_h)
            gate_backward(gates_all[t], hidden_n_all[t], previous_h[t], g_h, d_x_all[t], d_hidden_all[t], direct)
            dh = xp.matmul(d_hidden_all[t], w_hh, out=dh_next)
            dh += direct
        width = gates_all.shape[2]
        d_x_rows, d_hidden_rows = d_x_all.reshape(-1, width), d_hidden_all.reshape(-1, width)
        grad_x = (d_x_rows @ w_ih).reshape(gates_all.shape[:2] + (w_ih.shape[1],)) if w_ih is not None else None
        (grad_w_ih,), grad_b_ih = _weight_grads(d_x_rows, [x], ctx.has_bias)
        (grad_w_hh,), grad_b_hh = _weight_grads(d_hidden_rows, [previous_h], ctx.has_bias)
        return (grad_x, dh, grad_w_ih, grad_w_hh) + ((grad_b_ih, grad_b_hh) if ctx.has_bias else ())


def gru_gates_forward_pass(*arrays):
    """The function that runs a GRU step's gate activations and state update on ``arrays``' kind:
    the Numba kernel of ``kernels.recurrent`` for float32 NumPy arrays, ``_gru_gates_forward`` for
    the others.  Both take (gates, hidden, bias_ih, bias_hh, h, h_new, hidden_n) and activate
    ``gates`` (x W_ih^T) in place."""
    kernels = fused_kernels(arrays[0])
    if kernels is None or any(a.dtype != np.float32 for a in arrays):
        return _gru_gates_forward
    return kernels.gru_gates_forward_float32


def gru_gates_backward_pass(array):
    """The function that runs the gradients through a GRU step's gates on ``array``'s kind: the
    Numba kernel for NumPy arrays, ``_gru_gates_backward`` for CuPy's; both take (gates, hidden_n,
    h, grad_h, d_x, d_hidden, grad_h_direct) and write the last three."""
    kernels = fused_kernels(array)
    return _gru_gates_backward if kernels is None else kernels.gru_gates_backward


def _gru_gates_forward(gates, hidden, bias_ih, bias_hh, h, h_new, hidden_n):
    """The array-module twin of ``kernels.recurrent.gru_gates_forward_float32``: r, z =
    sigmoid(gates + hidden + b_ih + b_hh), hidden_n = h_n + b_hn, n = tanh(x_n + b_in + r h_n)
    (written over ``gates``), h' = n + z (h - n).  ``hidden`` (a fresh product) gets b_hh added."""
    xp = backend.get_array_module(gates)
    gates += bias_ih
    hidden += bias_hh
    size = h.shape[1]
    r_and_z = gates[:, : 2 * size]
    r_and_z += hidden[:, : 2 * size]
    sigmoid_(r_and_z)
    r, z, n = _blocks(gates, 3)
    hidden_n[...] = hidden[:, 2 * size :]
    n += r * hidden_n
    xp.tanh(n, out=n)
    xp.subtract(h, n, out=h_new)
    h_new *= z
    h_new += n


def _gru_gates_backward(gates, hidden_n, h, grad_h, d_x, d_hidden, grad_h_direct):
    """The array-module twin of ``kernels.recurrent.gru_gates_backward``: with g = grad_h,
    dn = g (1 - z)(1 - n^2), dz = g (h - n) z (1 - z), dr = dn h_n r (1 - r); writes
    d_x = [dr, dz, dn], d_hidden = [dr, dz, dn r] and grad_h_direct = g z."""
    xp = backend.get_array_module(gates)
    r, z, n = _blocks(gates, 3)
    d_r, d_z, d_n = _blocks(d_x, 3)
    one_minus_z = 1 - z
    xp.multiply(n, n, out=d_n)
    xp.subtract(1, d_n, out=d_n)
    d_n *= grad_h
    d_n *= one_minus_z
    xp.subtract(h, n, out=d_z)
    d_z *= grad_h
    d_z *= z
    d_z *= one_minus_z
    xp.multiply(d_n, hidden_n, out=d_r)
    d_r *= r
    d_r *= 1 - r
    d_hidden[...] = d_x
    d_hidden[:, 2 * h.shape[1] :] *= r
    xp.multiply(grad_h, z, out=grad_h_direct)


class GRUStep(Function):
    """One GRU step (gate order r, z, n); see the module docstring for the equations.

    Backward, with g the gradient of h':
        dn_pre = g (1 - z)(1 - n^2)           (n_pre = x_n + r * h_n)
        dr_pre = dn_pre * h_n * r(1-r),   dz_pre = g (h - n) * z(1-z)
        dx_proj = [dr_pre, dz_pre, dn_pre],   d_hidden = [dr_pre, dz_pre, dn_pre * r]
        dh = g z + d_hidden W_hh,  dW_hh = d_hidden^T h,  db_hh = sum_batch d_hidden
    """

    first_order_only = UNFUSED_HINT  # a second derivative goes through the unfused path

    @staticmethod
    def forward(ctx, x_proj, h, w_hh, b_hh=None):
        xp = backend.get_array_module(h)
        gates, h_new, hidden_n = xp.array(x_proj), xp.empty_like(h), xp.empty_like(h)  # gates: a copy, activated in place
        gate_pass = gru_gates_forward_pass(x_proj, h, w_hh)  # x_proj holds b_ih already: no bias_ih here
        gate_pass(gates, h @ w_hh.T, _bias_or_zeros(None, gates), _bias_or_zeros(b_hh, gates), h, h_new, hidden_n)
        ctx.save_for_backward(gates, hidden_n, h, w_hh)
        ctx.w_hh_index, ctx.has_bias = 2, b_hh is not None
        return h_new

    @staticmethod
    def backward(ctx, grad):
        gates, hidden_n, h, w_hh = ctx.saved
        xp = backend.get_array_module(gates)
        d_x, d_hidden, direct = xp.empty_like(gates), xp.empty_like(gates), xp.empty_like(h)
        gru_gates_backward_pass(gates)(gates, hidden_n, h, xp.ascontiguousarray(grad), d_x, d_hidden, direct)
        grad_h, *grads = _hidden_grads(ctx, d_hidden, h, w_hh)
        if grad_h is not None:
            grad_h += direct
        return (d_x, grad_h, *grads)


# ----------------------------------------------------------------------------- functions
def unbind(input, dim=0):
    """The slices of ``input`` along ``dim``, as a tuple of tensors (one graph node for all)."""
    _check_tensor("unbind", input)
    if input.ndim == 0:
        raise ValueError("unbind: expects a tensor with at least 1 dimension, got a 0-d tensor")
    return Unbind.apply(input, axis=normalize_dim("unbind", dim, input.ndim))


def stack_steps(tensors):
    """The per-step outputs (batch, features) joined into one (steps, batch, features) tensor, as one
    graph node (``F.stack`` adds an unsqueeze node per tensor)."""
    return Stack.apply(*tensors)


def rnn_step(x_proj, h, w_hh, b_hh=None, nonlinearity="tanh"):
    """One RNN step from the precomputed x_proj = x W_ih^T + b_ih: act(x_proj + h W_hh^T + b_hh)."""
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"rnn_step: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return RNNStep.apply(*_present(x_proj, h, w_hh, b_hh), nonlinearity=nonlinearity)


def lstm_step(x_proj, h, c, w_hh, b_hh=None):
    """One LSTM step from the precomputed x_proj = x W_ih^T + b_ih; returns (h', c')."""
    if config.recurrent_algorithm == "unfused":
        return lstm_step_reference(x_proj, h, c, w_hh, b_hh)
    return LSTMStep.apply(*_present(x_proj, h, c, w_hh, b_hh))


def lstm_sequence(x, h, c, w_ih, w_hh, bias=None, reverse=False):
    """All steps of one LSTM layer direction over x (seq_len, batch, input_size) as one op, with
    ``bias`` added to the gates at every step; returns (outputs (seq_len, batch, H), h_n, c_n)."""
    if config.recurrent_algorithm == "unfused":
        return lstm_sequence_reference(x, h, c, w_ih, w_hh, bias, reverse=reverse)
    return LSTMSequence.apply(*_present(x, h, c, w_ih, w_hh, bias), reverse=reverse)


def gru_sequence(x, h, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
    """All steps of one GRU layer direction over x (seq_len, batch, input_size) as one op;
    returns (outputs (seq_len, batch, H), h_n).  The biases come both or neither."""
    if config.recurrent_algorithm == "unfused":
        return gru_sequence_reference(x, h, w_ih, w_hh, b_ih, b_hh, reverse=reverse)
    biases = () if b_ih is None else (b_ih, b_hh)
    return GRUSequence.apply(x, h, w_ih, w_hh, *biases, reverse=reverse)


def gru_step(x_proj, h, w_hh, b_hh=None):
    """One GRU step from the precomputed x_proj = x W_ih^T + b_ih; returns h'."""
    if config.recurrent_algorithm == "unfused":
        return gru_step_reference(x_proj, h, w_hh, b_hh)
    return GRUStep.apply(*_present(x_proj, h, w_hh, b_hh))


def _present(*tensors):
    """The arguments without a trailing missing bias."""
    return tensors if tensors[-1] is not None else tensors[:-1]


def check_cell_shapes(op, input, states, w_ih, w_hh):
    """Raise a ValueError naming ``op`` unless input is (batch, input_size) and every state is
    (batch, hidden_size) for weights W_ih (gates * H, input_size) and W_hh (gates * H, H)."""
    size = w_hh.shape[1]
    if input.ndim != 2 or input.shape[1] != w_ih.shape[1]:
        raise ValueError(f"{op}: expected input of shape (batch, input_size={w_ih.shape[1]}), got {tuple(input.shape)}")
    for name, state in states.items():
        if tuple(state.shape) != (input.shape[0], size):
            raise ValueError(
                f"{op}: expected {name} of shape (batch={input.shape[0]}, hidden_size={size}), got {tuple(state.shape)}"
            )


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh), as ``torch.rnn_tanh_cell``."""
    check_cell_shapes("rnn_tanh_cell", input, {"hx": hx}, w_ih, w_hh)
    return rnn_step(linear(input, w_ih, b_ih), hx, w_hh, b_hh, "tanh")


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' = relu(x W_ih^T + b_ih + h W_hh^T + b_hh), as ``torch.rnn_relu_cell``."""
    check_cell_shapes("rnn_relu_cell", input, {"hx": hx}, w_ih, w_hh)
    return rnn_step(linear(input, w_ih, b_ih), hx, w_hh, b_hh, "relu")


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step with ``hx = (h, c)``; returns (h', c'), as ``torch.lstm_cell``."""
    h, c = hx
    check_cell_shapes("lstm_cell", input, {"h": h, "c": c}, w_ih, w_hh)
    return lstm_step(linear(input, w_ih, b_ih), h, c, w_hh, b_hh)


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step; returns h', as ``torch.gru_cell``."""
    check_cell_shapes("gru_cell", input, {"hx": hx}, w_ih, w_hh)
    return gru_step(linear(input, w_ih, b_ih), hx, w_hh, b_hh)


# ----------------------------------------------------------------------------- reference
def _split(gates, count):
    """The ``count`` gate blocks of a (batch, count * H) tensor, differentiably."""
    size = gates.shape[1] // count
    return [gates[:, k * size : (k + 1) * size] for k in range(count)]


def rnn_step_reference(x_proj, h, w_hh, b_hh=None, nonlinearity="tanh"):
    """``rnn_step`` from small ops."""
    pre = x_proj + linear(h, w_hh, b_hh)
    return tanh(pre) if nonlinearity == "tanh" else relu(pre)


def lstm_step_reference(x_proj, h, c, w_hh, b_hh=None):
    """``lstm_step`` from small ops."""
    i, f, g, o = _split(x_proj + linear(h, w_hh, b_hh), 4)
    c_new = sigmoid(f) * c + sigmoid(i) * tanh(g)
    return sigmoid(o) * tanh(c_new), c_new


def lstm_sequence_reference(x, h, c, w_ih, w_hh, bias=None, reverse=False):
    """``lstm_sequence`` from small ops: the input projection, then ``lstm_step_reference`` at
    every step."""
    def step(x_t, state):
        return lstm_step_reference(x_t, *state, w_hh, bias)

    outputs, (h, c) = _run_steps(step, linear(x, w_ih), (h, c), reverse)
    return outputs, h, c


def gru_sequence_reference(x, h, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
    """``gru_sequence`` from small ops: the input projection, then ``gru_step_reference`` at
    every step."""
    def step(x_t, state):
        return (gru_step_reference(x_t, *state, w_hh, b_hh),)

    outputs, (h,) = _run_steps(step, linear(x, w_ih, b_ih), (h,), reverse)
    return outputs, h


def _run_steps(step, x_proj, state, reverse):
    """``state = step(x_proj[t], state)`` over the steps (backwards when ``reverse``); returns
    the states' first parts h_t stacked in time order, and the last state."""
    steps = range(x_proj.shape[0])
    outputs = {}
    for t in reversed(steps) if reverse else steps:
        state = step(x_proj[t], state)
        outputs[t] = state[0]
    return stack([outputs[t] for t in steps]), state


def gru_step_reference(x_proj, h, w_hh, b_hh=None):
    """``gru_step`` from small ops."""
    x_r, x_z, x_n = _split(x_proj, 3)
    h_r, h_z, h_n = _split(linear(h, w_hh, b_hh), 3)
    r, z = sigmoid(x_r + h_r), sigmoid(x_z + h_z)
    n = tanh(x_n + r * h_n)
    return (1 - z) * n + z * h
