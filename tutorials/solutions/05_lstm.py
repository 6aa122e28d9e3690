"""Solutions to the exercises of tutorial 05 (tutorials/05_lstm.py): try them first.

Run from the repository root, `python tutorials/solutions/05_lstm.py` checks every checked
solution with `md.testing.check_exercise` (and the parameter count of exercise 2 against nn.LSTM).
"""
import minidl as md
from minidl import nn


# Exercise 1, an LSTM step by hand: one product per weight matrix gives all four gates' inputs,
# (batch, 4H); cut them into the blocks i, f, g, o of H columns each and apply the equations.
def lstm_step(x, h, c, cell):
    H = cell.hidden_size
    gates = x @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
    i = md.sigmoid(gates[:, 0 * H : 1 * H])
    f = md.sigmoid(gates[:, 1 * H : 2 * H])
    g = md.tanh(gates[:, 2 * H : 3 * H])
    o = md.sigmoid(gates[:, 3 * H : 4 * H])
    c = f * c + i * g
    h = o * md.tanh(c)
    return h, c, {"i": i, "f": f, "g": g, "o": o}


# Exercise 2, count the weights: each of the 4 gates has H x E input weights, H x H hidden
# weights and two bias vectors of H, so 4H(E + H) + 8H; nn.LSTM(32, 64) has 25,088.
def lstm_parameter_count(E, H):
    return 4 * H * (E + H) + 8 * H


# Exercise 3, a GRU step by hand: split both products into their blocks r, z, n, and apply r to
# the whole hidden part of n, bias included.
def gru_step(x, h, cell):
    size = cell.hidden_size
    from_x = x @ cell.weight_ih.T + cell.bias_ih
    from_h = h @ cell.weight_hh.T + cell.bias_hh
    r = md.sigmoid(from_x[:, :size] + from_h[:, :size])
    z = md.sigmoid(from_x[:, size : 2 * size] + from_h[:, size : 2 * size])
    n = md.tanh(from_x[:, 2 * size :] + r * from_h[:, 2 * size :])
    return (1 - z) * n + z * h


# Exercise 4, open the forget gate: add 1 to the forget block of one of the two biases (their sum
# is what counts), outside the graph. Then, in section 3 of the tutorial:
#
#     forget_norms, _ = gradient_by_distance(lambda: make_lstm(SIZE))
#     print(f"per step: {per_step_factor(forget_norms):.2f}; at distance {DISTANCE}: {forget_norms[DISTANCE]:.3e}")
#     print(f"forget gate mean: {lstm_gates(make_lstm(SIZE), x.numpy())['f'].mean():.2f}")
#     ax.semilogy(forget_norms, "^-", markersize=3, label="LSTM, forget bias + 1")  # before md.viz.show
#
# prints a factor of 0.81 per step (0.61 with PyTorch's initialization), 1.3e-03 at distance 30
# (2.0e-07 before: 6000 times more; the tanh RNN's is 2.3e-10), and a forget gate mean of 0.72.
def make_lstm(size):
    lstm = nn.LSTM(size, size)
    with md.no_grad():
        lstm.bias_ih_l0[size : 2 * size] += 1  # the blocks are i, f, g, o: f is the second
    return lstm


# Exercise 5, how far back truncation reaches: set TRUNCATE = k in section 1 and rerun its cell.
# The state is detached before steps 1, k + 1, 2k + 1, ..., so only the inputs after the last cut
# get a gradient, with exactly full BPTT's values: the last 1 for k = 1, 2 for k = 5 (cuts before
# steps 1, 6, 11), 6 for k = 6, 12 for k = 12 (full BPTT). The change in dL/dW_hh follows the
# length of that last piece, not k: 49%, 30%, 0.3% and 0%.

CHECKED = {"lstm_cell": lstm_step, "gru_step": gru_step}

if __name__ == "__main__":
    for name, solution in CHECKED.items():
        assert md.testing.check_exercise(name, solution), name
    for E, H in [(32, 64), (3, 5), (100, 1)]:
        assert lstm_parameter_count(E, H) == sum(p.numel() for p in nn.LSTM(E, H).parameters())
    print("exercise 2: correct! (nn.LSTM(32, 64) has", lstm_parameter_count(32, 64), "parameters)")
