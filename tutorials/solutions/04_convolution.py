"""Solutions to the exercises of tutorial 04 (convolution). Try the exercises first!

``CHECKED`` maps each checkable exercise to its solution; run this file from the repository root
(``python tutorials/solutions/04_convolution.py``) to see ``md.testing.check_exercise`` accept them.
"""
import numpy as np

import minidl as md

# Exercise 1. Height and width go 32 -> 28 (5x5 kernel, no padding: 32 - 5 + 1) -> 14 (pool 2)
# -> floor((14 + 2 - 2 * 2 - 1) / 2) + 1 = 6 (the dilated 3x3 kernel spans 5 pixels) -> 3 (pool 2).
# The channels are those of the last convolution, 16.
PREDICTED_SHAPE = (4, 16, 3, 3)


# Exercise 2. np.argmax flattens the window and returns the first maximum in reading order,
# exactly the tie rule we need.
def max_pool_window_backward(window, grad):
    """d(loss)/d(window) for out = window.max(), given grad = d(loss)/d(out)."""
    result = np.zeros_like(window)
    result[np.unravel_index(np.argmax(window), window.shape)] = grad
    return result


# Exercise 3. The two helpers of the tutorial's sections 1 and 2, repeated so that this file runs
# on its own; the solution is conv2d_im2col below them.
def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    """floor((H + 2p - d(k - 1) - 1) / s) + 1 (Python's // rounds down)."""
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def im2col_by_hand(x, kh, kw, stride=1, padding=0):
    """x (N, C, H, W) -> cols (C*kh*kw, N*OH*OW): column (n, oh, ow) is that window, flattened."""
    n_batch, channels, height, width = x.shape
    out_h = conv_output_size(height, kh, stride, padding)
    out_w = conv_output_size(width, kw, stride, padding)
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = np.zeros((channels, kh, kw, n_batch, out_h, out_w), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            seen = padded[:, :, i : i + stride * out_h : stride, j : j + stride * out_w : stride]
            cols[:, i, j] = seen.transpose(1, 0, 2, 3)
    return cols.reshape(channels * kh * kw, n_batch * out_h * out_w)


# The product gives (O, N*OH*OW); reshape it to (O, N, OH, OW) and swap the first two axes.
def conv2d_im2col(x, weight, stride=1, padding=0):
    """x (N, C, H, W), weight (O, C, kh, kw) -> (N, O, OH, OW), with one matrix product."""
    n_batch, _, height, width = x.shape
    out_channels, _, kh, kw = weight.shape
    out = weight.reshape(out_channels, -1) @ im2col_by_hand(x, kh, kw, stride, padding)
    out_h = conv_output_size(height, kh, stride, padding)
    out_w = conv_output_size(width, kw, stride, padding)
    return out.reshape(out_channels, n_batch, out_h, out_w).transpose(1, 0, 2, 3)


CHECKED = {"max_pool_backward_window": max_pool_window_backward, "conv_forward": conv2d_im2col}

if __name__ == "__main__":
    for name, solution in CHECKED.items():
        assert md.testing.check_exercise(name, solution), name
    stack = md.nn.Sequential(
        md.nn.Conv2d(3, 8, kernel_size=5),
        md.nn.MaxPool2d(2),
        md.nn.Conv2d(8, 16, kernel_size=3, stride=2, padding=1, dilation=2),
        md.nn.AvgPool2d(2),
    )
    with md.no_grad():
        assert tuple(stack(md.zeros(4, 3, 32, 32)).shape) == PREDICTED_SHAPE, "exercise 1"
    print("exercise 1: correct!")
