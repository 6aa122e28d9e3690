"""A CPU kernel for the LSTM's elementwise backward: the gradients through every gate and the cell
update in one pass over the (batch, 4 * H) gate array.

NumPy needs a dozen passes (and temporaries) for the same arithmetic; on the small arrays of a
recurrent step those passes cost more than the matrix products.  ``minidl.ops.recurrent.LSTMStep``
uses it on NumPy arrays and its array-module code (the readable twin) on CuPy arrays.  (The
forward stays in NumPy: its vectorized exp and tanh beat scalar calls in a compiled loop.)
Gate blocks are PyTorch's: i, f, g, o, each H columns wide.
"""
from numba import njit


@njit(cache=True)
def lstm_gates_backward(gates, c, tanh_c, grad_h, grad_c, d_gates, grad_c_prev):
    """With the activated ``gates`` (i, f, g, o) and g_h, g_c the gradients of h', c':
    dc' = g_c + g_h o (1 - tanh_c^2);  d_gates = [dc' g i(1-i), dc' c f(1-f), dc' i (1-g^2),
    g_h tanh_c o(1-o)] (the pre-activations' gradients);  grad_c_prev = dc' f."""
    batch, hidden = c.shape
    for b in range(batch):
        for k in range(hidden):
            i, f = gates[b, k], gates[b, hidden + k]
            g, o = gates[b, 2 * hidden + k], gates[b, 3 * hidden + k]
            tc = tanh_c[b, k]
            d_cell = grad_c[b, k] + grad_h[b, k] * o * (1 - tc * tc)
            d_gates[b, k] = d_cell * g * i * (1 - i)
            d_gates[b, hidden + k] = d_cell * c[b, k] * f * (1 - f)
            d_gates[b, 2 * hidden + k] = d_cell * i * (1 - g * g)
            d_gates[b, 3 * hidden + k] = grad_h[b, k] * tc * o * (1 - o)
            grad_c_prev[b, k] = d_cell * f
