"""CPU kernels for the LSTM's and the GRU's elementwise work: the gate activations and state
update of a step (float32) and the gradients through them, each in one pass over the step's
(batch, gates * H) gate array.

NumPy needs a dozen passes (and temporaries) for the same arithmetic; on the small arrays of a
recurrent step those passes cost more than the matrix products.  A call of expf or tanhf per
element would keep a loop from running on vector instructions, so the forward computes both from
plain arithmetic: e^x as 2^k e^r (Cephes' float32 polynomial; within 1 ulp, and relative to tiny
results of saturated gates too), tanh as a rational function (within 6 ulp).
``minidl.ops.recurrent`` uses these on NumPy arrays and its array-module code (the readable twin)
on CuPy arrays (and on float64 arrays, forward).  Gate blocks are PyTorch's: i, f, g, o for the
LSTM, r, z, n for the GRU, each H columns wide.

``error_model="numpy"`` lets a division by zero give inf instead of raising (Python's rule, which
keeps LLVM from vectorizing a loop that divides); ``fastmath={"contract"}`` lets it fuse a * b + c
into one FMA instruction.  Neither changes results beyond rounding.
"""
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

_f32 = np.float32
ONE, TANH_CLAMP = _f32(1.0), _f32(9.0)
# The 13/6-degree rational interpolant of tanh on [-9, 9] that Eigen uses for float32 (outside, tanh
# is +-1 to float32 precision): tanh(x) ~ x P(x^2) / Q(x^2), coefficients lowest degree first.
P1, P3, P5, P7 = _f32(4.89352455891786e-03), _f32(6.37261928875436e-04), _f32(1.48572235717979e-05), _f32(5.12229709037114e-08)
P9, P11, P13 = _f32(-8.60467152213735e-11), _f32(2.00018790482477e-13), _f32(-2.76076847742355e-16)
Q0, Q2, Q4, Q6 = _f32(4.89352518554385e-03), _f32(2.26843463243900e-03), _f32(1.18534705686654e-04), _f32(1.19825839466702e-06)


# e^x = 2^k e^r with k = round(x / ln 2) and r = x - k ln 2 (ln 2 in two parts, so r is exact), and
# e^r = 1 + r + r^2 E(r) on |r| <= ln 2 / 2: Cephes' expf.  x is clamped so that 2^k stays a normal
# float32: e^88 = 1.7e38, e^-87 = 1.6e-38.
LOG2E, LN2_HIGH, LN2_LOW = _f32(1.44269504088896341), _f32(0.693359375), _f32(-2.12194440e-4)
ROUNDER = _f32(12582912.0)  # 1.5 * 2^23: (y + ROUNDER) - ROUNDER is y rounded to an integer
EXP_MIN, EXP_MAX = _f32(-87.0), _f32(88.0)
E0, E1, E2 = _f32(5.0000001201e-1), _f32(1.6666665459e-1), _f32(4.1665795894e-2)
E3, E4, E5 = _f32(8.3334519073e-3), _f32(1.3981999507e-3), _f32(1.9875691500e-4)


@intrinsic
def float32_from_bits(typingctx, bits):
    """The float32 whose IEEE-754 bits are the int32 ``bits`` (a bitcast: 2^k is (k + 127) << 23)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


@njit(inline="always", error_model="numpy", fastmath={"contract"})
def exp_float32(x):
    """e^x for a float32 x, within 1 ulp (tested) for -87 <= x <= 88; clamped outside, NaN stays NaN."""
    clamped = min(max(x, EXP_MIN), EXP_MAX)
    k = (clamped * LOG2E + ROUNDER) - ROUNDER
    r = clamped - k * LN2_HIGH - k * LN2_LOW
    e_r = ((((((E5 * r + E4) * r + E3) * r + E2) * r + E1) * r + E0) * r) * r + r + ONE
    power_of_two = float32_from_bits((np.int32(k) + np.int32(127)) << np.int32(23))
    return e_r * power_of_two if x == x else x


@njit(inline="always", error_model="numpy", fastmath={"contract"})
def sigmoid_float32(a):
    """1 / (1 + e^-a): within 4 ulp wherever the result is a normal float32 (tested)."""
    return ONE / (ONE + exp_float32(-a))


@njit(inline="always", error_model="numpy", fastmath={"contract"})
def tanh_float32(x):
    """tanh(x) for a float32 x as x P(x^2) / Q(x^2) (within 6 ulp of the exact value, tested): plain
    arithmetic, so a loop of it runs on vector instructions, unlike a call of tanhf per element."""
    x = min(max(x, -TANH_CLAMP), TANH_CLAMP)
    x2 = x * x
    p = ((((((P13 * x2 + P11) * x2 + P9) * x2 + P7) * x2 + P5) * x2 + P3) * x2 + P1) * x
    q = ((Q6 * x2 + Q4) * x2 + Q2) * x2 + Q0
    return min(max(p / q, -ONE), ONE)  # near the clamp the quotient can round to just above 1


@njit(inline="always", error_model="numpy", fastmath={"contract"})
def sigmoid_in_place(pre, addend, bias):
    """pre = sigmoid(pre + addend + bias), elementwise over 1-D arrays."""
    for k in range(pre.size):
        pre[k] = sigmoid_float32(pre[k] + addend[k] + bias[k])


@njit(inline="always", error_model="numpy", fastmath={"contract"})
def tanh_in_place(pre, addend, bias):
    """pre = tanh(pre + addend + bias), elementwise over 1-D arrays."""
    for k in range(pre.size):
        pre[k] = tanh_float32(pre[k] + addend[k] + bias[k])


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def lstm_gates_forward_float32(gates, addend, bias, c, c_new, tanh_c, h_new):
    """With the pre-activations a = ``gates`` + ``addend`` + ``bias`` (one step's two matrix
    products, x W_ih^T and h W_hh^T, and the biases): i, f, o = sigmoid(a) and g = tanh(a),
    written over ``gates``; then c' = f c + i g, tanh_c = tanh(c'), h' = o tanh_c (all float32)."""
    batch, width = gates.shape
    hidden = width // 4
    sig, tan, out_gate = slice(0, 2 * hidden), slice(2 * hidden, 3 * hidden), slice(3 * hidden, width)
    for b in range(batch):
        # a plain loop per block (i and f; g; o), each over views starting at 0: those vectorize
        # (indexing one row from 2 H to 3 H in the same loops ran 4x slower, measured)
        row, extra = gates[b], addend[b]
        sigmoid_in_place(row[sig], extra[sig], bias[sig])
        tanh_in_place(row[tan], extra[tan], bias[tan])
        sigmoid_in_place(row[out_gate], extra[out_gate], bias[out_gate])
        i, f, g, o = row[:hidden], row[hidden : 2 * hidden], row[tan], row[out_gate]
        cell, cell_new, tanh_cell, h_row = c[b], c_new[b], tanh_c[b], h_new[b]
        for k in range(hidden):
            cell_new[k] = f[k] * cell[k] + i[k] * g[k]
            tanh_cell[k] = tanh_float32(cell_new[k])
            h_row[k] = o[k] * tanh_cell[k]


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def lstm_gates_backward(gates, c, tanh_c, grad_h, grad_c, d_gates, grad_c_prev):
    """With the activated ``gates`` (i, f, g, o) and g_h, g_c the gradients of h', c':
    dc' = g_c + g_h o (1 - tanh_c^2);  d_gates = [dc' g i(1-i), dc' c f(1-f), dc' i (1-g^2),
    g_h tanh_c o(1-o)] (the pre-activations' gradients);  grad_c_prev = dc' f.
    One loop per row, over views of the blocks that start at 0 (such loops vectorize)."""
    batch, hidden = c.shape
    one = gates.dtype.type(1)
    for b in range(batch):
        row, d_row = gates[b], d_gates[b]
        i, f, g, o = row[:hidden], row[hidden : 2 * hidden], row[2 * hidden : 3 * hidden], row[3 * hidden :]
        d_i, d_f, d_g, d_o = d_row[:hidden], d_row[hidden : 2 * hidden], d_row[2 * hidden : 3 * hidden], d_row[3 * hidden :]
        cell, tanh_cell, g_h, g_c, out = c[b], tanh_c[b], grad_h[b], grad_c[b], grad_c_prev[b]
        for k in range(hidden):
            d_cell = g_c[k] + g_h[k] * o[k] * (one - tanh_cell[k] * tanh_cell[k])
            d_i[k] = d_cell * g[k] * i[k] * (one - i[k])
            d_f[k] = d_cell * cell[k] * f[k] * (one - f[k])
            d_g[k] = d_cell * i[k] * (one - g[k] * g[k])
            d_o[k] = g_h[k] * tanh_cell[k] * o[k] * (one - o[k])
            out[k] = d_cell * f[k]


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def gru_gates_forward_float32(gates, hidden, bias_ih, bias_hh, h, h_new, hidden_n):
    """A GRU step (gate blocks r, z, n) from ``gates`` = x W_ih^T and ``hidden`` = h W_hh^T:
    r, z = sigmoid(gates + hidden + b_ih + b_hh) and n = tanh(x_n + b_in + r h_n), with
    h_n = hidden_n + b_hn written into ``hidden_n``; r, z, n are written over ``gates`` and
    h' = n + z (h - n) into ``h_new`` (all float32)."""
    batch, width = gates.shape
    hidden_size = width // 3
    rz, new = slice(0, 2 * hidden_size), slice(2 * hidden_size, width)
    b_rz_in, b_rz_h, b_n_in, b_n_h = bias_ih[rz], bias_hh[rz], bias_ih[new], bias_hh[new]
    for b in range(batch):
        row, extra = gates[b], hidden[b]
        r_and_z, x_rz = row[rz], extra[rz]
        for k in range(2 * hidden_size):
            r_and_z[k] = sigmoid_float32(r_and_z[k] + x_rz[k] + b_rz_in[k] + b_rz_h[k])
        r, z, n = row[:hidden_size], row[hidden_size : 2 * hidden_size], row[new]
        h_n, from_h, h_row, h_out = hidden_n[b], extra[new], h[b], h_new[b]
        for k in range(hidden_size):
            h_n[k] = from_h[k] + b_n_h[k]
            n[k] = tanh_float32(n[k] + b_n_in[k] + r[k] * h_n[k])
            h_out[k] = n[k] + z[k] * (h_row[k] - n[k])


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def gru_gates_backward(gates, hidden_n, h, grad_h, d_x, d_hidden, grad_h_direct):
    """With the activated ``gates`` (r, z, n), h_n = h W_hn^T + b_hn, the step's input state h and
    g the gradient of h':  dn = g (1 - z)(1 - n^2),  dz = g (h - n) z (1 - z),
    dr = dn h_n r (1 - r);  d_x = [dr, dz, dn] (the gradient of x W_ih^T + b_ih),
    d_hidden = [dr, dz, dn r] (of h W_hh^T + b_hh),  grad_h_direct = g z (the part of dh that does
    not go through W_hh).  One loop per row, over views of the blocks that start at 0."""
    batch, hidden_size = h.shape
    one = gates.dtype.type(1)
    for b in range(batch):
        row, dx_row, dh_row = gates[b], d_x[b], d_hidden[b]
        r, z, n = row[:hidden_size], row[hidden_size : 2 * hidden_size], row[2 * hidden_size :]
        d_r, d_z, d_n = dx_row[:hidden_size], dx_row[hidden_size : 2 * hidden_size], dx_row[2 * hidden_size :]
        dh_r, dh_z, dh_n = dh_row[:hidden_size], dh_row[hidden_size : 2 * hidden_size], dh_row[2 * hidden_size :]
        h_n, h_row, g, direct = hidden_n[b], h[b], grad_h[b], grad_h_direct[b]
        for k in range(hidden_size):
            d_new = g[k] * (one - z[k]) * (one - n[k] * n[k])
            d_reset = d_new * h_n[k] * r[k] * (one - r[k])
            d_update = g[k] * (h_row[k] - n[k]) * z[k] * (one - z[k])
            d_r[k], d_z[k], d_n[k] = d_reset, d_update, d_new
            dh_r[k], dh_z[k], dh_n[k] = d_reset, d_update, d_new * r[k]
            direct[k] = g[k] * z[k]
