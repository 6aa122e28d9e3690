# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · The LSTM: a memory cell, unrolled by hand, then trained to read reviews
#
# A recurrent network reads a sequence one element at a time and carries a *state* from step to
# step. The long short-term memory (LSTM) cell keeps two: a hidden state $h$ (its output) and a cell
# state $c$ (its memory). At every step four *gates* are computed from the input $x_t$ and the
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
# PyTorch (and minidl) stack the four weight matrices into one: `weight_ih` is $(4H, \text{input})$
# and `weight_hh` is $(4H, H)$, blocks in the order $i, f, g, o$. One matrix product then gives all
# four gates at once.
#
# In this tutorial we unroll a cell by hand for three steps and draw its gates, see why minidl fuses
# a whole step into one operation, and then train an Embedding → LSTM → Linear → sigmoid classifier
# on sentences: a synthetic task that needs word order, and, when the movie-review sentences of
# Pang & Lee (2005) are available, real reviews.
#
# Run it from the repository root as a script (`python tutorials/04_lstm.py`), or open it as a
# notebook with Jupytext. Set `MINIDL_FAST=1` for a quick run on less data, and
# `MINIDL_DEVICE=cuda` to train the classifiers on a GPU (with CuPy installed).

# %%
import collections
import os
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # draw to files only, no window
import matplotlib.pyplot as plt
import numpy as np

import minidl as md
import minidl.functional as F
from minidl import nn
from minidl.data import Vocabulary, batches_by_length, load_sentence_polarity, pad_sequences, tokenize

FIGURES = Path(os.environ.get("MINIDL_FIGURES", "figures"))  # beside the run: a notebook knows no script path
FIGURES.mkdir(parents=True, exist_ok=True)
FAST = os.environ.get("MINIDL_FAST") == "1"  # CI runs the tutorials in a fast mode: less data, one epoch
DEVICE = os.environ.get("MINIDL_DEVICE", "cpu")  # "cuda" runs the tutorial on a GPU (CuPy)
MOVIE_REVIEWS = Path(os.environ.get("MINIDL_MOVIE_REVIEWS", "../shared/data/text/mr"))  # from the repository root


def heading(title):
    """Mark the start of a section in the printed output."""
    print(f"\n=== {title} ===")


def save_figure(fig, name):
    fig.tight_layout()
    fig.savefig(FIGURES / name, dpi=100)
    plt.close(fig)
    print("saved", FIGURES / name)


# %% [markdown]
# ## 1. Three steps by hand
#
# A cell with 3 inputs and 5 hidden units, and a sequence of three input vectors (a batch of one).
# We take the cell's own weights and write the equations above with ordinary tensor operations,
# keeping every gate so we can look at it afterwards.

# %%
heading("1. Three steps by hand")
md.manual_seed(0)
INPUT, HIDDEN = 3, 5
cell = nn.LSTMCell(INPUT, HIDDEN)
for name, param in cell.named_parameters():
    print(f"{name:10s} {param.shape}")
xs = md.tensor([[[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]], [[0.0, 0.0, 1.0]]])  # (steps, batch=1, input)


def lstm_step_by_hand(x, h, c, cell):
    """One LSTM step from small ops; returns h, c and the gates, each (batch, hidden_size)."""
    H = cell.hidden_size
    gates = x @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh  # (batch, 4H)
    i = md.sigmoid(gates[:, 0 * H : 1 * H])
    f = md.sigmoid(gates[:, 1 * H : 2 * H])
    g = md.tanh(gates[:, 2 * H : 3 * H])
    o = md.sigmoid(gates[:, 3 * H : 4 * H])
    c = f * c + i * g
    h = o * md.tanh(c)
    return h, c, {"i": i, "f": f, "g": g, "o": o, "c": c, "h": h}


h, c = md.zeros(1, HIDDEN), md.zeros(1, HIDDEN)
by_hand = []
for x in xs:
    h, c, gates = lstm_step_by_hand(x, h, c, cell)
    by_hand.append(gates)
print("h after 3 steps, by hand :", h.numpy().round(4))

# %% [markdown]
# The same three steps with the cell itself, and with a one-layer `nn.LSTM` holding the same weights
# (its parameters carry the suffix `_l0`, "layer 0"). `nn.LSTM` takes the whole sequence at once and
# returns the output at every step plus the final $(h, c)$.

# %%
h_cell, c_cell = md.zeros(1, HIDDEN), md.zeros(1, HIDDEN)
for x in xs:
    h_cell, c_cell = cell(x, (h_cell, c_cell))
lstm = nn.LSTM(INPUT, HIDDEN)
lstm.load_state_dict({f"{name}_l0": value for name, value in cell.state_dict().items()})
output, (h_n, c_n) = lstm(xs)
print("h after 3 steps, LSTMCell:", h_cell.numpy().round(4))
print("h after 3 steps, LSTM    :", h_n[0].numpy().round(4))
print("output shape", output.shape, "(steps, batch, hidden); output[-1] is h_n[0]")
assert np.allclose(h.numpy(), h_cell.numpy(), atol=1e-6) and np.allclose(h.numpy(), h_n[0].numpy(), atol=1e-6)

# %% [markdown]
# ## 2. The gates as heat maps
#
# Each panel shows one gate (rows: the 5 hidden units, columns: the 3 steps). The sigmoid gates
# $i, f, o$ lie in $(0, 1)$: they are soft switches. The candidate $g$, and $h$, lie in $(-1, 1)$.
# The cell state $c$ is unbounded: it is a running sum, which is what lets an LSTM carry information
# over many steps (when $f \approx 1$ and $i \approx 0$, $c$ is simply copied forward).

# %%
heading("2. The gates as heat maps")
panels = [("i", "input gate i", "viridis", (0, 1)), ("f", "forget gate f", "viridis", (0, 1)),
          ("o", "output gate o", "viridis", (0, 1)), ("g", "candidate g", "RdBu_r", (-1, 1)),
          ("c", "cell state c", "RdBu_r", None), ("h", "hidden state h", "RdBu_r", (-1, 1))]  # fmt: skip
fig, axes = plt.subplots(2, 3, figsize=(9, 5.5))
for ax, (key, title, cmap, limits) in zip(axes.flat, panels):
    values = np.stack([step[key].detach().numpy()[0] for step in by_hand], axis=1)  # (HIDDEN, steps)
    if limits is None:
        bound = np.abs(values).max()
        limits = (-bound, bound)
    image = ax.imshow(values, cmap=cmap, vmin=limits[0], vmax=limits[1], aspect="auto")
    for (unit, step), value in np.ndenumerate(values):
        red, green, blue, _ = image.cmap(image.norm(value))
        dark = 0.3 * red + 0.6 * green + 0.1 * blue < 0.5
        ax.text(step, unit, f"{value:.2f}", ha="center", va="center", fontsize=7, color="white" if dark else "black")
    ax.set_title(title)
    ax.set_xticks(range(3), [f"t={t + 1}" for t in range(3)])
    ax.set_yticks(range(HIDDEN))
    fig.colorbar(image, ax=ax, fraction=0.046)
axes[0, 0].set_ylabel("hidden unit")
axes[1, 0].set_ylabel("hidden unit")
fig.suptitle("An LSTM cell unrolled for three steps (inputs: e1, e2, e3)")
save_figure(fig, "04_lstm_gates.png")

# %% [markdown]
# ## 3. Why one step is one operation
#
# Written by hand, each step is twenty small operations, and autograd records a node for each one:
# a sequence of 50 steps becomes 1000 nodes, and the engine spends more time walking them than
# computing. minidl's `LSTMCell` and `LSTM` call one *fused* operation per step
# (`minidl/ops/recurrent.py`): its forward does the matrix product and all the gate functions, and
# its backward applies all their derivatives at once:
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
# (a bar is a gradient of the loss). Also, the input's share of the gates, $W_{ih} x_t + b_{ih}$,
# does not depend on the previous step, so `nn.LSTM` computes it for all steps with one matrix
# product before the loop (the cell sees one step at a time, so each step adds a `Linear` and the
# `Add` of the two biases). Let us count nodes, check that both ways give the same gradients, and time them.

# %%
heading("3. Why one step is one operation")


def count_nodes(tensor):
    """How many graph nodes of each kind lead to ``tensor``."""
    seen, stack = set(), [tensor.grad_fn]
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(node.parents)
    return collections.Counter(node.name for node in seen)


print("by hand, 3 steps:", dict(count_nodes(h)))
print("LSTMCell, 3 steps:", dict(count_nodes(h_cell)))

h.sum().backward()
grad_by_hand = cell.weight_hh.grad.numpy().copy()
cell.zero_grad()
h_cell.sum().backward()
print("same gradient of weight_hh:", np.allclose(grad_by_hand, cell.weight_hh.grad.numpy(), atol=1e-6))


def forward_backward(step_fn, cell, inputs):
    """Run ``step_fn`` over all ``inputs`` from zero states, then backward from the last h."""
    h = c = md.zeros(inputs.shape[1], cell.hidden_size)
    for x in inputs:
        h, c = step_fn(x, h, c, cell)
    h.sum().backward()


def fused_step(x, h, c, cell):
    return cell(x, (h, c))


def by_hand_step(x, h, c, cell):
    return lstm_step_by_hand(x, h, c, cell)[:2]


big_cell, inputs = nn.LSTMCell(64, 64), md.randn(50, 32, 64)  # 50 steps, batch 32
seconds = {by_hand_step: [], fused_step: []}
for _ in range(3 if FAST else 10):  # alternate the two, and keep each one's best time
    for step_fn, times in seconds.items():
        start = time.perf_counter()
        forward_backward(step_fn, big_cell, inputs)
        times.append(time.perf_counter() - start)
by_hand_ms, fused_ms = (1e3 * min(times) for times in seconds.values())
print(f"50 steps forward + backward: by hand {by_hand_ms:.1f} ms, fused {fused_ms:.1f} ms")

# %% [markdown]
# ## 4. Sentences as numbers
#
# A network reads numbers, so a sentence goes through three stages (`minidl.data.text`):
#
# 1. `tokenize`: lower-case words and punctuation marks;
# 2. `Vocabulary.build(..., max_size=...)`: an id for each of the most frequent tokens, with
#    `0 = <pad>` and `1 = <unk>` for the rest;
# 3. `pad_sequences`: cut or pad every sentence to one length, and remember the true `lengths`.
#
# Our default data is a task we generate ourselves. Sentences of filler words contain one or three
# opinion words; `not` in front of an opinion flips it; the label says whether most opinions are
# positive. A model that ignores word order ("bag of words") cannot tell *not good* from *good*, so
# it cannot solve this task; an LSTM can.

# %%
heading("4. Sentences as numbers")
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
        tokens = [tokenize(s) for s in sentences]
        self.vocab = Vocabulary.build([tokens[i] for i in self.train_rows], max_size=max_size)
        self.ids, self.lengths = pad_sequences([self.vocab.encode(t) for t in tokens], max_len=max_len)
        self.labels = np.asarray(labels, dtype=np.float32)


toy = EncodedText(*zip(*synthetic))
print(f"vocabulary: {len(toy.vocab)} tokens, e.g. {toy.vocab.itos[:8]}")
print("first sentence as ids:", toy.ids[0][: toy.lengths[0]], "length", toy.lengths[0])

# %% [markdown]
# ## 5. The classifier
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
heading("5. The classifier")


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
# ## 6. Real movie reviews
#
# The sentence-polarity dataset (Pang & Lee, ACL 2005) has 5331 positive and 5331 negative
# one-sentence reviews. It is not shipped with minidl. The variable `MOVIE_REVIEWS`, set at the top
# of this script, points at the folder holding its two files `rt-polarity.pos` and `rt-polarity.neg`
# (sentence polarity dataset v1.0, from Cornell's movie-review data page); it is
# `../shared/data/text/mr/` from the repository root unless the environment variable
# `MINIDL_MOVIE_REVIEWS` names another folder: set it (or change that line) to use your own copy. When
# the files are there, we train the same model on them with the same tokenizer, vocabulary and
# padding; otherwise this section is skipped, saying where it looked. Published results on this set
# are about 76-81% accuracy (10-fold cross-validation); our small LSTM, trained from scratch for
# three epochs, gets about 75%. Train it longer and it starts to memorise the training sentences:
# the training loss keeps falling while validation accuracy stalls. Real negation is also much
# harder than in our toy task: 9000 sentences contain few examples of phrases like *not as bad as*.

# %%
heading("6. Real movie reviews")
histories = {"synthetic": toy_history}
if (MOVIE_REVIEWS / "rt-polarity.pos").is_file():
    sentences, labels = load_sentence_polarity(MOVIE_REVIEWS)
    if FAST:
        sentences, labels = sentences[::5], labels[::5]  # every 5th review: still both classes
    reviews = EncodedText(sentences, labels)
    print(f"{len(sentences)} reviews, vocabulary {len(reviews.vocab)}, e.g. {sentences[0]!r}")
    review_model, histories["movie reviews"] = train(reviews, epochs=2 if FAST else 3)
    print(f"movie reviews: validation accuracy {histories['movie reviews'][-1][1]:.3f}")
    for sentence in ["a moving , beautifully acted film .", "a dull , lifeless mess .", "not as bad as i feared ."]:
        print(f"P(positive) = {predict(review_model, reviews, sentence):.2f}   {sentence!r}")
else:
    print(f"movie reviews not found at {MOVIE_REVIEWS}: skipping this section")

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
save_figure(fig, "04_training_curves.png")

# %% [markdown]
# ## 7. Exercises
#
# **Exercise 1, count the weights.** How many parameters does `nn.LSTM(32, 64)` have? Write the
# formula in terms of the input size $E$ and hidden size $H$ (four gates, two weight matrices and two
# bias vectors each).

# %%
heading("7. Exercises")


def lstm_parameter_count(E, H):
    raise NotImplementedError("exercise 1: return the number of parameters of nn.LSTM(E, H)")


def check_parameter_count(formula):
    try:
        for E, H in [(32, 64), (3, 5), (100, 1)]:
            actual = sum(p.numel() for p in nn.LSTM(E, H).parameters())
            assert formula(E, H) == actual, f"LSTM({E}, {H}) has {actual} parameters, not {formula(E, H)}"
    except NotImplementedError:
        print("exercise 1: not done yet")
    else:
        print("exercise 1: correct!")


check_parameter_count(lstm_parameter_count)

# %% [markdown]
# **Exercise 2, a GRU step by hand.** The GRU has two gates and no separate cell state
# (blocks $r, z, n$):
# $r = \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr})$, $z = \sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz})$,
# $n = \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn}))$, $h' = (1 - z) \odot n + z \odot h$.
# Note where $r$ acts: on the hidden part of $n$ *including* its bias. Write it like
# `lstm_step_by_hand`.

# %%
def gru_step_by_hand(x, h, cell):
    raise NotImplementedError("exercise 2: return h' for nn.GRUCell ``cell``")


# `md.testing.check_exercise` runs your step and `nn.GRUCell` on the same random inputs and weights.
md.testing.check_exercise("gru_step", gru_step_by_hand)

# %% [markdown]
# The same check exists for the LSTM step: `lstm_step_by_hand` from the start of this tutorial
# passes it (try breaking the gate order and see what it says).

# %%
md.testing.check_exercise("lstm_cell", lstm_step_by_hand)

# %% [markdown]
# ## 8. Solutions
#
# **1.** Each of the 4 gates has $H \times E$ input weights, $H \times H$ hidden weights and two bias
# vectors of $H$: $4H(E + H) + 8H$.

# %%
heading("8. Solutions")
check_parameter_count(lambda E, H: 4 * H * (E + H) + 8 * H)

# %% [markdown]
# **2.** Split both products into their three blocks, and apply $r$ to the whole hidden part of $n$.


# %%
def gru_step_solution(x, h, cell):
    size = cell.hidden_size
    from_x = x @ cell.weight_ih.T + cell.bias_ih
    from_h = h @ cell.weight_hh.T + cell.bias_hh
    r = md.sigmoid(from_x[:, :size] + from_h[:, :size])
    z = md.sigmoid(from_x[:, size : 2 * size] + from_h[:, size : 2 * size])
    n = md.tanh(from_x[:, 2 * size :] + r * from_h[:, 2 * size :])
    return (1 - z) * n + z * h


assert md.testing.check_exercise("gru_step", gru_step_solution)
