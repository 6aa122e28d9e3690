"""Every differentiable op by name: ``import minidl.functional as F`` (also ``md.nn.functional``).

The ops themselves live in ``minidl/ops/``, one file per family; this module only gathers them.
"""
from minidl.ops.activation import gelu, leaky_relu, log_softmax, prelu, relu, sigmoid, softmax, tanh
from minidl.ops.arithmetic import abs, add, clamp, div, eq, exp, ge, gt, le, log, lt, mul, ne, neg, pow, sqrt, sub, where
from minidl.ops.conversion import cast, to_device
from minidl.ops.conv import conv2d
from minidl.ops.dropout import dropout
from minidl.ops.embedding import embedding
from minidl.ops.linalg import linear, matmul
from minidl.ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
)
from minidl.ops.pool import avg_pool2d, max_pool2d
from minidl.ops.reduction import amax, amin, argmax, argmin, logsumexp, max, mean, min, std, sum, var
from minidl.ops.shape import (
    cat,
    concatenate,
    expand,
    flatten,
    getitem,
    permute,
    reshape,
    squeeze,
    stack,
    transpose,
    unsqueeze,
    unwrap_index,
    view,
)

clip = clamp
from minidl.ops.recurrent import gru_cell, lstm_cell, rnn_relu_cell, rnn_tanh_cell, unbind
