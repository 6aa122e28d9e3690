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
# # 09 · Attention and a tiny Transformer
#
# A recurrent network (tutorial 05) reads a sequence one step at a time, and whatever it knows
# about token 1 must survive every step to token 50. **Attention** lets every position look at
# every other position directly, in one step, and decide *by content* where to look. Stacked with
# the tools of tutorial 08 (residual connections, layer norm) it is the Transformer.
#
# We compute attention by hand and check it against `F.scaled_dot_product_attention`, mask it,
# split it into heads as `nn.MultiheadAttention` does, see why positions must be added, and train
# a two-layer Transformer (`nn.TransformerEncoder`) that reverses sequences of digits, in a few
# seconds on a laptop, then look at where it attends. Prerequisites: tutorials 02 (training
# loop), 05 (sequences) and 08 (layer norm, residual connections).
#
# Run it as a script (`python tutorials/09_attention.py`) or open `09_attention.ipynb`;
# `MINIDL_FAST=1` runs a short version and `MINIDL_DEVICE=cuda` trains on a GPU.

# %%
import math
import os

import matplotlib.pyplot as plt
import numpy as np

import minidl as md
import minidl.functional as F

FAST = os.environ.get("MINIDL_FAST") == "1"  # CI runs the tutorials in a fast mode: fewer steps
DEVICE = os.environ.get("MINIDL_DEVICE", "cpu")  # "cuda" trains the Transformer on a GPU (CuPy)
rng = np.random.default_rng(0)


def heading(title):
    """Mark the start of a section in the printed output."""
    print(f"\n=== {title} ===")

# %% [markdown]
# ## 1. Attention by hand
#
# Each position has a **query** $q$ (what it is looking for), a **key** $k$ (what it offers) and
# a **value** $v$ (what it hands over). Query $i$ scores key $j$ by the dot product, scaled so
# that the scores keep unit spread whatever the dimension $d$; a softmax over $j$ turns the
# scores into weights that sum to 1; the output is the weighted mean of the values:
#
# $$\text{Attention}(Q, K, V) = \operatorname{softmax}\!\Big(\frac{Q K^\top}{\sqrt d}\Big)\, V$$
#
# Three queries, four keys and values, $d = 2$:

# %%
heading("1. Attention by hand")
q = rng.standard_normal((3, 2))
k = rng.standard_normal((4, 2))
v = np.arange(4.0)[:, None] * np.ones((1, 2))  # value j is (j, j): easy to read in the output
scores = q @ k.T / math.sqrt(2)
weights = np.exp(scores - scores.max(axis=1, keepdims=True))  # the stable softmax of tutorial 02
weights /= weights.sum(axis=1, keepdims=True)
by_hand = weights @ v
print("weights (rows: queries, columns: keys; each row sums to 1):\n", weights.round(3))
print("outputs, each a weighted mean of the values 0..3:\n", by_hand.round(3))
library = F.scaled_dot_product_attention(md.tensor(q), md.tensor(k), md.tensor(v)).numpy()
print(f"largest difference from F.scaled_dot_product_attention: {np.abs(library - by_hand).max():.1e}")

# %% [markdown]
# Why $\sqrt d$: with entries of unit variance, $q \cdot k$ is a sum of $d$ products and has
# variance $d$. Unscaled, the scores of a 64-dimensional head would spread over $\pm 16$, and the
# softmax would put almost all weight on one key, with almost no gradient for the others.
#
# ## 2. Masks: who may look where
#
# A **mask** removes some (query, key) pairs before the softmax: a boolean mask with `True` where
# attention is allowed (PyTorch's convention for `F.scaled_dot_product_attention`), or an additive
# float mask with $-\infty$ where it is not. The **causal** mask lets position $i$ see only positions
# $j \le i$, as a language model predicting the next word must.

# %%
heading("2. The causal mask")
x = md.tensor(rng.standard_normal((1, 5, 4)))
causal = md.tensor(np.tril(np.ones((5, 5), dtype=bool)))  # True on and below the diagonal
masked = F.scaled_dot_product_attention(x, x, x, attn_mask=causal)
print(f"is_causal=True gives the same: {np.allclose(masked.numpy(), F.scaled_dot_product_attention(x, x, x, is_causal=True).numpy())}")
first = F.scaled_dot_product_attention(x[:, :1], x[:, :1], x[:, :1])
print(f"position 0 can only see itself, so its output is its own value: {np.allclose(masked.numpy()[0, 0], first.numpy()[0, 0])}")

# %% [markdown]
# ## 3. Several heads
#
# One softmax picks one mixture per query. **Multi-head attention** projects the input into $h$
# smaller queries, keys and values (learned matrices $W_q, W_k, W_v$), attends in each head
# separately, concatenates the heads and mixes them with $W_o$:
#
# $$\text{head}_i = \text{Attention}(X W_q^{(i)}, X W_k^{(i)}, X W_v^{(i)}), \qquad
#   \text{MHA}(X) = [\text{head}_1, \dots, \text{head}_h]\, W_o$$
#
# `nn.MultiheadAttention` stores $W_q, W_k, W_v$ stacked as `in_proj_weight` of shape $(3E, E)$,
# as PyTorch does, so a torch `state_dict` loads. We recompute its output by hand.

# %%
heading("3. nn.MultiheadAttention by hand")
E, H = 8, 2
mha = md.nn.MultiheadAttention(E, H, batch_first=True)
tokens = md.tensor(rng.standard_normal((1, 5, E)).astype(np.float32))
out, _ = mha(tokens, tokens, tokens)
w_q, w_k, w_v = np.split(mha.in_proj_weight.detach().numpy(), 3)
b_q, b_k, b_v = np.split(mha.in_proj_bias.detach().numpy(), 3)
x_np = tokens.numpy()[0]
heads = []
for h in range(H):
    cols = slice(h * E // H, (h + 1) * E // H)  # head h uses E / H of the projected features
    qh, kh, vh = ((x_np @ w.T + b)[:, cols] for w, b in ((w_q, b_q), (w_k, b_k), (w_v, b_v)))
    heads.append(F.scaled_dot_product_attention(md.tensor(qh), md.tensor(kh), md.tensor(vh)).numpy())
by_hand = np.concatenate(heads, axis=1) @ mha.out_proj.weight.detach().numpy().T + mha.out_proj.bias.detach().numpy()
print(f"in_proj_weight {tuple(mha.in_proj_weight.shape)}, out_proj.weight {tuple(mha.out_proj.weight.shape)}")
print(f"largest difference from nn.MultiheadAttention: {np.abs(out.detach().numpy()[0] - by_hand).max():.1e}")

# %% [markdown]
# ## 4. Attention does not know the order
#
# Nothing in the formula depends on *where* a token sits: shuffle the input positions and the
# outputs come out shuffled the same way (the layer is *permutation-equivariant*). For "reverse
# this sequence" the order is everything, so we add a **positional encoding** to each token's
# embedding: Vaswani et al.'s sines and cosines of geometrically spaced frequencies,
# $PE_{pos, 2i} = \sin(pos / 10000^{2i/d})$, $PE_{pos, 2i+1} = \cos(pos / 10000^{2i/d})$
# (`nn.SinusoidalPositionalEncoding`), a distinct pattern per position.

# %%
heading("4. Order and positional encoding")
order = rng.permutation(5)
shuffled_out, _ = mha(tokens[:, order], tokens[:, order], tokens[:, order])
print(f"shuffling the inputs shuffles the outputs the same way: "
      f"{np.allclose(shuffled_out.detach().numpy(), out.detach().numpy()[:, order], atol=1e-6)}")

fig, ax = plt.subplots(figsize=(6, 2.8))
image = ax.imshow(md.nn.sinusoidal_positions(16, 32).T, cmap="RdBu", aspect="auto")
ax.set(xlabel="position", ylabel="feature", title="sinusoidal positional encoding (d = 32)")
fig.colorbar(image, ax=ax)
md.viz.show(fig, "09_positional_encoding.png")

# %% [markdown]
# ## 5. A Transformer encoder layer
#
# `nn.TransformerEncoderLayer` wraps attention in the two ideas of tutorial 08, residual
# connections and layer norm, and adds a small two-layer MLP applied to each position:
#
# $$x \leftarrow \operatorname{LayerNorm}(x + \operatorname{MHA}(x)), \qquad
#   x \leftarrow \operatorname{LayerNorm}(x + W_2 \operatorname{relu}(W_1 x))$$
#
# Our model: embed each digit (`nn.Embedding`), add positions, two encoder layers, and a
# `Linear` that reads a digit out of every position.

# %%
heading("5. The model")
LENGTH, DIGITS, WIDTH = 8, 10, 32


class TinyTransformer(md.nn.Module):
    """Digits (N, LENGTH) -> logits (N, LENGTH, DIGITS): embedding + positions, encoder, readout."""

    def __init__(self, layers=2, heads=4, positions=True):
        super().__init__()
        self.embed = md.nn.Embedding(DIGITS, WIDTH)
        self.position = md.nn.SinusoidalPositionalEncoding(WIDTH, max_len=LENGTH, batch_first=True) if positions else None
        layer = md.nn.TransformerEncoderLayer(WIDTH, heads, dim_feedforward=64, dropout=0.0, batch_first=True)
        self.encoder = md.nn.TransformerEncoder(layer, layers)
        self.readout = md.nn.Linear(WIDTH, DIGITS)

    def embedded(self, digits):
        x = self.embed(digits)
        return x if self.position is None else self.position(x)

    def forward(self, digits, mask=None):
        return self.readout(self.encoder(self.embedded(digits), mask=mask))


print(TinyTransformer().encoder.layers[0])
print(f"parameters: {sum(p.numel() for p in TinyTransformer().parameters())}")

# %% [markdown]
# ## 6. Learning to reverse
#
# Every batch is fresh random digits; the target is the same digits backwards. Output position
# $i$ must fetch the digit at position $7 - i$: a job for attention, which can look anywhere.
# Adam, learning rate 0.003, batch 64; the loss is the cross-entropy over all 8 positions.

# %%
heading("6. Training a Transformer to reverse digits")


def digit_batch(size, task="reverse"):
    """Random digits and their target: reversed, or sorted."""
    digits = rng.integers(0, DIGITS, size=(size, LENGTH))
    target = digits[:, ::-1] if task == "reverse" else np.sort(digits, axis=1)
    return md.tensor(digits, device=DEVICE), md.tensor(np.ascontiguousarray(target), device=DEVICE)


def train_transformer(steps, task="reverse", mask=None, **options):
    """A fresh TinyTransformer trained for ``steps`` batches; returns it and the loss of every step."""
    md.manual_seed(0)
    model = TinyTransformer(**options).to(DEVICE)
    optimizer = md.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(steps):
        digits, target = digit_batch(64, task)
        loss = F.cross_entropy(model(digits, mask=mask).reshape(-1, DIGITS), target.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return model.eval(), losses


def accuracy(model, task="reverse", mask=None):
    """Token and whole-sequence accuracy on 1,000 new sequences."""
    digits, target = digit_batch(1000, task)
    with md.no_grad():
        correct = model(digits, mask=mask).argmax(-1).numpy() == target.numpy()
    return correct.mean(), correct.all(axis=1).mean()


STEPS = 300 if FAST else 600
model, losses = train_transformer(STEPS)
tokens_right, sequences_right = accuracy(model)
print(f"reversal: sequence accuracy {sequences_right:.3f} after {STEPS} steps (token accuracy {tokens_right:.3f})")

fig, ax = plt.subplots(figsize=(5, 3.2))
ax.semilogy(losses)
ax.axhline(math.log(DIGITS), color="grey", linestyle=":", label="ln 10: guessing")
ax.set(xlabel="step", ylabel="training loss", title="a 2-layer Transformer learns to reverse")
ax.legend()
md.viz.show(fig, "09_training.png")

# %% [markdown]
# ## 7. Where does it look?
#
# We run one sequence through the trained model and ask each layer's attention for its weights
# (`need_weights=True`, averaged over the heads). Row $i$ shows how output position $i$ spreads
# its attention over the input positions.

# %%
heading("7. Attention weights of the trained model")
digits, _ = digit_batch(1)
fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
with md.no_grad():
    x = model.embedded(digits)
    for number, (layer, ax) in enumerate(zip(model.encoder.layers, axes), 1):
        _, layer_weights = layer.self_attn(x, x, x, need_weights=True)
        ax.imshow(layer_weights.numpy()[0], cmap="viridis", vmin=0, vmax=1)
        labels = [str(d) for d in digits.numpy()[0]]
        ax.set(title=f"layer {number}", xlabel="input position (digit)", ylabel="output position",
               xticks=range(LENGTH), xticklabels=labels, yticks=range(LENGTH))
        x = layer(x)
anti_diagonal = layer_weights.numpy()[0][np.arange(LENGTH), LENGTH - 1 - np.arange(LENGTH)]
print(f"layer 2's weight on the mirrored position, per output position: {anti_diagonal.round(2)}")
md.viz.show(fig, "09_attention_weights.png")

# %% [markdown]
# The second layer puts nearly all of each row's weight on the mirrored position $7 - i$: the
# anti-diagonal. Nobody told it to; the gradient found that this is the way to fetch the digit.
# (The first layer spreads its attention: with the residual connection, it may pass its input on
# almost unchanged.)
#
# ## Exercises
#
# Solutions are in `tutorials/solutions/09_attention.py`; try first.
#
# 1. **Attention by hand.** Write `attention(q, k, v, mask)` for NumPy arrays $q$ $(N, L, d)$,
#    $k$ $(N, S, d)$, $v$ $(N, S, d_v)$ and a boolean mask $(L, S)$ (or None; `True` = may attend):
#    masked scores become $-\infty$ before a stable softmax.
#    `md.testing.check_exercise("scaled_dot_product_attention", attention)` compares it with
#    `F.scaled_dot_product_attention`.

# %%
def attention(q, k, v, mask):
    raise NotImplementedError("exercise 1: softmax(q k^T / sqrt(d)) v, masked scores set to -inf")


md.testing.check_exercise("scaled_dot_product_attention", attention)

# %% [markdown]
# 2. **Without positions.** Train with `train_transformer(STEPS, positions=False)` and measure
#    `accuracy`.
#
#    **Expected observation:** the loss stalls near 1.5, token accuracy near 0.3 and no sequence
#    comes out right. Without positions every output position computes the same function of the
#    same set of digits, so all eight predict the same digit: the best it can do is a digit that
#    occurs often in the sequence.
#
# 3. **Causal mask.** Train the reversal with a causal mask, as a float mask with $-\infty$ above
#    the diagonal: `mask = md.tensor(np.triu(np.full((LENGTH, LENGTH), -np.inf, dtype=np.float32), 1), device=DEVICE)`,
#    passed as `train_transformer(STEPS, mask=mask)` and `accuracy(model, mask=mask)`.
#
#    **Expected observation:** the first half of the positions fail: output position $i < 4$ would
#    need position $7 - i > i$, which the mask hides. The second half is learned; token accuracy
#    ends a little above one half, sequence accuracy near 0.
#
# 4. **Sorting.** Train on `task="sort"` (pass it to `train_transformer` and `accuracy`).
#
#    **Expected observation:** sorting takes longer than reversing (where a digit goes depends on
#    the other digits, not only on its position): about 1,500 steps to (nearly) every sequence
#    sorted right.

# %%
md.testing.progress()
