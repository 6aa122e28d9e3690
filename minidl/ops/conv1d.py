"""1-D convolution: a signal of length L is an image of height 1, so ``conv1d`` is ``conv2d``'s
machinery (im2col + one matrix product, or the direct loops) on (N, C, 1, L) with a (O, C / groups,
1, k) kernel.

PyTorch's layout: input (N, C, L), weight (O, C / groups, k), bias (O,), output (N, O, OL) with
OL = floor((L + padding_left + padding_right - dilation (k - 1) - 1) / stride) + 1.
"""
from minidl.ops.conv import check_operands, conv_geometry, convolve
from minidl.ops.window import signal_input


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation, as ``torch.nn.functional.conv1d``:
    out[n, o, t] = b[o] + sum_{c, i} x[n, c, t stride - padding + i dilation] W[o, c, i].

    input (N, C, L) or (C, L); weight (O, C / groups, k); bias (O,) or None; ``stride``,
    ``dilation``: an int or a tuple of one; ``padding``: the same, 'valid' or 'same'.  In the graph:
    an unsqueeze, the 2-D convolution, a squeeze.
    """
    x, unbatched = signal_input("conv1d", input)
    x, weight, bias = check_operands("conv1d", x, weight, bias, groups, "(out_channels, in_channels / groups, kernel_size)")
    geometry = conv_geometry("conv1d", x, weight.shape[2:], stride, padding, dilation, groups)
    out = convolve(x.unsqueeze(2), weight.unsqueeze(2), bias, geometry).squeeze(2)
    return out.squeeze(0) if unbatched else out
