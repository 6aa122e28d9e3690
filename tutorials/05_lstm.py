# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Recurrent networks: backpropagation through time, the LSTM, and a model that reads reviews
#
# A recurrent network reads a sequence one element at a time and carries a *state* from step to
# step. Training it is ordinary backpropagation on the unrolled loop, called *backpropagation
# through time* (BPTT). In this tutorial we:
#
# 1. unroll a plain tanh RNN, write its backward pass by hand, and cut it short (truncated BPTT);
# 2. meet the LSTM cell and its gates, and write one LSTM step yourself (exercise 1);
# 3. measure how the gradient that reaches an input shrinks with its distance from the output,
#    for a tanh RNN and for an LSTM: the reason gates exist;
# 4. see why minidl computes a whole LSTM step as one fused operation, and check that operation's
#    backward with central differences in float64;
# 5. train an Embedding → LSTM → Linear → sigmoid classifier on a synthetic task that needs word
#    order and on real movie reviews, and look at the trained model's gates while it reads a review.
#
# Run it from the repository root as a script (`python tutorials/05_lstm.py`), or open
# `tutorials/05_lstm.ipynb` in Jupyter, VS Code or Colab. As a script, figures are saved to
# `figures/` (or `$MINIDL_FIGURES`); in a notebook they appear inline. Set `MINIDL_FAST=1` for a
# quick run on less data, and `MINIDL_DEVICE=cuda` to train the classifiers on a GPU (with CuPy
# installed); the small experiments of sections 1 to 4 stay on the CPU. The full run takes about a
# minute on a laptop's CPU, most of it training; the fast one about ten seconds.

# %%
import collections
import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import minidl as md
import minidl.functional as F
from minidl import nn
from minidl.data import Vocabulary, batches_by_length, load_sentence_polarity, pad_sequences, tokenize
from minidl.ops import recurrent as ops  # ops.lstm_step: the fused step; ops.lstm_step_reference: from small ops

FAST = os.environ.get("MINIDL_FAST") == "1"  # CI runs the tutorials in a fast mode: less data, fewer epochs
DEVICE = os.environ.get("MINIDL_DEVICE", "cpu")  # "cuda" trains the classifiers on a GPU (CuPy)
MOVIE_REVIEWS = Path(os.environ.get("MINIDL_MOVIE_REVIEWS", "../shared/data/text/mr"))  # from the repository root


def heading(title):
    """Mark the start of a section in the printed output."""
    print(f"\n=== {title} ===")


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


# %% [markdown]
# ## 1. A plain RNN and backpropagation through time
#
# The simplest recurrent cell (Elman's) mixes the input and the previous state and squashes them:
#
# $$h_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}), \qquad h_0 = 0.$$
#
# `nn.RNNCell` is one such step; calling it in a loop *unrolls* the network into a chain of $T$
# steps that all share the same weights. `nn.RNN` runs the same loop over a whole sequence (its
# parameters carry the suffix `_l0`, "layer 0"). A cell with 3 inputs and 5 hidden units, and one
# random sequence of $T = 12$ inputs:

# %%
heading("1. A plain RNN and backpropagation through time")
md.manual_seed(0)
INPUT, HIDDEN, STEPS = 3, 5, 12
rnn_cell = nn.RNNCell(INPUT, HIDDEN)  # tanh; weights uniform in (-1/sqrt(H), 1/sqrt(H)), as in PyTorch
xs = md.randn(STEPS, 1, INPUT, requires_grad=True)  # (steps, batch=1, input)


def unroll(cell, xs, truncate_every=None):
    """The hidden states of ``cell`` reading ``xs`` (steps, batch, input) from h_0 = 0.  With
    ``truncate_every=k`` the state is detached before every k-th step: truncated BPTT."""
    h, states = md.zeros(xs.shape[1], cell.hidden_size), []
    for t, x in enumerate(xs):  # iterating a tensor gives xs[0], xs[1], ...
        if truncate_every and t % truncate_every == 0:
            h = h.detach()
        h = cell(x, h)
        states.append(h)
    return states


states = unroll(rnn_cell, xs)
rnn = nn.RNN(INPUT, HIDDEN)
rnn.load_state_dict({f"{name}_l0": value for name, value in rnn_cell.state_dict().items()})
output, h_n = rnn(xs)
print("h_T, unrolled RNNCell:", states[-1].detach().numpy().round(4))
print("h_T, nn.RNN          :", h_n[0].detach().numpy().round(4))
assert np.allclose(states[-1].detach().numpy(), h_n[0].detach().numpy(), atol=1e-6)

# %% [markdown]
# Take as loss a fixed random projection of the last state, $L = r \cdot h_T$, and ask how it
# depends on each input $x_t$. The chain rule walks back along the chain of states:
#
# $$
# \frac{\partial L}{\partial x_t} = r^\top \Big(\prod_{k=T}^{t+1} \frac{\partial h_k}{\partial h_{k-1}}\Big)
# \frac{\partial h_t}{\partial x_t}, \qquad
# \frac{\partial h_k}{\partial h_{k-1}} = \operatorname{diag}(1 - h_k^2)\, W_{hh}, \qquad
# \frac{\partial h_t}{\partial x_t} = \operatorname{diag}(1 - h_t^2)\, W_{ih}.
# $$
#
# That is all BPTT is: `backward()` on the unrolled graph. Below, the same walk in five lines of
# NumPy, carrying $\bar h = \partial L / \partial h_t$ from $t = T$ down to 1, against autograd.

# %%
r = md.randn(1, HIDDEN)
(states[-1] * r).sum().backward()
full_bptt = np.linalg.norm(xs.grad.numpy()[:, 0], axis=1)  # ||dL/dx_t|| for t = 1..T

w_ih, w_hh = rnn_cell.weight_ih.detach().numpy(), rnn_cell.weight_hh.detach().numpy()
h_bar, by_hand = r.numpy(), np.zeros((STEPS, INPUT))
for t in reversed(range(STEPS)):
    pre_bar = h_bar * (1 - states[t].detach().numpy() ** 2)  # through tanh: dL/d(pre-activation of step t)
    by_hand[t] = pre_bar @ w_ih  # dL/dx_t
    h_bar = pre_bar @ w_hh  # dL/dh_{t-1}
print(f"dL/dx_t by hand vs backward(): max difference {np.abs(by_hand - xs.grad.numpy()[:, 0]).max():.1e}")
grad_w_hh = rnn_cell.weight_hh.grad.numpy().copy()  # the sum of W_hh's contributions from all 12 steps

# %% [markdown]
# **Truncated BPTT.** The backward pass must keep every step's activations, and a stream of text
# or audio can be millions of steps long. Truncated BPTT *detaches* the state every $k$ steps: the
# forward values are unchanged (the state still carries information forward), but no gradient flows
# past a cut, so backward keeps at most $k$ steps. With $k = 4$ only the last 4 inputs get a gradient:

# %%
TRUNCATE = 4
xs.grad = None
rnn_cell.zero_grad()
truncated_states = unroll(rnn_cell, xs, truncate_every=TRUNCATE)
(truncated_states[-1] * r).sum().backward()
truncated_bptt = np.linalg.norm(xs.grad.numpy()[:, 0], axis=1)
print("same forward values:", np.array_equal(truncated_states[-1].detach().numpy(), states[-1].detach().numpy()))
print(f"{'t':>3} {'distance T-t':>13} {'full BPTT':>10} {f'truncated, k={TRUNCATE}':>16}")
for t in range(STEPS):
    print(f"{t + 1:3d} {STEPS - 1 - t:13d} {full_bptt[t]:10.2e} {truncated_bptt[t]:16.2e}")
shrink = full_bptt[-1] / full_bptt[0]  # distance 0 over distance T - 1
print(f"full BPTT: the gradient at distance {STEPS - 1} is {shrink:.0f} times smaller than at distance 0")
change = np.linalg.norm(rnn_cell.weight_hh.grad.numpy() - grad_w_hh) / np.linalg.norm(grad_w_hh)
print(f"dL/dW_hh changes by {100 * change:.1f}% when truncated")

# %% [markdown]
# Two things to read off the table. Past the last cut the gradient is exactly zero: a truncated
# network cannot learn that an output depends on an input more than $k$ steps back. And even
# without truncation the gradient shrinks by a large factor with every step back, so the steps
# that truncation drops carried little anyway: the gradient of $W_{hh}$, a sum over all steps,
# changes by a few percent. That shrinking is the real limit of the plain RNN; section 3 measures it.

# %% [markdown]
# ## 2. The LSTM cell
#
# The long short-term memory (LSTM) cell keeps two states: a hidden state $h$ (its output) and a
# cell state $c$ (its memory). At every step four *gates* are computed from the input $x_t$ and the
# previous hidden state, each a vector of $H$ numbers:
#
# $$
# \begin{aligned}
# i &= \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) && \text{input gate: how much to write}\\
# f &= \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) && \text{forget gate: how much to keep}\\
# g &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) && \text{candidate: what to write}\\
# o &= \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) && \text{output gate: how much to show}\\
# c_t &= f \odot c_{t-1} + i \odot g, \qquad h_t = o \odot \tanh(c_t)
# \end{aligned}
# $$
#
# The sigmoid gates $i, f, o$ lie in $(0, 1)$: they are soft switches. $g$ and $h$ lie in
# $(-1, 1)$. The cell state is a running sum: when $f \approx 1$ and $i \approx 0$, $c$ is copied
# forward unchanged, and so is its gradient: along the cell state,
# $\partial c_t / \partial c_{t-1} = \operatorname{diag}(f)$, with no weight matrix and no squashing in between.
#
# PyTorch (and minidl) stack the four weight matrices into one: `weight_ih` is $(4H, \text{input})$
# and `weight_hh` is $(4H, H)$, blocks in the order $i, f, g, o$; likewise the two biases of $4H$.
# One matrix product then gives all four gates at once.

# %%
heading("2. The LSTM cell")
md.manual_seed(0)
cell = nn.LSTMCell(INPUT, HIDDEN)
for name, param in cell.named_parameters():
    print(f"{name:10s} {param.shape}")
three_steps = md.tensor([[[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]], [[0.0, 0.0, 1.0]]])  # (steps, batch=1, input)
h_cell, c_cell = md.zeros(1, HIDDEN), md.zeros(1, HIDDEN)
for x in three_steps:
    h_cell, c_cell = cell(x, (h_cell, c_cell))
lstm = nn.LSTM(INPUT, HIDDEN)
lstm.load_state_dict({f"{name}_l0": value for name, value in cell.state_dict().items()})
output, (h_n, c_n) = lstm(three_steps)
print("h after 3 steps, LSTMCell:", h_cell.detach().numpy().round(4))
print("h after 3 steps, LSTM    :", h_n[0].detach().numpy().round(4))
print("output shape", output.shape, "(steps, batch, hidden); output[-1] is h_n[0]")

# %% [markdown]
# Backpropagation through time, clicked through: the three steps of the cell, each a box (click
# to open it), and the weights outside the boxes, which collect a gradient contribution from
# every step, added up as they arrive.

# %%
with md.viz.record_forward():
    h_page, c_page = md.zeros(1, HIDDEN), md.zeros(1, HIDDEN)
    for x in three_steps:
        h_page, c_page = cell(x, (h_page, c_page))
cell.zero_grad()
md.viz.show(md.viz.backprop_page(h_page.sum(), model=cell), "05_backprop.html")
cell.zero_grad()

# %% [markdown]
# **Exercise 1, an LSTM step by hand.** Write `lstm_step(x, h, c, cell)` for an `nn.LSTMCell`
# `cell` and a batch `x` (batch, input), `h` and `c` (batch, $H$): compute all four gates' inputs
# with one matrix product per weight (`x @ cell.weight_ih.T + cell.bias_ih + ...`), cut them into
# the blocks $i, f, g, o$ of $H$ columns each (`gates[:, 0:H]`, ...), and apply the equations with
# `md.sigmoid` and `md.tanh`. Return `(h', c')`; you may return the gates too, as a third item, to
# look at them. `check_exercise` runs your step and `nn.LSTMCell` on the same random inputs and
# weights. (Put the blocks in the wrong order and see what it says.)

# %%
def lstm_step(x, h, c, cell):
    raise NotImplementedError("exercise 1: return (h', c') for nn.LSTMCell ``cell``")


md.testing.check_exercise("lstm_cell", lstm_step)

# %% [markdown]
# ## 3. Why gates: the gradient over distance
#
# In section 1 the RNN's gradient became 40,000 times smaller over 11 steps back. Each step
# multiplies it by $\operatorname{diag}(1 - h_k^2) W_{hh}$: PyTorch's default initialization draws
# the entries of $W_{hh}$ uniformly from $(-1/\sqrt H, 1/\sqrt H)$, so for large $H$ its largest
# eigenvalue is about $1/\sqrt 3 \approx 0.58$ in size, and $1 - h^2 \le 1$ only shrinks it further. The LSTM's cell
# state takes a path with no matrix on it, multiplied at each step by the forget gate alone.
#
# The experiment: an `nn.RNN` (tanh) and an `nn.LSTM`, both with 64 inputs and 64 hidden units, as
# in the classifier of section 6, both with PyTorch's default initialization, untrained; inputs
# drawn from $N(0, 1)$, like the vectors of a fresh `nn.Embedding`; sequences of 50 steps, the
# longest the classifier reads. For each we take $L = r \cdot h_T$ with a random $r$ and measure
# $\lVert \partial L / \partial x_t \rVert$, averaged over 8 sequences for each of 4
# initializations (seeds 0-3; both networks see the same sequences and the same $r$).

# %%
heading("3. Why gates: the gradient over distance")
SEQ_LEN, SIZE, BATCH, INITS = 50, 64, 8, 4


def gradient_by_distance(make_layer):
    """Mean ||dL/dx_t|| for L = r . h_T, indexed by the distance T - t; also the layers made."""
    norms, layers = [], []
    for seed in range(INITS):
        md.manual_seed(seed)
        x = md.randn(SEQ_LEN, BATCH, SIZE, requires_grad=True)
        r = md.randn(BATCH, SIZE)
        layers.append(make_layer())
        output, _ = layers[-1](x)
        (output[-1] * r).sum().backward()
        norms.append(np.linalg.norm(x.grad.numpy(), axis=2))  # (steps, batch)
    return np.concatenate(norms, axis=1).mean(axis=1)[::-1], layers


def per_step_factor(norms, start=10, stop=40):
    """The factor by which the gradient shrinks per step: the slope of log(norm) against distance."""
    distances = np.arange(start, stop + 1)
    return np.exp(np.polyfit(distances, np.log(norms[distances]), 1)[0])


rnn_norms, rnns = gradient_by_distance(lambda: nn.RNN(SIZE, SIZE))
lstm_norms, lstms = gradient_by_distance(lambda: nn.LSTM(SIZE, SIZE))
eigenvalue = np.abs(np.linalg.eigvals(rnns[0].weight_hh_l0.detach().numpy())).max()
print(f"largest |eigenvalue| of the RNN's W_hh: {eigenvalue:.2f} (1/sqrt(3) = {1 / np.sqrt(3):.2f})")
print(f"per step back the gradient shrinks by a factor {per_step_factor(rnn_norms):.2f} (tanh RNN), "
      f"{per_step_factor(lstm_norms):.2f} (LSTM)")  # fmt: skip
DISTANCE = 30
print(f"gradient norm at distance {DISTANCE}: tanh RNN {rnn_norms[DISTANCE]:.3e}, LSTM {lstm_norms[DISTANCE]:.3e}")

fig, ax = plt.subplots(figsize=(6.5, 4))
ax.semilogy(rnn_norms, "o-", markersize=3, label="tanh RNN")
ax.semilogy(lstm_norms, "s-", markersize=3, label="LSTM")
ax.set(xlabel="distance T - t (steps between input and output)", ylabel=r"$\|\partial L / \partial x_t\|$",
       title="Gradient reaching an input, untrained networks (64 units)")  # fmt: skip
ax.grid(alpha=0.3, which="both")
ax.legend()
md.viz.show(fig, "05_gradient_vs_distance.png")

# %% [markdown]
# Both lines are straight on the log axis: the gradient decays *geometrically*, by a constant
# factor per step. Near the output the RNN's gradient is the larger one (the LSTM's output and
# input gates, about 0.5 each, scale it down), but it falls faster, and the gap grows
# exponentially: at distance 30 the LSTM passes almost a thousand times more gradient, and a tanh
# RNN will hardly learn from an input 30 words back. The LSTM's factor comes mostly from its forget
# gates, which in an untrained network sit near $\sigma(0) = 0.5$:

# %%
def lstm_gates(lstm, x):
    """Every gate of a one-layer ``nn.LSTM`` reading ``x`` (steps, batch, input), in NumPy:
    ``{"i", "f", "g", "o", "c", "h": array (steps, batch, H)}``.  (Exercise 1, in NumPy.)"""
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    w_ih, w_hh, b_ih, b_hh = (getattr(lstm, f"{name}_l0").detach().numpy() for name in names)
    h = c = np.zeros((x.shape[1], lstm.hidden_size))
    steps = collections.defaultdict(list)
    for x_t in x:
        i, f, g, o = np.split(x_t @ w_ih.T + b_ih + h @ w_hh.T + b_hh, 4, axis=1)
        i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
        c = f * c + i * g
        h = o * np.tanh(c)
        for name, value in zip("ifgoch", (i, f, g, o, c, h)):
            steps[name].append(value)
    return {name: np.stack(values) for name, values in steps.items()}


md.manual_seed(0)
x = md.randn(SEQ_LEN, BATCH, SIZE)
gates = lstm_gates(lstms[0], x.numpy())
assert np.allclose(gates["h"], lstms[0](x)[0].detach().numpy(), atol=1e-5)  # the NumPy gates are nn.LSTM's
print(f"untrained LSTM: forget gate mean {gates['f'].mean():.2f}, 10-90% range "
      f"{np.percentile(gates['f'], 10):.2f}-{np.percentile(gates['f'], 90):.2f}")  # fmt: skip

# %% [markdown]
# A gradient that must travel 30 steps through $f \approx 0.5$ is still small. What the gate buys
# is that $f$ is *learned*, per unit and per step: a unit that must remember sets $f \approx 1$
# and keeps the path open, while an RNN has no such switch, since its factor per step is fixed by
# $W_{hh}$ and the saturation of $\tanh$. Exercise 4 opens the gates at initialization and
# measures what that does to this plot; section 7 looks at the forget gates of a trained model.

# %% [markdown]
# ## 4. Why one step is one operation
#
# Written with small operations, as in exercise 1, each step is about twenty of them, and
# autograd records a node for each: a sequence of 50 steps becomes 1000 nodes, and the engine
# spends more time walking them than computing. minidl keeps that plain version as
# `ops.lstm_step_reference` (`minidl/ops/recurrent.py`), but `LSTMCell` and `LSTM` call one *fused*
# operation per step, `ops.lstm_step`: its forward does the matrix product and all the gate functions,
# and its backward applies all their derivatives at once:
#
# $$
# \begin{aligned}
# \bar c_t &= \bar c_t^{\text{(from } t+1)} + \bar h_t \odot o \odot (1 - \tanh^2 c_t), \qquad
# \bar o = \bar h_t \odot \tanh c_t \\
# \bar i &= \bar c_t \odot g, \quad \bar f = \bar c_t \odot c_{t-1}, \quad \bar g = \bar c_t \odot i,
# \quad \bar c_{t-1} = \bar c_t \odot f
# \end{aligned}
# $$
#
# then through $\sigma' = \sigma (1 - \sigma)$ and $\tanh' = 1 - \tanh^2$ to the four gate
# pre-activations, and from there one matrix product each to $h_{t-1}$ and to `weight_hh`
# (a bar is a gradient of the loss). Both functions take the input's share of the gates,
# $x_t W_{ih}^\top + b_{ih}$, already computed: it does not depend on the previous step, so
# `nn.LSTM` computes it for all steps with one matrix product before the loop.
#
# A backward written by hand needs checking. We check `ops.lstm_step` the way tutorial 01 checked a
# single derivative: in float64, take $L = r_h \cdot h' + r_c \cdot c'$ with fixed random
# $r_h, r_c$, and compare every element of $\partial L / \partial(\text{each input})$ from
# `backward()` with the central difference $(L(v + \varepsilon) - L(v - \varepsilon)) / 2\varepsilon$.

# %%
heading("4. Why one step is one operation")


def max_gradient_error(fn, arrays, eps=1e-6, seed=0):
    """max |analytic - numerical| over every element of every input of ``fn`` (float64 arrays),
    for L = sum_k <fn(...)_k, r_k> with fixed random r_k; numerical: central differences."""
    leaves = [md.tensor(a, requires_grad=True) for a in arrays]
    outputs = fn(*leaves)
    weights = [np.random.default_rng(seed + k).standard_normal(o.shape) for k, o in enumerate(outputs)]
    sum((o * md.tensor(w)).sum() for o, w in zip(outputs, weights)).backward()

    def loss(values):
        with md.no_grad():
            return sum(float((o.numpy() * w).sum()) for o, w in zip(fn(*map(md.tensor, values)), weights))

    worst = 0.0
    for k, (array, leaf) in enumerate(zip(arrays, leaves)):
        for index in np.ndindex(array.shape):
            plus, minus = [a.copy() for a in arrays], [a.copy() for a in arrays]
            plus[k][index] += eps
            minus[k][index] -= eps
            numerical = (loss(plus) - loss(minus)) / (2 * eps)
            worst = max(worst, abs(leaf.grad.numpy()[index] - numerical))
    return worst


rng = np.random.default_rng(0)
H = 3  # x_proj (batch 2, 4H), h and c (2, H), weight_hh (4H, H), bias_hh (4H,): 84 numbers in all
step_inputs = [rng.standard_normal(shape) for shape in [(2, 4 * H), (2, H), (2, H), (4 * H, H), (4 * H,)]]
error = max_gradient_error(ops.lstm_step, step_inputs)
print(f"gradcheck of the fused LSTM step (float64): max error {error:.2e}")
step_leaves = [md.tensor(a, requires_grad=True) for a in step_inputs]
print("md.testing.gradcheck passes:", md.testing.gradcheck(ops.lstm_step, step_leaves))

# %% [markdown]
# The error is about $10^{-10}$: the rounding of float64 divided by $\varepsilon = 10^{-6}$, the
# floor tutorial 01 found. (`md.testing.gradcheck` does the same test, with a tolerance, for any
# function; use it on your own operations.) Now count the nodes of three steps both ways, check
# that they give the same gradients, and time 50 steps.

# %%
def count_nodes(tensor):
    """How many graph nodes of each kind lead to ``tensor``."""
    seen, stack = set(), [tensor.grad_fn]
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(node.parents)
    return collections.Counter(node.name for node in seen)


def run_steps(step, cell, inputs):
    """The last h of ``step`` (lstm_step or lstm_step_reference) applied to ``inputs`` from zero states."""
    h = c = md.zeros(inputs.shape[1], cell.hidden_size)
    for x in inputs:
        h, c = step(x @ cell.weight_ih.T + cell.bias_ih, h, c, cell.weight_hh, cell.bias_hh)
    return h


gradients = {}
for step in (ops.lstm_step_reference, ops.lstm_step):
    cell.zero_grad()
    h = run_steps(step, cell, three_steps)
    print(f"{step.__name__}, 3 steps: {dict(count_nodes(h))}")
    h.sum().backward()
    gradients[step] = cell.weight_hh.grad.numpy().copy()
print("same gradient of weight_hh:", np.allclose(*gradients.values(), atol=1e-6))

big_cell, inputs = nn.LSTMCell(64, 64), md.randn(50, 32, 64)  # 50 steps, batch 32
seconds = {ops.lstm_step_reference: [], ops.lstm_step: []}
for _ in range(3 if FAST else 10):  # alternate the two, and keep each one's best time
    for step, times in seconds.items():
        start = time.perf_counter()
        run_steps(step, big_cell, inputs).sum().backward()
        times.append(time.perf_counter() - start)
reference_ms, fused_ms = (1e3 * min(times) for times in seconds.values())
print(f"50 steps forward + backward: small ops {reference_ms:.1f} ms, fused {fused_ms:.1f} ms")

# %% [markdown]
# ## 5. Sentences as numbers
#
# A network reads numbers, so a sentence goes through three stages (`minidl.data.text`):
#
# 1. `tokenize`: lower-case words and punctuation marks;
# 2. `Vocabulary.build(..., max_size=...)`: an id for each of the most frequent tokens, with
#    `0 = <pad>` and `1 = <unk>` for the rest;
# 3. `pad_sequences`: cut or pad every sentence to one length, and remember the true `lengths`.
#
# Our first data set is a task we generate ourselves. Sentences of filler words contain one or
# three opinion words; `not` in front of an opinion flips it; the label says whether most opinions
# are positive. A model that ignores word order ("bag of words") cannot tell *not good* from
# *good*, so it cannot solve this task; an LSTM can.

# %%
heading("5. Sentences as numbers")
POSITIVE = ["good", "great", "fun", "moving", "brilliant", "charming"]
NEGATIVE = ["bad", "dull", "boring", "awful", "weak", "messy"]
FILLER = ["the", "movie", "film", "plot", "acting", "story", "was", "is", "and", "a", "really", "its", "cast", "but"]


def make_review(rng):
    """A synthetic review and its label (1: mostly positive after applying the "not"s)."""
    words = list(rng.choice(FILLER, size=rng.integers(3, 15)))
    score = 0
    for _ in range(rng.choice([1, 3])):
        positive, negated = rng.random() < 0.5, rng.random() < 0.4
        phrase = ["not"] * negated + [rng.choice(POSITIVE if positive else NEGATIVE)]
        score += 1 if positive != negated else -1
        position = rng.integers(0, len(words) + 1)
        words[position:position] = phrase
    return " ".join(words), int(score > 0)


rng = np.random.default_rng(0)
synthetic = [make_review(rng) for _ in range(3000 if FAST else 6000)]
for sentence, label in synthetic[:4]:
    print(label, sentence)


class EncodedText:
    """Sentences as padded ids, split into training and validation rows; the vocabulary is built
    from the training sentences only (the model must not peek at validation words)."""

    def __init__(self, sentences, labels, max_size=8000, max_len=50, validation=0.1, seed=0):
        order = np.random.default_rng(seed).permutation(len(sentences))
        cut = int(len(sentences) * validation)
        self.val_rows, self.train_rows = order[:cut], order[cut:]
        self.sentences = list(sentences)
        tokens = [tokenize(s) for s in sentences]
        self.vocab = Vocabulary.build([tokens[i] for i in self.train_rows], max_size=max_size)
        self.ids, self.lengths = pad_sequences([self.vocab.encode(t) for t in tokens], max_len=max_len)
        self.labels = np.asarray(labels, dtype=np.float32)


toy = EncodedText(*zip(*synthetic))
print(f"vocabulary: {len(toy.vocab)} tokens, e.g. {toy.vocab.itos[:8]}")
print("first sentence as ids:", toy.ids[0][: toy.lengths[0]], "length", toy.lengths[0])

# %% [markdown]
# ## 6. The classifier
#
# Embedding → LSTM → Linear → sigmoid: the embedding turns each id into a vector, the LSTM reads
# them in order, and the state after the **last real word** goes through a linear layer and a
# sigmoid to give $P(\text{positive})$. Padding must not count as words: passing `lengths` makes
# `nn.LSTM` keep each sentence's state fixed once its words are used up, so `h_n` is the state after
# its last real word. This is what PyTorch computes with
# `pack_padded_sequence(x, lengths, enforce_sorted=False)`; the outputs at padded steps are zero, as
# after `pad_packed_sequence`.
#
# The loss is the binary cross-entropy $-[y \log p + (1-y) \log(1-p)]$, the optimizer Adam.

# %%
heading("6. The classifier")


class SentimentLSTM(nn.Module):
    def __init__(self, vocab_size, embedding_dim=64, hidden_size=64):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, batch_first=True)
        self.linear = nn.Linear(hidden_size, 1)

    def forward(self, ids, lengths):
        """ids (batch, seq) and lengths (batch,), NumPy arrays -> P(positive), shape (batch,).
        The ids go to the device of the weights; the lengths stay on the host, where they are checked."""
        ids = md.tensor(ids, device=self.embedding.weight.device)
        _, (h_n, _) = self.lstm(self.embedding(ids), lengths=lengths)
        return F.sigmoid(self.linear(h_n[-1])).reshape(-1)


def accuracy(model, data, rows):
    model.eval()
    correct = 0
    with md.no_grad():
        for group in batches_by_length(rows, data.lengths, 512):
            p = model(data.ids[group, : data.lengths[group].max()], data.lengths[group])
            correct += int(((p.numpy() > 0.5) == data.labels[group]).sum())
    model.train()
    return correct / len(rows)


def train(data, epochs, lr=3e-3, seed=0):
    """Train a fresh SentimentLSTM; returns it and the history (mean loss, validation accuracy) per epoch."""
    md.manual_seed(seed)
    model = SentimentLSTM(len(data.vocab)).to(DEVICE)
    optimizer = md.optim.Adam(model.parameters(), lr=lr)
    shuffle, history = np.random.default_rng(seed), []
    for epoch in range(epochs):
        total = 0.0
        for group in batches_by_length(data.train_rows, data.lengths, 64, shuffle):
            p = model(data.ids[group, : data.lengths[group].max()], data.lengths[group])
            loss = F.binary_cross_entropy(p, md.tensor(data.labels[group], device=DEVICE))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(group)
        history.append((total / len(data.train_rows), accuracy(model, data, data.val_rows)))
        print(f"epoch {epoch + 1}: loss {history[-1][0]:.3f}, validation accuracy {history[-1][1]:.3f}")
    return model, history


toy_model, toy_history = train(toy, epochs=3 if FAST else 8)


def predict(model, data, sentence):
    ids, lengths = pad_sequences([data.vocab.encode(tokenize(sentence))])
    with md.no_grad():
        return model(ids, lengths).item()


for sentence in ["the plot was good", "the plot was not good", "not boring and a brilliant cast", "dull but fun"]:
    print(f"P(positive) = {predict(toy_model, toy, sentence):.2f}   {sentence!r}")

# %% [markdown]
# The model has learned what `not` does to the next word. *dull but fun* has two opinions that
# cancel, a case the generator never produces (it uses one or three): there is no right answer,
# and whatever the model says is a guess from patterns it has never been shown.

# %% [markdown]
# ### Real movie reviews
#
# The sentence-polarity dataset (Pang & Lee, ACL 2005) has 5331 positive and 5331 negative
# one-sentence reviews. It is not shipped with minidl. The variable `MOVIE_REVIEWS`, set at the top
# of this script, points at the folder holding its two files `rt-polarity.pos` and `rt-polarity.neg`
# (sentence polarity dataset v1.0, from Cornell's movie-review data page); it is
# `../shared/data/text/mr/` from the repository root unless the environment variable
# `MINIDL_MOVIE_REVIEWS` names another folder: set it (or change that line) to use your own copy. When
# the files are there, we train the same model on them with the same tokenizer, vocabulary and
# padding; otherwise this part is skipped, saying where it looked, and section 7 uses the synthetic
# model instead. Published results on this set are about 76-81% accuracy (10-fold
# cross-validation); our small LSTM, trained from scratch for three epochs, gets about 75%. Train
# it longer and it starts to memorise the training sentences: the training loss keeps falling
# while validation accuracy stalls. Real negation is also much harder than in our toy task: 9000
# sentences contain few examples of phrases like *not as bad as*.

# %%
histories = {"synthetic": toy_history}
reader, reader_data = toy_model, toy  # the model whose gates section 7 shows
if (MOVIE_REVIEWS / "rt-polarity.pos").is_file():
    sentences, labels = load_sentence_polarity(MOVIE_REVIEWS)
    if FAST:
        sentences, labels = sentences[::2], labels[::2]  # every 2nd review: still both classes
    reviews = EncodedText(sentences, labels)
    print(f"{len(sentences)} reviews, vocabulary {len(reviews.vocab)}, e.g. {sentences[0]!r}")
    review_model, histories["movie reviews"] = train(reviews, epochs=2 if FAST else 3)
    print(f"movie reviews: validation accuracy {histories['movie reviews'][-1][1]:.3f}")
    for sentence in ["a moving , beautifully acted film .", "a dull , lifeless mess .", "not as bad as i feared ."]:
        print(f"P(positive) = {predict(review_model, reviews, sentence):.2f}   {sentence!r}")
    reader, reader_data = review_model, reviews
else:
    print(f"movie reviews not found at {MOVIE_REVIEWS}: skipping them")

# %%
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.5))
for name, history in histories.items():
    epochs = range(1, len(history) + 1)
    ax_loss.plot(epochs, [loss for loss, _ in history], "o-", label=name)
    ax_acc.plot(epochs, [acc for _, acc in history], "o-", label=name)
ax_loss.set(xlabel="epoch", ylabel="training loss (BCE)", title="training loss")
ax_acc.set(xlabel="epoch", ylabel="accuracy", title="validation accuracy")
for ax in (ax_loss, ax_acc):
    ax.grid(alpha=0.3)
    ax.legend()
fig.tight_layout()
md.viz.show(fig, "05_training_curves.png")

# %% [markdown]
# ## 7. Inside the trained model: the gates while it reads
#
# Now the gates of the trained classifier (the movie-review model, or the synthetic one when the
# reviews are missing) as it reads one validation sentence, a sentence it was not trained on: the
# first one of 10 to 25 tokens with a turn in it (*but*). We feed its word vectors through
# `lstm_gates` from section 3, which reads the trained weights. Each heat map has one row per
# hidden unit (64) and one column per word; the rows are sorted by the unit's weight in the final
# linear layer, so units that push towards *positive* are at the top. The top panel is the model's
# verdict after each word: $P(\text{positive})$ of the sentence so far.

# %%
heading("7. Inside the trained model: the gates while it reads")
row = next(row for row in reader_data.val_rows
           if 10 <= reader_data.lengths[row] <= 25 and " but " in reader_data.sentences[row])  # fmt: skip
words = reader_data.vocab.decode(reader_data.ids[row, : reader_data.lengths[row]])
print(f"label {int(reader_data.labels[row])}: {' '.join(words)}")
reader.to("cpu")  # the gates are computed in NumPy
with md.no_grad():
    vectors = reader.embedding(md.tensor(reader_data.ids[row, : reader_data.lengths[row]]))
trained = lstm_gates(reader.lstm, vectors.numpy()[:, None, :])
linear_weight, linear_bias = reader.linear.weight.detach().numpy()[0], reader.linear.bias.detach().numpy()[0]
p_so_far = sigmoid(trained["h"][:, 0] @ linear_weight + linear_bias)
print(f"P(positive) after the whole sentence: {p_so_far[-1]:.2f} (the model's own answer: "
      f"{predict(reader, reader_data, reader_data.sentences[row]):.2f})")  # fmt: skip

untrained = SentimentLSTM(len(reader_data.vocab))
with md.no_grad():
    fresh_vectors = untrained.embedding(md.tensor(reader_data.ids[row, : reader_data.lengths[row]]))
fresh = lstm_gates(untrained.lstm, fresh_vectors.numpy()[:, None, :])
for name, gates in [("untrained", fresh), ("trained", trained)]:
    values = np.concatenate([gates[key].ravel() for key in "ifo"])
    print(f"{name:9s}: gate values (i, f, o) outside 0.3-0.7: {100 * np.mean(np.abs(values - 0.5) > 0.2):4.1f}%, "
          f"below 0.1 or above 0.9: {100 * np.mean(np.abs(values - 0.5) > 0.4):4.1f}%")  # fmt: skip
print(f"{'word':>12s} {'P(pos)':>7s} {'mean i':>7s} {'mean f':>7s} {'mean o':>7s}")
for t, word in enumerate(words):
    means = [trained[key][t, 0].mean() for key in "ifo"]
    print(f"{word:>12s} {p_so_far[t]:7.2f} " + " ".join(f"{value:7.2f}" for value in means))

# %%
order = np.argsort(-linear_weight)  # units pushing towards "positive" first
fig, axes = plt.subplots(4, 1, figsize=(0.45 * len(words) + 2.5, 11), sharex=True,
                         gridspec_kw={"height_ratios": [1, 2.2, 2.2, 2.2]})  # fmt: skip
axes[0].bar(range(len(words)), p_so_far - 0.5, bottom=0.5, color=np.where(p_so_far > 0.5, "tab:green", "tab:red"))
axes[0].set(ylim=(0, 1), ylabel="P(positive)", title="the model's verdict after each word")
axes[0].axhline(0.5, color="black", linewidth=0.5)
for ax, (key, title) in zip(axes[1:], [("i", "input gate i"), ("f", "forget gate f"), ("o", "output gate o")]):
    image = ax.imshow(trained[key][:, 0, order].T, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set(title=title, ylabel="hidden unit\n(sorted)", yticks=[])
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01)
axes[-1].set_xticks(range(len(words)), words, rotation=60, ha="right")
fig.tight_layout()
md.viz.show(fig, "05_trained_gates.png")

# %% [markdown]
# What to look for (the numbers are those of the full run on the movie reviews, where the sentence
# is *[ director ] byler may yet have a great movie in him , but <unk> sometimes is only half of
# one .*). An untrained cell's gates sit in the middle: 86% of the values lie in 0.3-0.7 and none
# below 0.1 or above 0.9. After training, half of them lie outside that band and one in ten below
# 0.1 or above 0.9: the gates have become switches, set word by word. The table averages each gate
# over the 64 units: at punctuation and small words (*,* *of* *.*) the input gate closes (mean
# 0.23-0.32) while the forget gate stays above 0.5, which says *skip this word, keep what you
# have*. The verdict moves at the words that carry the opinion: *yet have a great movie in him*
# pushes it up to 0.94, and after *but*, *only half of one* brings it down to 0.09, the right
# answer (label 0).

# %% [markdown]
# ## 8. Exercises
#
# Exercise 1 (an LSTM step) is in section 2. The solutions to all of them are in
# `tutorials/solutions/05_lstm.py`; try first.
#
# **Exercise 2, count the weights.** How many parameters does `nn.LSTM(32, 64)` have? Write the
# formula in terms of the input size $E$ and hidden size $H$ (four gates, two weight matrices and two
# bias vectors each).

# %%
heading("8. Exercises")


def lstm_parameter_count(E, H):
    raise NotImplementedError("exercise 2: return the number of parameters of nn.LSTM(E, H)")


def check_parameter_count(formula):
    try:
        for E, H in [(32, 64), (3, 5), (100, 1)]:
            actual = sum(p.numel() for p in nn.LSTM(E, H).parameters())
            assert formula(E, H) == actual, f"LSTM({E}, {H}) has {actual} parameters, not {formula(E, H)}"
    except NotImplementedError:
        print("exercise 2: not done yet")
    else:
        print("exercise 2: correct!")


check_parameter_count(lstm_parameter_count)

# %% [markdown]
# **Exercise 3, a GRU step by hand.** The GRU has two gates and no separate cell state
# (blocks $r, z, n$):
# $r = \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr})$, $z = \sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz})$,
# $n = \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn}))$, $h' = (1 - z) \odot n + z \odot h$.
# Note where $r$ acts: on the hidden part of $n$ *including* its bias. Write it like your
# `lstm_step` of exercise 1.

# %%
def gru_step(x, h, cell):
    raise NotImplementedError("exercise 3: return h' for nn.GRUCell ``cell``")


# `md.testing.check_exercise` runs your step and `nn.GRUCell` on the same random inputs and weights.
md.testing.check_exercise("gru_step", gru_step)

# %% [markdown]
# **Exercise 4, open the forget gate.** Keras initializes every LSTM with the forget gate's bias at
# 1 (`unit_forget_bias=True`), following Jozefowicz et al. (2015); PyTorch leaves it at its small
# random value. Write `make_lstm(size)` that returns an `nn.LSTM(size, size)` whose forget-gate
# bias is 1 larger (the block `size:2*size` of `bias_ih_l0`; change it under `md.no_grad()`), run
# `gradient_by_distance(lambda: make_lstm(SIZE))`, print its factor per step, its value at
# `DISTANCE` and the forget gate's mean (with `lstm_gates`), and add the curve to the plot of section 3.
#
# **Expected observation:** the forget gate's mean rises from 0.50 to about 0.72, the factor per
# step from about 0.61 to about 0.81, and at distance 30 the gradient is about 6000 times larger
# than with PyTorch's initialization (and 5 million times the tanh RNN's): a change of 0.2 in each
# factor, compounded over 30 steps.
#
# **Exercise 5, how far back does truncation reach?** In section 1, rerun the truncated backward
# with `TRUNCATE` set to 1, 5, 6 and 12. Before you run: which inputs will get a gradient?
#
# **Expected observation:** only the inputs after the last cut: the last 1 for $k = 1$, the last
# 2 for $k = 5$ (the cuts fall before steps 1, 6 and 11), the last 6 for $k = 6$, all 12 for
# $k = 12$ (a single cut before step 1: full BPTT). Those that do get one get exactly the value of
# full BPTT. The change in `dL/dW_hh` follows the length of that last piece, not $k$: about 49%,
# 30%, 0.3% and 0%.

# %%
md.testing.progress()
