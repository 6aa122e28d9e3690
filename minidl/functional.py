"""Every differentiable op by name: ``import minidl.functional as F`` (also ``md.nn.functional``).

The ops themselves live in ``minidl/ops/``, one file per family; this module only gathers them.
"""
from minidl.ops.activation import gelu, leaky_relu, log_softmax, prelu, relu, sigmoid, silu, softmax, tanh
from minidl.ops.arithmetic import (
    abs,
    add,
    allclose,
    clamp,
    cos,
    div,
    eq,
    equal,
    erf,
    exp,
    expm1,
    ge,
    gt,
    le,
    log,
    log1p,
    lt,
    mul,
    ne,
    neg,
    pow,
    round,
    sin,
    sqrt,
    square,
    sub,
    where,
)
from minidl.ops.conversion import cast, clone, contiguous, to_device
from minidl.ops.conv import conv2d
from minidl.ops.dropout import dropout, dropout2d
from minidl.ops.embedding import embedding, one_hot
from minidl.ops.indexing import gather, index_select, masked_fill
from minidl.ops.linalg import dot, linear, matmul, mm, mv, norm, normalize
from minidl.ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
)
from minidl.ops.normalization import batch_norm, group_norm, layer_norm
from minidl.ops.padding import pad
from minidl.ops.pool import avg_pool2d, max_pool2d
from minidl.ops.sorting import argsort, sort, topk
from minidl.ops.reduction import (
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    cumsum,
    logsumexp,
    max,
    mean,
    min,
    prod,
    std,
    sum,
    var,
)
from minidl.ops.shape import (
    cat,
    chunk,
    concatenate,
    expand,
    flatten,
    getitem,
    permute,
    repeat,
    reshape,
    split,
    squeeze,
    stack,
    transpose,
    unsqueeze,
    unwrap_index,
    view,
)

clip = clamp
from minidl.ops.recurrent import gru_cell, lstm_cell, rnn_relu_cell, rnn_tanh_cell, unbind
from minidl.ops.attention import scaled_dot_product_attention
from minidl.ops.conv1d import conv1d
from minidl.ops.conv_transpose import conv_transpose2d
from minidl.ops.interpolate import interpolate
from minidl.ops.adaptive_pool import adaptive_avg_pool2d, adaptive_max_pool2d
