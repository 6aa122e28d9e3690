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
# # 04 · Convolution and pooling, from loops to a CNN
#
# A fully connected layer connects every input pixel to every output. For images, that wastes
# parameters and ignores what we know about pictures: nearby pixels belong together, and an edge
# is an edge wherever it appears. A **convolutional layer** encodes both ideas. It slides one
# small grid of weights, the *kernel*, over the image, and at every position computes the same
# weighted sum of the pixels under it. The result is another image, a *feature map*, that is
# large wherever the image looks like the kernel.
#
# In this tutorial we:
#
# 1. compute a convolution with explicit loops, then add stride, padding and dilation;
# 2. rewrite it as one matrix product (**im2col**) and see why its backward is **col2im**;
# 3. use the layer `md.nn.Conv2d` and compare minidl's two algorithms;
# 4. pool: max pooling (and where its gradient goes) and average pooling;
# 5. train a tiny CNN on 8x8 handwritten digits and look at what it learned;
# 6. practise with exercises.
#
# It builds on tutorial 02 (the matmul backward, cross-entropy, `Module` and the training loop)
# and uses an optimizer from tutorial 03.
#
# Run it from the repository root as a script (`python tutorials/04_convolution.py`, with minidl
# installed by `pip install -e .` or found through `PYTHONPATH=.`; figures are saved to
# `figures/`), or open `tutorials/04_convolution.ipynb` in Jupyter, VS Code or Colab (figures
# inline). Set `MINIDL_FAST=1` for a quick run that trains for only a few epochs, and
# `MINIDL_DEVICE=cuda` to run the layer of section 3 and the CNN of section 5 on a GPU (with CuPy,
# `pip install -e ".[gpu]"`); the small examples worked by hand stay on the CPU, beside NumPy.

# %%
import os
import statistics
import time

import matplotlib.pyplot as plt
import numpy as np

import minidl as md
from kernels import cpu as cpu_kernels
from minidl import functional as F
from minidl.testing import gradcheck

FAST = os.environ.get("MINIDL_FAST") == "1"  # a quick run: shorter training and timing
DEVICE = os.environ.get("MINIDL_DEVICE", "cpu")  # "cuda" runs the tutorial on a GPU (CuPy)

rng = np.random.default_rng(0)
md.manual_seed(0)
np.set_printoptions(precision=3, suppress=True, linewidth=110)


def heading(title):
    """Mark the start of a section in the printed output."""
    print(f"\n=== {title} ===")

# %% [markdown]
# ## 1. Convolution by hand
#
# Take a 5x5 image $x$ and a 3x3 kernel $k$. Place the kernel on the top-left 3x3 window of the
# image, multiply the overlapping numbers and add them up: that is the first output. Slide the
# window one pixel right and repeat, then down, until the window has visited every position:
#
# $$\text{out}[o_h, o_w] = \sum_{i=0}^{2} \sum_{j=0}^{2} x[o_h + i,\; o_w + j] \; k[i, j].$$
#
# (Mathematicians would flip the kernel first and call this a *cross-correlation*; deep learning
# skips the flip and calls it convolution anyway. Since the kernel is learned, the flip would
# change nothing.)
#
# Our kernel is the *Sobel* filter: it subtracts the column to the right from the column to
# the left, so it responds to vertical edges. Small integers keep the arithmetic checkable by eye.

# %%
heading("1. Convolution by hand")
image = rng.integers(0, 10, size=(5, 5)).astype(np.float64)
kernel = np.array([[1.0, 0.0, -1.0],
                   [2.0, 0.0, -2.0],
                   [1.0, 0.0, -1.0]])
print("image x:\n", image)
print("kernel k:\n", kernel)

window = image[0:3, 0:3]
print("\nout[0, 0]: the top-left window\n", window)
print("times the kernel, element by element\n", window * kernel)
print("summed:", (window * kernel).sum())

# %% [markdown]
# Now every output, with four plain loops. Three more ideas fit in the same loops:
#
# - **stride** $s$: move the window $s$ pixels at a time instead of one (the output shrinks by
#   about a factor $s$);
# - **padding** $p$: surround the image with $p$ rings of zeros first, so that windows can be
#   centred on the border pixels too;
# - **dilation** $d$: spread the kernel's taps $d$ pixels apart, so that a 3x3 kernel covers a
#   5x5 area with $d = 2$ (a larger view for the same number of weights).
#
# Output $(o_h, o_w)$ starts at row $o_h s$ and column $o_w s$ of the padded image, and tap
# $(i, j)$ reads $d$ times further on.

# %%
def conv2d_by_hand(image, kernel, stride=1, padding=0, dilation=1):
    """One image (H, W), one kernel (kh, kw): loop over outputs, and inside over kernel taps."""
    padded = np.pad(image, padding)  # `padding` rings of zeros all around
    kh, kw = kernel.shape
    span_h, span_w = dilation * (kh - 1) + 1, dilation * (kw - 1) + 1  # area one window covers
    out_h = (padded.shape[0] - span_h) // stride + 1  # how many window positions fit
    out_w = (padded.shape[1] - span_w) // stride + 1
    out = np.zeros((out_h, out_w))
    for oh in range(out_h):
        for ow in range(out_w):
            total = 0.0
            for i in range(kh):
                for j in range(kw):
                    total += padded[oh * stride + i * dilation, ow * stride + j * dilation] * kernel[i, j]
            out[oh, ow] = total
    return out


by_hand = conv2d_by_hand(image, kernel)
print("by hand:\n", by_hand)

# %% [markdown]
# `F.conv2d` computes the same thing for whole batches: it takes the input as
# `(N, C, H, W)` (batch, channels, height, width) and the weight as `(O, C, kh, kw)` (one
# kernel per output channel, each with one slice per input channel; see section 3). Our single
# grey image and single kernel become shapes `(1, 1, 5, 5)` and `(1, 1, 3, 3)`; `x[None, None]`
# adds the two axes.

# %%
library = F.conv2d(md.tensor(image[None, None]), md.tensor(kernel[None, None]))
print("F.conv2d, shape", library.shape, "\n", library.numpy()[0, 0])
print("same numbers:", np.allclose(by_hand, library.numpy()[0, 0]))

# %% [markdown]
# ### The output size
#
# Along one axis the padded image has $H + 2p$ pixels and one window covers $d(k - 1) + 1$ of
# them. Windows start at $0, s, 2s, \dots$ and must end inside the image, so the number of
# positions is
#
# $$H_\text{out} = \left\lfloor \frac{H + 2p - d(k - 1) - 1}{s} \right\rfloor + 1.$$
#
# This is what `conv2d_by_hand` computed with `(padded - span) // stride + 1`. With $k = 3$,
# $p = 1$ and $s = 1$ it gives $H_\text{out} = H$: "same" padding keeps the size, which is why
# 3x3 kernels usually come with padding 1. Let us check the formula, and the loops, on a few
# settings against `F.conv2d`.

# %%
def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    """floor((H + 2p - d(k - 1) - 1) / s) + 1 (Python's // rounds down)."""
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


for stride, padding, dilation in [(1, 0, 1), (1, 1, 1), (2, 0, 1), (2, 1, 1), (1, 0, 2)]:
    formula = conv_output_size(5, 3, stride, padding, dilation)
    by_hand = conv2d_by_hand(image, kernel, stride, padding, dilation)
    library = F.conv2d(md.tensor(image[None, None]), md.tensor(kernel[None, None]),
                       stride=stride, padding=padding, dilation=dilation).numpy()[0, 0]
    print(f"stride {stride}, padding {padding}, dilation {dilation}: formula {formula}x{formula}, "
          f"loops {by_hand.shape}, F.conv2d {library.shape}, same numbers: {np.allclose(by_hand, library)}")

# %% [markdown]
# A stride does not change what each output computes, only which windows are visited: stride 2
# gives every second row and column of the stride-1 result.

# %%
print("stride 2, padding 1:\n", conv2d_by_hand(image, kernel, stride=2, padding=1))
print("stride 1, padding 1, every second row and column:\n", conv2d_by_hand(image, kernel, padding=1)[::2, ::2])

# %% [markdown]
# ## 2. im2col: convolution as one matrix product
#
# Loops like these are slow in Python, and even compiled they make poor use of the processor's
# caches and vector units. The classic trick:
# **copy every window into a column** of a big matrix `cols`, then all the weighted sums are a
# single matrix product, which optimised BLAS libraries (and GPUs) compute very fast.
#
# For a batch `(N, C, H, W)` and a kernel `kh x kw`, `cols` has one **row per kernel tap**
# `(c, i, j)` and one **column per output position** `(n, oh, ow)`:
#
# $$\text{cols}[(c, i, j),\ (n, o_h, o_w)] = x_\text{padded}[n, c,\ o_h s + i,\ o_w s + j],$$
#
# shape `(C*kh*kw, N*OH*OW)`. Row `(c, i, j)` is number `(c*kh + i)*kw + j` and column
# `(n, oh, ow)` is number `(n*OH + oh)*OW + ow`: the order NumPy's `reshape` gives.
#
# To build it with NumPy, loop over the kernel taps instead of the outputs. For a fixed tap
# `(i, j)`, the pixels it reads for all outputs form a strided slice of the padded image:
# rows `i, i + s, i + 2s, ...` and columns `j, j + s, ...`. So nine slices fill the whole matrix.

# %%
heading("2. im2col")


def im2col_by_hand(x, kh, kw, stride=1, padding=0):
    """x (N, C, H, W) -> cols (C*kh*kw, N*OH*OW): column (n, oh, ow) is that window, flattened."""
    n_batch, channels, height, width = x.shape
    out_h = conv_output_size(height, kh, stride, padding)
    out_w = conv_output_size(width, kw, stride, padding)
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = np.zeros((channels, kh, kw, n_batch, out_h, out_w), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            # what tap (i, j) sees for every output: (N, C, OH, OW), stored as (C, N, OH, OW)
            seen = padded[:, :, i : i + stride * out_h : stride, j : j + stride * out_w : stride]
            cols[:, i, j] = seen.transpose(1, 0, 2, 3)
    return cols.reshape(channels * kh * kw, n_batch * out_h * out_w)


x_batch = image[None, None]  # (N, C, H, W) = (1, 1, 5, 5)
cols = im2col_by_hand(x_batch, 3, 3, padding=1)
print("cols shape:", cols.shape, " = (C*kh*kw, N*OH*OW) = (1*3*3, 1*5*5)")
print("the first 6 columns (outputs (0, 0) ... (1, 0); the zeros come from the padding):\n", cols[:, :6])
print("column 12 is output (2, 2); as a 3x3 window:\n", cols[:, 12].reshape(3, 3))
print("the image around pixel (2, 2):\n", image[1:4, 1:4])

# %% [markdown]
# With the kernel flattened into a row (for `O` output channels: the weight reshaped to a matrix
# `(O, C*kh*kw)`), each output is "row times column", so the whole convolution is one product,
# `(O, C*kh*kw) @ (C*kh*kw, N*OH*OW) = (O, N*OH*OW)`, to be reshaped into images.

# %%
weight_rows = kernel.reshape(1, -1)  # (O, C*kh*kw) = (1, 9)
as_product = (weight_rows @ cols).reshape(5, 5)
print("weight_rows @ cols, reshaped:\n", as_product)
print("same as the loops:", np.allclose(as_product, conv2d_by_hand(image, kernel, padding=1)))

# %% [markdown]
# minidl's `kernels.cpu.im2col` builds the same matrix with compiled Numba loops. Like every
# kernel in `kernels/`, it writes into an array the caller allocates, and takes its geometry as
# pairs `(rows, cols)`: `im2col(x, cols, out_size, kernel, stride, padding, dilation)`. We check
# the layout on our example and on a batch of 2 images with 3 channels and stride 2.

# %%
numba_cols = np.empty_like(cols)
cpu_kernels.im2col(x_batch, numba_cols, (5, 5), (3, 3), (1, 1), (1, 1), (1, 1))
print("kernels.cpu.im2col, 5x5 example:", np.array_equal(numba_cols, cols))

x_multi = rng.standard_normal((2, 3, 6, 7))
ours = im2col_by_hand(x_multi, 3, 3, stride=2, padding=1)
out_size = (conv_output_size(6, 3, 2, 1), conv_output_size(7, 3, 2, 1))
numba_cols = np.empty_like(ours)
cpu_kernels.im2col(x_multi, numba_cols, out_size, (3, 3), (2, 2), (1, 1), (1, 1))
print(f"kernels.cpu.im2col, (2, 3, 6, 7) with stride 2: cols {ours.shape}, same: {np.array_equal(numba_cols, ours)}")

# %% [markdown]
# ### The backward pass is col2im
#
# Write $g = \partial L / \partial\,\text{out}$ for the gradient arriving from above, reshaped
# like the product's result `(O, N*OH*OW)`. The forward is `out = W_rows @ cols`, a matrix
# product, whose backward tutorial 02 derived:
#
# $$\frac{\partial L}{\partial W_\text{rows}} = g \,\text{cols}^T, \qquad
#   \frac{\partial L}{\partial\,\text{cols}} = W_\text{rows}^T\, g .$$
#
# That leaves one step: from `dcols` back to the image. Every entry of `cols` is a *copy* of
# one input pixel (or a padding zero), and a pixel is copied once for every window that contains
# it. By the "gradients add up" rule of tutorial 01, the gradient of a pixel is the **sum** of
# the gradients of all its copies. So the backward of im2col runs the same slices in reverse,
# **adding** each column entry back onto its pixel: that is **col2im**. In linear-algebra terms
# im2col is a linear map $M$ (`cols = M x`), and col2im is its transpose $M^T$, the *adjoint*;
# the backward of any linear map is its transpose. (The bias, added to every output of its
# channel, simply gets $g$ summed over $n, o_h, o_w$.)

# %%
def col2im_by_hand(cols, x_shape, kh, kw, stride=1, padding=0):
    """The adjoint of im2col_by_hand: add every entry of cols back onto the pixel it came from."""
    n_batch, channels, height, width = x_shape
    out_h = conv_output_size(height, kh, stride, padding)
    out_w = conv_output_size(width, kw, stride, padding)
    cols = cols.reshape(channels, kh, kw, n_batch, out_h, out_w)
    padded = np.zeros((n_batch, channels, height + 2 * padding, width + 2 * padding), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            # the same slice as in im2col_by_hand, with "=" turned into "+="
            seen = padded[:, :, i : i + stride * out_h : stride, j : j + stride * out_w : stride]
            seen += cols[:, i, j].transpose(1, 0, 2, 3)
    return padded[:, :, padding : padding + height, padding : padding + width]  # drop the padding's gradients

# %% [markdown]
# col2im of a matrix of ones counts how many windows read each pixel: 9 in the middle, only 4
# at the corners (a corner pixel lies only in the windows centred on it and on its 3 neighbours).

# %%
print("windows that read each pixel:\n", col2im_by_hand(np.ones_like(cols), x_batch.shape, 3, 3, padding=1)[0, 0])

# %% [markdown]
# Being each other's transpose means $\langle M x, c \rangle = \langle x, M^T c \rangle$ for any
# image $x$ and any matrix $c$ of the shape of `cols`. A quick numerical check on random arrays:

# %%
c = rng.standard_normal(ours.shape)
left = np.sum(im2col_by_hand(x_multi, 3, 3, stride=2, padding=1) * c)
right = np.sum(x_multi * col2im_by_hand(c, x_multi.shape, 3, 3, stride=2, padding=1))
print(f"<im2col(x), c> = {left:.10f}\n<x, col2im(c)> = {right:.10f}")

# %% [markdown]
# Now the whole backward by hand for our 5x5 example (padding 1), against `F.conv2d`'s
# backward. `out.backward(g)` starts the backward pass from an arbitrary upstream gradient `g`
# instead of 1. minidl's `Conv2dIm2col` (in `minidl/ops/conv.py`) does exactly these steps,
# with `kernels.cpu.col2im` in place of our NumPy version.

# %%
x_tensor = md.tensor(x_batch, requires_grad=True)
w_tensor = md.tensor(kernel[None, None], requires_grad=True)
out = F.conv2d(x_tensor, w_tensor, padding=1)
g = rng.standard_normal(out.shape)  # pretend dL/d(out)
out.backward(g)

g_rows = g.transpose(1, 0, 2, 3).reshape(1, -1)  # (N, O, OH, OW) -> (O, N*OH*OW)
dweight = (g_rows @ cols.T).reshape(1, 1, 3, 3)
dcols = weight_rows.T @ g_rows
dx = col2im_by_hand(dcols, x_batch.shape, 3, 3, padding=1)
print("dL/dW by hand:\n", dweight[0, 0], "\nw.grad:\n", w_tensor.grad.numpy()[0, 0])
print("dL/dx matches x.grad:", np.allclose(dx, x_tensor.grad.numpy()))

# %% [markdown]
# Finally, the independent check from tutorial 01: `gradcheck` compares every gradient with
# central differences. It needs float64, and it runs the forward twice per input element, so we
# keep the tensors small: 2 input channels, 3 output channels, stride 2 and padding 1, with a bias.

# %%
x_small = md.tensor(rng.standard_normal((1, 2, 5, 5)), requires_grad=True)
w_small = md.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
b_small = md.tensor(rng.standard_normal(3), requires_grad=True)
print("gradcheck of F.conv2d passed:",
      gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1), [x_small, w_small, b_small]))

# %% [markdown]
# ## 3. The layer: `md.nn.Conv2d`
#
# `md.nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation)` owns the
# parameters and calls `F.conv2d`. Its weight has PyTorch's layout `(out, in, kh, kw)`: one
# kernel per output channel, and each kernel has one `kh x kw` slice per input channel, so each
# output channel sums over *all* input channels. The bias adds one number per output channel.
#
# The initialisation is PyTorch's default: weight and bias uniform in
# $\left[-1/\sqrt{\text{fan\_in}},\ 1/\sqrt{\text{fan\_in}}\right]$, where
# $\text{fan\_in} = \text{in} \cdot k_h \cdot k_w$ is the number of inputs each output sums. A weight
# then has variance $1 / (3\,\text{fan\_in})$, so a sum of fan_in products $w x$ has variance
# $\mathbb{E}[x^2] / 3$: the scale of the outputs does not grow with the number of inputs.
#
# `.to(DEVICE)` moves the layer's parameters to `DEVICE` (a GPU with `MINIDL_DEVICE=cuda`), and
# `device=DEVICE` creates the input there: a layer computes where its parameters and input are.

# %%
heading("3. The layer: md.nn.Conv2d")
conv = md.nn.Conv2d(16, 32, kernel_size=3, padding=1).to(DEVICE)
print(conv)
print("weight", conv.weight.shape, " bias", conv.bias.shape)
fan_in = 16 * 3 * 3
print(f"fan_in = {fan_in}, bound 1/sqrt(fan_in) = {fan_in ** -0.5:.4f}; "
      f"weights lie in [{conv.weight.numpy().min():.4f}, {conv.weight.numpy().max():.4f}]")

# %% [markdown]
# minidl has two implementations of `F.conv2d`, chosen by `md.config.conv_algorithm`:
# `"im2col"` (the default: im2col, then a matrix product) and `"direct"` (compiled loops over
# outputs and taps, like `conv2d_by_hand`). Set `md.config.conv_algorithm = "direct"` to switch
# for the rest of the program, or use `with md.config.override(conv_algorithm="direct"):` for one block.
# Both compute the same sums, only in a different order, so they agree up to float32 rounding.

# %%
batch = md.randn(16, 16, 16, 16, device=DEVICE)  # 16 images, 16 channels, 16x16 pixels
out_im2col = conv(batch)
with md.config.override(conv_algorithm="direct"):
    out_direct = conv(batch)
print("output", out_im2col.shape, " largest difference:", np.abs(out_im2col.numpy() - out_direct.numpy()).max())

# %% [markdown]
# How fast is each? We time one forward pass with `time.perf_counter`, after one warm-up call
# (the first call of a Numba kernel loads or compiles it), and take the median of several runs
# because single timings are noisy. A GPU works asynchronously: a call returns as soon as its work
# is queued, so the clock may only stop once the result is ready. Reading one number of it with
# `.item()` waits for that (on the CPU the result is ready when the call returns).

# %%
def median_seconds(fn, repeats):
    """Median wall-clock time of fn(), a function returning a tensor, until its result is ready;
    after one untimed warm-up call."""

    def run_to_the_end():
        fn().flatten()[0].item()  # .item() waits for the device to finish

    run_to_the_end()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run_to_the_end()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


repeats = 3 if FAST else 10
seconds = {}
for algorithm in ("im2col", "direct"):
    with md.config.override(conv_algorithm=algorithm), md.no_grad():
        seconds[algorithm] = median_seconds(lambda: conv(batch), repeats)
    print(f"{algorithm:>6}: {seconds[algorithm] * 1000:7.2f} ms per forward pass")
print(f"direct / im2col: {seconds['direct'] / seconds['im2col']:.1f}x")

# %% [markdown]
# im2col usually wins, and by more as the channel counts grow: it spends its time in a matrix
# product that BLAS (cuBLAS on a GPU) has optimised for decades (cache blocking, vector
# instructions), while the direct loops are a straightforward sum. It pays for that with memory:
# `cols` holds every pixel about `kh*kw` times. The exact ratio depends on your machine and on
# what else is running on it (on tiny inputs, starting the parallel threads, or launching the
# GPU's kernels, can cost more than the arithmetic).
#
# The direct loops are kept **for reading**: `conv_at` in `kernels/window.py` is the formula
# of section 1, and `kernels/cpu.py` shows the backward as the same sum read the other way round.
# Switch to them when you want to check the fast path, never for speed.

# %% [markdown]
# ## 4. Pooling
#
# A pooling layer shrinks each feature map by summarising small windows, one channel at a time,
# with no parameters. **Max pooling** keeps the largest value of each window: "is the feature
# present somewhere around here?". With a 2x2 window and stride 2, a 4x4 map becomes 2x2, and a
# feature that moves by one pixel often gives the same output.

# %%
heading("4. Pooling")
pool_input = np.array([[1.0, 3.0, 2.0, 0.0],
                       [4.0, 2.0, 1.0, 5.0],
                       [0.0, 6.0, 7.0, 7.0],
                       [2.0, 1.0, 7.0, 3.0]])


def max_pool_by_hand(x, k):
    """Max over each k x k window (stride k), and where it was, as a flat index h * W + w."""
    out_h, out_w = x.shape[0] // k, x.shape[1] // k
    out = np.zeros((out_h, out_w))
    where = np.zeros((out_h, out_w), dtype=np.int64)
    for oh in range(out_h):
        for ow in range(out_w):
            window = x[oh * k : (oh + 1) * k, ow * k : (ow + 1) * k]
            i, j = np.unravel_index(np.argmax(window), window.shape)  # argmax: the first maximum
            out[oh, ow] = window[i, j]
            where[oh, ow] = (oh * k + i) * x.shape[1] + (ow * k + j)
    return out, where


out, where = max_pool_by_hand(pool_input, 2)
print("input:\n", pool_input)
print("max pool by hand:\n", out, "\npositions of the maxima (h * 4 + w):\n", where)
library, indices = F.max_pool2d(md.tensor(pool_input[None, None]), 2, return_indices=True)
print("F.max_pool2d:\n", library.numpy()[0, 0], "\nindices:\n", indices.numpy()[0, 0])

# %% [markdown]
# **Where does the gradient go?** Within a window the max equals its largest input: nudge that
# input and the output moves by the same amount; nudge any other input (a little) and nothing
# happens. So the backward sends each window's gradient to the position of its maximum (the
# saved `indices`) and zero everywhere else.
#
# The bottom-right window has a **tie**: three 7s. There the max is not differentiable and any
# split of the gradient would do; minidl, like PyTorch, gives all of it to the *first* maximum
# in reading order, position (2, 2), which is what `np.argmax` picked above. We send a
# different gradient from each output to see where each lands.

# %%
x_pool = md.tensor(pool_input[None, None], requires_grad=True)
pooled = F.max_pool2d(x_pool, 2)
pooled.backward(np.array([[[[10.0, 20.0], [30.0, 40.0]]]]))
print("gradient from the outputs [[10, 20], [30, 40]] lands on the maxima:\n", x_pool.grad.numpy()[0, 0])

# %% [markdown]
# **Average pooling** takes the mean of each window instead. Every input of a 2x2 window
# counts 1/4 towards its output, so the backward spreads each output's gradient evenly:
# 1/4 of it to every pixel of the window, ties or not.

# %%
x_pool = md.tensor(pool_input[None, None], requires_grad=True)
averaged = F.avg_pool2d(x_pool, 2)
averaged.backward(np.array([[[[10.0, 20.0], [30.0, 40.0]]]]))
print("average pool:\n", averaged.numpy()[0, 0])
print("gradient, spread evenly over each window:\n", x_pool.grad.numpy()[0, 0])

# %% [markdown]
# The layers `md.nn.MaxPool2d(kernel_size)` and `md.nn.AvgPool2d(kernel_size)` wrap these
# functions; their stride defaults to the kernel size, so the windows do not overlap.
#
# ## 5. A picture: a tiny CNN on handwritten digits
#
# scikit-learn ships 1797 handwritten digits as 8x8 grey images (values 0 to 16). We hold out 20%
# for testing and train a network with one convolutional layer:
#
# | layer | output shape (per image) |
# |---|---|
# | input | 1 x 8 x 8 |
# | `Conv2d(1, 8, 3, padding=1)`, ReLU | 8 x 8 x 8: eight feature maps |
# | `MaxPool2d(2)` | 8 x 4 x 4 |
# | `Flatten()` | 128 |
# | `Linear(128, 10)` | 10 scores, one per digit |
#
# The loss is the cross-entropy of the scores, and the training is tutorial 02's five-line loop
# with plain SGD from tutorial 03 (`md.optim.SGD`): for each mini-batch, forget the old gradients,
# compute the loss, backpropagate, step.
#
# The model lives on `DEVICE` (`.to(DEVICE)`), and so must its input: the images stay in a NumPy
# array, and each mini-batch is copied to the device as it is used, as a data loader does.

# %%
heading("5. A tiny CNN on 8x8 digits")
from sklearn.datasets import load_digits

digits = load_digits()
images = (digits.images / 16.0).astype(np.float32)[:, None]  # (1797, 1, 8, 8), values in [0, 1]
labels = digits.target
order = rng.permutation(len(labels))
test_set, train_set = order[: len(order) // 5], order[len(order) // 5 :]
print(f"{len(train_set)} training and {len(test_set)} test images of shape {images.shape[1:]}")

model = md.nn.Sequential(
    md.nn.Conv2d(1, 8, kernel_size=3, padding=1),
    md.nn.ReLU(),
    md.nn.MaxPool2d(2),
    md.nn.Flatten(),
    md.nn.Linear(8 * 4 * 4, 10),
).to(DEVICE)
print(model)
print("parameters:", sum(p.numel() for p in model.parameters()))
initial_filters = model[0].weight.numpy().copy()


def images_at(indices):
    """The images at ``indices`` as one tensor on the model's device."""
    return md.tensor(images[indices], device=DEVICE)


def accuracy(indices):
    """Fraction of the given images whose highest score is the right digit."""
    with md.no_grad():
        scores = model(images_at(indices))
    return float((scores.numpy().argmax(axis=1) == labels[indices]).mean())


epochs = 3 if FAST else 30
batch_size = 32
optimizer = md.optim.SGD(model.parameters(), lr=0.2)
for epoch in range(1, epochs + 1):
    shuffled = rng.permutation(train_set)
    total_loss = 0.0
    for start in range(0, len(shuffled), batch_size):
        chosen = shuffled[start : start + batch_size]
        optimizer.zero_grad()
        loss = F.cross_entropy(model(images_at(chosen)), md.tensor(labels[chosen], device=DEVICE))
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * len(chosen)
    if FAST or epoch % 5 == 0:
        print(f"epoch {epoch:2d}: training loss {total_loss / len(shuffled):.3f}, test accuracy {accuracy(test_set):.1%}")
print(f"test accuracy after {epochs} epochs: {accuracy(test_set):.1%}")

# %% [markdown]
# One training step of this CNN on four images, as a page to click through: the forward pass
# layer by layer, then the backward pass, with the feature maps and the gradients drawn as heat
# maps per channel. Under `md.viz.record_forward()` the page keeps every intermediate value and
# groups the ops of each layer into one box.

# %%
with md.viz.record_forward():
    page_loss = F.cross_entropy(model(images_at(train_set[:4])), md.tensor(labels[train_set[:4]], device=DEVICE))
model.zero_grad()
md.viz.show(md.viz.backprop_page(page_loss, model=model), "04_backprop.html")
model.zero_grad()  # the page ran a backward pass; start the next step clean

# %% [markdown]
# **The filters.** Each of the 8 output channels has one 3x3 kernel. Red weights add the pixel
# under them, blue ones subtract it. At initialisation they are random noise; with training
# many turn into small edge and stroke detectors: a red row above a blue row, for instance,
# responds to the bottom edge of a horizontal stroke (bright above, dark below). After the few
# epochs of fast mode they have only started to move; run without `MINIDL_FAST` to see them settle.

# %%
def filters_figure(rows):
    """One row of 3x3 kernels per (title, weights) pair, red positive and blue negative."""
    fig, axes = plt.subplots(len(rows), 9, figsize=(11.5, 1.6 * len(rows) + 0.6), squeeze=False,
                             gridspec_kw={"width_ratios": [1] * 8 + [0.08]})  # the last column: colour bars
    for row_axes, (title, weights) in zip(axes, rows):
        limit = np.abs(weights).max()  # a symmetric scale, so that white means zero
        for channel, ax in enumerate(row_axes[:8]):
            shown = ax.imshow(weights[channel, 0], cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(f"filter {channel}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        row_axes[0].set_ylabel(title, fontsize=10)
        fig.colorbar(shown, cax=row_axes[8], label="weight")
    fig.suptitle("The 3x3 kernels of Conv2d(1, 8, 3)")
    return fig


rows = [("at initialisation", initial_filters), (f"after {epochs} epochs", model[0].weight.numpy())]
md.viz.show(filters_figure(rows), "04_filters.png")

# %% [markdown]
# **The feature maps.** Feeding one test digit through the first layers shows what each filter
# responds to: every map is bright where the digit contains that filter's pattern. After max
# pooling, each map is a coarser 4x4 summary, which is what the final linear layer reads.

# %%
digit = test_set[0]
with md.no_grad():
    x_digit = images_at([digit])  # a batch of one: (1, 1, 8, 8)
    feature_maps = model[1](model[0](x_digit))  # conv, then ReLU: (1, 8, 8, 8)
    pooled_maps = model[2](feature_maps)  # (1, 8, 4, 4)
    predicted = int(model(x_digit).numpy().argmax())

fig = plt.figure(figsize=(14, 3.8))
grid = fig.add_gridspec(2, 10, width_ratios=[1] * 9 + [0.08])  # the last column: the colour bar
axes = np.array([[fig.add_subplot(grid[row, column]) for column in range(9)] for row in range(2)])
brightest = feature_maps.numpy().max()  # one colour scale for every map, so that they compare
axes[0, 0].imshow(images[digit, 0], cmap="gray_r")
axes[0, 0].set_title(f"input: a {labels[digit]}\npredicted {predicted}", fontsize=9)
axes[1, 0].axis("off")
for channel in range(8):
    for row, (maps, name) in enumerate([(feature_maps, "conv + ReLU, 8x8"), (pooled_maps, "max pool, 4x4")]):
        ax = axes[row, channel + 1]
        shown = ax.imshow(maps.numpy()[0, channel], cmap="viridis", vmin=0, vmax=brightest)
        ax.set_title(f"filter {channel}" if row == 0 else "", fontsize=9)
        if channel == 0:
            ax.set_ylabel(name, fontsize=9)
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
fig.colorbar(shown, cax=fig.add_subplot(grid[:, 9]), label="activation")
fig.suptitle("Feature maps of one test digit (bright = strong response)")
md.viz.show(fig, "04_feature_maps.png")

# %% [markdown]
# ## 6. Exercises
#
# Each exercise ends with a check cell; it says "not done yet" until you fill in the code.
# Exercises 2 and 3 are checked by `md.testing.check_exercise(name, your_function)`, which runs
# your function and the engine on the same random inputs and says "correct!" or which input
# differs and by how much. Worked solutions are in `tutorials/solutions/04_convolution.py`; try first!
#
# **Exercise 1, output sizes.** Work out on paper the shape this stack of layers produces for a
# batch of 4 RGB images of 32x32 pixels, layer by layer with the formula of section 1 (pooling
# follows the same formula, with stride = kernel size by default).

# %%
heading("6. Exercises")
stack = md.nn.Sequential(
    md.nn.Conv2d(3, 8, kernel_size=5),
    md.nn.MaxPool2d(2),
    md.nn.Conv2d(8, 16, kernel_size=3, stride=2, padding=1, dilation=2),
    md.nn.AvgPool2d(2),
)
predicted_shape = None  # exercise 1: your answer, as a tuple (N, C, H, W)


def check_output_shape(predicted_shape):
    """Run a batch of zeros through the stack and compare shapes."""
    if predicted_shape is None:
        print("exercise 1: not done yet")
        return
    with md.no_grad():
        actual = stack(md.zeros(4, 3, 32, 32)).shape
    assert tuple(predicted_shape) == tuple(actual), f"you predicted {predicted_shape}, the stack gives {actual}"
    print("exercise 1: correct!")


check_output_shape(predicted_shape)

# %% [markdown]
# **Exercise 2, max-pool backward for one window.** Given one pooling window (a 2-D array) and
# the gradient `grad` of the loss with respect to its max, return the gradient with respect to
# every pixel of the window: `grad` at the maximum, 0 elsewhere. On ties, the first maximum in
# reading order gets everything.

# %%
def max_pool_window_backward(window, grad):
    """d(loss)/d(window) for out = window.max(), given grad = d(loss)/d(out)."""
    raise NotImplementedError("exercise 2")


# The check compares with F.max_pool2d's backward on random windows, ties included.
md.testing.check_exercise("max_pool_backward_window", max_pool_window_backward)

# %% [markdown]
# **Exercise 3, convolution via im2col.** Implement a whole batched, multi-channel convolution
# with NumPy: `im2col_by_hand`, one matrix product with the weight reshaped to rows, and a
# reshape back to `(N, O, OH, OW)`. Mind the order of the axes: the product's columns run over
# `(n, oh, ow)` and its rows over the output channels `o`.

# %%
def conv2d_im2col(x, weight, stride=1, padding=0):
    """x (N, C, H, W), weight (O, C, kh, kw) -> (N, O, OH, OW), with one matrix product."""
    raise NotImplementedError("exercise 3")


md.testing.check_exercise("conv_forward", conv2d_im2col)  # against F.conv2d, several strides and paddings

# %% [markdown]
# Which exercises of the course have you passed so far? (`check_exercise` remembers every pass.)

# %%
md.testing.progress()
