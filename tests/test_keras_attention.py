"""keras.layers.MultiHeadAttention and Add: against Keras's formulas written out here in NumPy
(einsum over Keras's weight shapes) and against torch.nn.MultiheadAttention with the weights
mapped over; weights, masks, dropout, errors."""
import re

import numpy as np
import pytest

import minidl as md
from minidl import keras
from minidl.keras import layers
from minidl.testing import assert_close

TOL = (1e-10, 1e-10)


@pytest.fixture(autouse=True)
def fresh_session():
    keras.backend.clear_session()
    md.manual_seed(0)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def keras_formula(weights, query, value, key, key_dim, allowed=None):
    """Keras's MultiHeadAttention in NumPy: einsum projections with kernels (in, H, dim), the
    scores softmax(q k / sqrt(key_dim)) over the allowed keys (rows with none: 0), the output
    projection with kernel (H, value_dim, out)."""
    wq, bq, wk, bk, wv, bv, wo, bo = weights
    q = np.einsum("btc,chd->bthd", query, wq) + bq
    k = np.einsum("bsc,chd->bshd", key, wk) + bk
    v = np.einsum("bsc,chd->bshd", value, wv) + bv
    logits = np.einsum("bthd,bshd->bhts", q, k) / np.sqrt(key_dim)
    if allowed is not None:
        logits = np.where(allowed[:, None], logits, -np.inf)
    top = np.max(logits, axis=-1, keepdims=True)
    e = np.exp(logits - np.where(np.isfinite(top), top, 0))
    total = e.sum(-1, keepdims=True)
    scores = e / np.where(total == 0, 1, total)
    heads = np.einsum("bhts,bshd->bthd", scores, v)
    return np.einsum("bthd,hdo->bto", heads, wo) + bo, scores


def with_random_weights(layer, seed=1):
    weights = [rand(*w.shape, seed=seed + i) * 0.5 for i, w in enumerate(layer.get_weights())]
    layer.set_weights(weights)
    return weights


@pytest.mark.parametrize("mask", ["none", "attention_mask", "causal", "both"])
def test_matches_keras_formula(float64, mask):
    """query (2, 4, 5) attends over value (2, 6, 3) with its own key (2, 6, 7); 3 heads of
    key_dim 2, value_dim 4: every dim distinct, so a wrong axis cannot pass."""
    layer = layers.MultiHeadAttention(num_heads=3, key_dim=2, value_dim=4)
    query, value, key = rand(2, 4, 5, seed=1), rand(2, 6, 3, seed=2), rand(2, 6, 7, seed=3)
    attention_mask = np.random.default_rng(4).random((2, 4, 6)) > 0.4
    attention_mask[0, 2] = False  # a query that sees no key
    layer(md.tensor(query), md.tensor(value), md.tensor(key))
    weights = with_random_weights(layer)
    assert [w.shape for w in weights] == [(5, 3, 2), (3, 2), (7, 3, 2), (3, 2), (3, 3, 4), (3, 4), (3, 4, 5), (5,)]
    options, allowed = {}, None
    if mask in ("attention_mask", "both"):
        options["attention_mask"], allowed = attention_mask, attention_mask
    if mask in ("causal", "both"):
        options["use_causal_mask"] = True
        causal = np.broadcast_to(np.tril(np.ones((4, 6), bool)), (2, 4, 6))
        allowed = causal if allowed is None else allowed & causal
    out, scores = layer(md.tensor(query), md.tensor(value), key=md.tensor(key), return_attention_scores=True, **options)
    expected, expected_scores = keras_formula(weights, query, value, key, 2, allowed)
    assert_close(out.numpy(), expected, *TOL, "output")
    assert_close(scores.numpy(), expected_scores, *TOL, "scores")


def test_key_defaults_to_value_and_output_shape(float64):
    layer = layers.MultiHeadAttention(2, 3, output_shape=6)
    query, value = rand(2, 4, 5, seed=1), rand(2, 3, 5, seed=2)
    out = layer(md.tensor(query), md.tensor(value))
    expected, _ = keras_formula(layer.get_weights(), query, value, value, 3)
    assert out.shape == (2, 4, 6)
    assert_close(out.numpy(), expected, *TOL, "output")


@pytest.mark.torch
def test_matches_torch_multihead_attention_with_mapped_weights(float64):
    """Keras's kernels (E, H, d) flattened to (E, H * d) and transposed are torch's in_proj rows;
    the output kernel (H, d, E) flattened and transposed is out_proj.weight.  Outputs, input
    gradients and weight gradients agree."""
    torch = pytest.importorskip("torch")
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=3)
    x = rand(2, 5, 6, seed=1)
    layer(md.tensor(x), md.tensor(x))
    wq, bq, wk, bk, wv, bv, wo, bo = with_random_weights(layer)
    theirs = torch.nn.MultiheadAttention(6, 2, batch_first=True).double()
    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.tensor(np.concatenate([w.reshape(6, 6).T for w in (wq, wk, wv)])))
        theirs.in_proj_bias.copy_(torch.tensor(np.concatenate([b.reshape(6) for b in (bq, bk, bv)])))
        theirs.out_proj.weight.copy_(torch.tensor(wo.reshape(6, 6).T))
        theirs.out_proj.bias.copy_(torch.tensor(bo))
    allowed = np.random.default_rng(3).random((2, 5, 5)) > 0.3
    x_ours, x_theirs = md.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, scores = layer(x_ours, x_ours, attention_mask=allowed, return_attention_scores=True)
    expected, expected_scores = theirs(x_theirs, x_theirs, x_theirs, attn_mask=torch.tensor(~allowed).repeat_interleave(2, 0),
                                       average_attn_weights=False)
    assert_close(out.numpy(), expected.detach().numpy(), *TOL, "output")
    assert_close(scores.numpy(), expected_scores.detach().numpy(), *TOL, "scores")
    upstream = rand(2, 5, 6, seed=9)
    (out * md.tensor(upstream)).sum().backward()
    (expected * torch.tensor(upstream)).sum().backward()
    assert_close(x_ours.grad.numpy(), x_theirs.grad.numpy(), *TOL, "input grad")
    ours_weight_grads = np.concatenate([layer.query_dense.weight.grad.numpy(), layer.key_dense.weight.grad.numpy(),
                                        layer.value_dense.weight.grad.numpy()])
    assert_close(ours_weight_grads, theirs.in_proj_weight.grad.numpy(), *TOL, "projection weight grads")
    assert_close(layer.output_dense.weight.grad.numpy(), theirs.out_proj.weight.grad.numpy(), *TOL, "output grad")


def test_initial_weights_are_keras_glorot_uniform_with_einsum_fans():
    """Keras's fans of a kernel (in, H, d): fan_in = H * in, fan_out = d * in; biases zero."""
    layer = layers.MultiHeadAttention(num_heads=4, key_dim=8)
    layer(md.zeros(1, 3, 16), md.zeros(1, 3, 16))
    query_kernel, query_bias, *_, output_kernel, output_bias = layer.get_weights()
    for kernel, fan_in, fan_out in ((query_kernel, 4 * 16, 8 * 16), (output_kernel, 8 * 4, 16 * 4)):
        bound = np.sqrt(6 / (fan_in + fan_out))
        assert 0.9 * bound < np.abs(kernel).max() <= bound
    assert not query_bias.any() and not output_bias.any()
    assert layer.count_params() == 3 * (16 * 32 + 32) + 32 * 16 + 16


def test_no_bias_and_weights_round_trip():
    layer = layers.MultiHeadAttention(2, 2, use_bias=False)
    layer(md.zeros(1, 3, 4), md.zeros(1, 2, 4))
    weights = [rand(*w.shape, seed=i).astype(np.float32) for i, w in enumerate(layer.get_weights())]
    assert [w.shape for w in weights] == [(4, 2, 2)] * 3 + [(2, 2, 4)]
    layer.set_weights(weights)
    for got, given in zip(layer.get_weights(), weights):
        np.testing.assert_array_equal(got, given)


def test_dropout_in_training_only_and_scores_before_dropout(float64):
    layer = layers.MultiHeadAttention(2, 3, dropout=0.5)
    query, value = rand(2, 4, 5, seed=1), rand(2, 6, 5, seed=2)
    layer(md.tensor(query), md.tensor(value))  # builds the layer
    expected, expected_scores = keras_formula(with_random_weights(layer), query, value, value, 3)
    out, scores = layer(md.tensor(query), md.tensor(value), return_attention_scores=True, training=True)
    assert_close(scores.numpy(), expected_scores, *TOL, "scores")
    assert not np.allclose(out.numpy(), expected)
    out = layer(md.tensor(query), md.tensor(value), training=False)
    assert_close(out.numpy(), expected, *TOL, "output in inference")
    layer.eval()
    assert_close(layer(md.tensor(query), md.tensor(value)).numpy(), expected, *TOL, "output in eval mode")


# ----------------------------------------------------------------------------- errors
def test_error_attention_axes_other_than_the_sequence():
    with pytest.raises(NotImplementedError, match=r"attends along the sequence axis only .* got attention_axes=\(1, 2\)"):
        layers.MultiHeadAttention(2, 3, attention_axes=(1, 2))


def test_error_input_rank():
    with pytest.raises(NotImplementedError, match=re.escape("takes query, value and key of shape (batch, T, features), "
                                                            "got shapes (2, 3, 3, 4), (2, 3, 3, 4) and (2, 3, 3, 4)")):
        layers.MultiHeadAttention(2, 3)(md.zeros(2, 3, 3, 4), md.zeros(2, 3, 3, 4))


def test_error_key_and_value_lengths_differ():
    with pytest.raises(ValueError, match=re.escape("All dimensions of `value` and `key`, except the last one, must be "
                                                   "equal. Received: value_shape=(2, 5, 4) and key_shape=(2, 6, 4)")):
        layers.MultiHeadAttention(2, 3)(md.zeros(2, 3, 4), md.zeros(2, 5, 4), key=md.zeros(2, 6, 4))


def test_error_attention_mask_shape():
    with pytest.raises(ValueError, match=re.escape("expected attention_mask of shape (batch, T, S) = (batch, 3, 5), "
                                                   "got shape (2, 5, 3)")):
        layers.MultiHeadAttention(2, 3)(md.zeros(2, 3, 4), md.zeros(2, 5, 4), attention_mask=np.ones((2, 5, 3), bool))


def test_error_features_other_than_at_build():
    layer = layers.MultiHeadAttention(2, 3, name="mha")
    layer(md.zeros(2, 3, 4), md.zeros(2, 5, 4))
    with pytest.raises(ValueError, match=re.escape("mha: the layer was built for query, key and value with 4, 4 and 4 "
                                                   "features, got shapes query (2, 3, 6)")):
        layer(md.zeros(2, 3, 6), md.zeros(2, 5, 4))


# ----------------------------------------------------------------------------- Add
def test_add_sums_a_list_and_sends_the_gradient_to_each():
    a, b, c = (md.tensor(rand(2, 3, seed=s), requires_grad=True) for s in (1, 2, 3))
    out = layers.Add()([a, b, c])
    assert_close(out.numpy(), a.numpy() + b.numpy() + c.numpy(), 1e-6, 1e-6, "sum")
    out.sum().backward()
    for x in (a, b, c):
        np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 3)))


def test_add_as_a_residual_connection_around_attention(float64):
    x = rand(2, 4, 6, seed=1)
    attention = layers.MultiHeadAttention(2, 3)
    out = layers.Add()([md.tensor(x), attention(md.tensor(x), md.tensor(x))])
    expected, _ = keras_formula(attention.get_weights(), x, x, x, 3)
    assert_close(out.numpy(), x + expected, *TOL, "x + attention(x)")


@pytest.mark.parametrize("inputs, match", [
    (np.zeros((2, 3)), "A merge layer should be called on a list of inputs"),
    ([], "A merge layer should be called on a list of at least 1 input. Got 0 inputs."),
    ([np.zeros((2, 3)), np.zeros((2, 4))], re.escape("Inputs have incompatible shapes. Received shapes (2, 3), (2, 4)")),
])
def test_add_errors(inputs, match):
    with pytest.raises(ValueError, match=match):
        layers.Add()(inputs)
