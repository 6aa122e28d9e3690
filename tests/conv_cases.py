"""Hypothesis strategies for convolution and pooling configurations (shared by the CPU and CUDA tests)."""
from hypothesis import assume
from hypothesis import strategies as st

from minidl.ops.window import conv_output_size, pool_output_size


@st.composite
def conv_configs(draw, max_size=7):
    """(x_shape, weight_shape, options) with an output of at least 1x1: batch, grouped channels,
    kernel up to the padded input (kernel == input size included), stride up to 3 (> kernel too)."""
    groups = draw(st.sampled_from([1, 1, 2]))
    group_in, group_out = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    size = (draw(st.integers(1, max_size)), draw(st.integers(1, max_size)))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    out = [conv_output_size(n, k, s, 2 * p, d) for n, k, s, p, d in zip(size, kernel, stride, padding, dilation)]
    assume(min(out) >= 1)
    x_shape = (draw(st.integers(1, 2)), group_in * groups) + size
    weight_shape = (group_out * groups, group_in) + kernel
    return x_shape, weight_shape, dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


@st.composite
def pool_configs(draw, max_size=7, dilated=True):
    """(x_shape, kernel, stride, padding, dilation, ceil_mode) valid for PyTorch's pooling."""
    size = (draw(st.integers(1, max_size)), draw(st.integers(1, max_size)))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilated else (1, 1)
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    ceil_mode = draw(st.booleans())
    out = [pool_output_size(n, k, s, p, d, ceil_mode) for n, k, s, p, d in zip(size, kernel, stride, padding, dilation)]
    assume(min(out) >= 1)
    x_shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3))) + size
    return x_shape, kernel, stride, padding, dilation, ceil_mode
