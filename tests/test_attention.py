"""scaled_dot_product_attention and MultiheadAttention against torch in float64: outputs, attention
weights, input and parameter gradients, every kind of mask, batch_first both ways, unbatched
inputs, torch state_dicts, and one test per error.  SDPA over drawn shapes is in op_cases.py."""
import re

import numpy as np
import pytest

import minidl as md
import minidl.functional as F
from minidl import nn
from minidl.testing import assert_close

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

TOL = (1e-10, 1e-10)
RAISED_BY_TORCH = (AssertionError, RuntimeError, ValueError)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ----------------------------------------------------------------------------- scaled_dot_product_attention
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mask_kind", ["bool", "float"])
def test_sdpa_row_with_every_key_masked_gives_zeros_as_torch(dtype, mask_kind):
    """torch 2.13 gives 0 (not NaN) for such a row, and no gradient flows through it."""
    keep = np.array([[True, False, True, True], [False] * 4, [True, True, False, True]])
    mask = keep if mask_kind == "bool" else np.where(keep, 0.0, -np.inf).astype(dtype)
    q, k, v = (rand(2, n, 3, seed=s).astype(dtype) for s, n in ((1, 3), (2, 4), (3, 4)))
    ours = [md.tensor(x, requires_grad=True) for x in (q, k, v)]
    theirs = [torch.tensor(x, requires_grad=True) for x in (q, k, v)]
    out = F.scaled_dot_product_attention(*ours, attn_mask=md.tensor(mask))
    expected = torch.nn.functional.scaled_dot_product_attention(*theirs, attn_mask=torch.tensor(mask))
    assert np.all(out.numpy()[:, 1] == 0) and not np.isnan(out.numpy()).any()
    tol = TOL if dtype == np.float64 else (1e-5, 1e-5)
    assert_close(out.numpy(), expected.detach().numpy(), *tol, "output")
    out.sum().backward()
    expected.sum().backward()
    for name, a, b in zip("qkv", ours, theirs):
        assert_close(a.grad.numpy(), b.grad.numpy(), *tol, f"grad of {name}")
    assert np.all(ours[0].grad.numpy()[:, 1] == 0)


def test_sdpa_dropout_zeroes_weights_and_scales_the_rest():
    """With value = identity the output *is* the dropped weights: each one 0 or torch's weight / (1 - p)."""
    q, k = rand(4, 6, 3, seed=1), rand(4, 5, 3, seed=2)
    identity = np.broadcast_to(np.eye(5), (4, 5, 5))
    weights = torch.softmax(torch.tensor(q) @ torch.tensor(k).transpose(1, 2) / np.sqrt(3), dim=-1).numpy()
    md.manual_seed(0)
    out = F.scaled_dot_product_attention(md.tensor(q), md.tensor(k), md.tensor(identity), dropout_p=0.4).numpy()
    dropped = out == 0
    assert 0.2 < dropped.mean() < 0.6
    assert_close(out[~dropped], weights[~dropped] / 0.6, *TOL, "kept weights")
    one = F.scaled_dot_product_attention(md.tensor(q), md.tensor(k), md.tensor(identity), dropout_p=1.0)
    assert np.all(one.numpy() == 0)


def test_sdpa_4d_heads_with_causal_mask_matches_torch():
    q, k, v = rand(2, 3, 5, 4, seed=1), rand(2, 3, 5, 4, seed=2), rand(2, 3, 5, 6, seed=3)
    out = F.scaled_dot_product_attention(md.tensor(q), md.tensor(k), md.tensor(v), is_causal=True)
    expected = torch.nn.functional.scaled_dot_product_attention(*map(torch.tensor, (q, k, v)), is_causal=True)
    assert_close(out.numpy(), expected.numpy(), *TOL, "output")


def sdpa_raises(error, match, q=(2, 3, 4), k=(2, 5, 4), v=(2, 5, 6), **options):
    """Both libraries refuse the call; ours with ``error`` and a message matching ``match``."""
    inputs = [rand(*shape, seed=i) for i, shape in enumerate((q, k, v))]
    to_torch = {key: torch.tensor(value) if isinstance(value, np.ndarray) else value for key, value in options.items()}
    with pytest.raises(RAISED_BY_TORCH):
        torch.nn.functional.scaled_dot_product_attention(*map(torch.tensor, inputs), **to_torch)
    to_md = {key: md.tensor(value) if isinstance(value, np.ndarray) else value for key, value in options.items()}
    with pytest.raises(error, match=match):
        F.scaled_dot_product_attention(*map(md.tensor, inputs), **to_md)


def test_sdpa_error_mask_and_is_causal():
    sdpa_raises(ValueError, "scaled_dot_product_attention: attn_mask should not be set when is_causal=True",
                attn_mask=np.ones((3, 5), bool), is_causal=True)


def test_sdpa_error_mask_dtype():
    sdpa_raises(TypeError, "scaled_dot_product_attention: expected attn_mask of dtype bool or floating, got int64",
                attn_mask=np.zeros((3, 5), np.int64))


@pytest.mark.parametrize("shape", [(3, 4), (1, 2, 3, 5)])
def test_sdpa_error_mask_shape(shape):
    sdpa_raises(ValueError, re.escape("scaled_dot_product_attention: expected attn_mask broadcastable to the "
                                      f"scores' shape (..., L, S) = (2, 3, 5), got shape {shape}"),
                attn_mask=np.zeros(shape, bool))


@pytest.mark.parametrize("k, v", [((2, 5, 3), (2, 5, 6)), ((2, 5, 4), (2, 4, 6))])
def test_sdpa_error_feature_or_length_mismatch(k, v):
    sdpa_raises(ValueError, re.escape(f"scaled_dot_product_attention: expected query (..., L, E), key (..., S, E) and "
                                      f"value (..., S, Ev), got shapes (2, 3, 4), {k} and {v}"), k=k, v=v)


def test_sdpa_error_one_dimensional_query():
    sdpa_raises(ValueError, re.escape("scaled_dot_product_attention: expected query (..., L, E), key (..., S, E) and "
                                      "value (..., S, Ev) of at least 2 dims, got shapes (4,), (2, 5, 4) and (2, 5, 6)"),
                q=(4,))


def test_sdpa_error_batch_dims_do_not_broadcast():
    sdpa_raises(ValueError, "scaled_dot_product_attention: the batch dims of query, key and value do not broadcast",
                k=(3, 5, 4), v=(3, 5, 6))


def test_sdpa_error_mixed_dtypes():
    with pytest.raises(RuntimeError):
        torch.nn.functional.scaled_dot_product_attention(torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.float64),
                                                         torch.zeros(2, 3))
    with pytest.raises(TypeError, match="expected query, key and value of one floating dtype, got float32, float64 and float32"):
        F.scaled_dot_product_attention(md.zeros(2, 3), md.zeros(2, 3, dtype=md.float64), md.zeros(2, 3))


# ----------------------------------------------------------------------------- MultiheadAttention
def twins(*args, **kwargs):
    """torch.nn.MultiheadAttention in float64 with random weights (biases too), and ours loaded
    from its state_dict."""
    theirs = torch.nn.MultiheadAttention(*args, **kwargs).double()
    rng = np.random.default_rng(0)
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.tensor(rng.uniform(-0.5, 0.5, p.shape)))
    ours = nn.MultiheadAttention(*args, **kwargs).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def as_md(value):
    return md.tensor(value, requires_grad=value.dtype.kind == "f") if isinstance(value, np.ndarray) else value


def as_torch(value):
    return torch.tensor(value, requires_grad=value.dtype.kind == "f") if isinstance(value, np.ndarray) else value


def step(ours, theirs, query, key=None, value=None, **options):
    """Forward and backward of both layers (key and value default to query: self-attention, one
    tensor): outputs, weights, input and parameter gradients agree."""
    ours_in, theirs_in = as_md(query), as_torch(query)
    ours_args = [ours_in if x is None else as_md(x) for x in (None, key, value)]
    theirs_args = [theirs_in if x is None else as_torch(x) for x in (None, key, value)]
    ours_opts = {k: as_md(v) for k, v in options.items()}
    theirs_opts = {k: as_torch(v) for k, v in options.items()}
    out_ours, weights_ours = ours(*ours_args, **ours_opts)
    out_theirs, weights_theirs = theirs(*theirs_args, **theirs_opts)
    assert_close(out_ours.numpy(), out_theirs.detach().numpy(), *TOL, "output")
    if weights_theirs is None:
        assert weights_ours is None
    else:
        assert_close(weights_ours.numpy(), weights_theirs.detach().numpy(), *TOL, "weights")
    upstream = rand(*out_ours.shape, seed=9)
    loss_ours = (out_ours * md.tensor(upstream)).sum()
    loss_theirs = (out_theirs * torch.tensor(upstream)).sum()
    if weights_theirs is not None:  # the weights carry gradient too
        loss_ours = loss_ours + (weights_ours * md.tensor(rand(*weights_ours.shape, seed=8))).sum()
        loss_theirs = loss_theirs + (weights_theirs * torch.tensor(rand(*weights_ours.shape, seed=8))).sum()
    loss_ours.backward()
    loss_theirs.backward()
    tensors = [(ours_args[i], theirs_args[i]) for i in range(3)] + [(ours_opts[k], theirs_opts[k]) for k in options]
    for i, (a, b) in enumerate(tensors):
        if isinstance(b, torch.Tensor) and b.requires_grad:
            assert_close(a.grad.numpy(), b.grad.numpy(), *TOL, f"grad of input {i}")
    theirs_params = dict(theirs.named_parameters())
    assert [name for name, _ in ours.named_parameters()] == list(theirs_params)
    for name, p in ours.named_parameters():
        assert_close(p.grad.numpy(), theirs_params[name].grad.numpy(), *TOL, f"grad of {name}")


def sequences(batch_first, length, batch, features, seed):
    return rand(*((batch, length, features) if batch_first else (length, batch, features)), seed=seed)


KEY_PADDING = np.array([[False, False, True, False, True], [True, False, False, False, False]])
ATTN_2D = np.array([[False, True, False, False, False], [False, False, False, True, True], [True, False, False, False, False]])
MASKS = {
    "none": {},
    "key_padding bool": {"key_padding_mask": KEY_PADDING},
    "key_padding float": {"key_padding_mask": np.where(KEY_PADDING, -2.0, 0.5)},
    "attn 2-D bool": {"attn_mask": ATTN_2D},
    "attn 2-D float": {"attn_mask": rand(3, 5, seed=4)},
    "attn 3-D bool": {"attn_mask": np.random.default_rng(5).random((4, 3, 5)) > 0.7},
    "attn 3-D float": {"attn_mask": rand(4, 3, 5, seed=6)},
    "both bool": {"key_padding_mask": KEY_PADDING, "attn_mask": ATTN_2D},
    "both float": {"key_padding_mask": np.where(KEY_PADDING, -np.inf, 0.0), "attn_mask": rand(3, 5, seed=7)},
}


@pytest.mark.parametrize("mask", sorted(MASKS))
@pytest.mark.parametrize("batch_first", [False, True])
def test_cross_attention_with_masks(mask, batch_first):
    """query (L=3), key and value (S=5), batch 2, 2 heads: every kind of mask, float masks
    receiving gradients too."""
    ours, theirs = twins(6, 2, batch_first=batch_first)
    query, key, value = (sequences(batch_first, n, 2, 6, seed) for n, seed in ((3, 1), (5, 2), (5, 3)))
    step(ours, theirs, query, key, value, **MASKS[mask])


@pytest.mark.parametrize("need_weights, average", [(True, False), (False, True)])
@pytest.mark.parametrize("batch_first", [False, True])
def test_self_attention_weights_per_head_or_none(batch_first, need_weights, average):
    ours, theirs = twins(8, 4, batch_first=batch_first)
    step(ours, theirs, sequences(batch_first, 4, 3, 8, seed=1), need_weights=need_weights,
         average_attn_weights=average, attn_mask=np.triu(np.ones((4, 4), bool), 1), is_causal=True)


@pytest.mark.parametrize("options", [dict(kdim=3, vdim=5), dict(bias=False), dict(add_bias_kv=True),
                                     dict(add_zero_attn=True), dict(add_bias_kv=True, add_zero_attn=True, kdim=3)],
                         ids=str)
def test_layer_options(options):
    ours, theirs = twins(6, 3, **options)
    query = rand(3, 2, 6, seed=1)
    key, value = rand(5, 2, options.get("kdim", 6), seed=2), rand(5, 2, options.get("vdim", 6), seed=3)
    step(ours, theirs, query, key, value, **MASKS["both bool"])


@pytest.mark.parametrize("mask", ["none", "attn 2-D bool", "attn 3-D float"])
def test_unbatched_input(mask):
    """(L, E) without a batch dim; a 3-D attn_mask is then (num_heads, L, S), key_padding_mask (S,)."""
    ours, theirs = twins(4, 2)
    options = dict(MASKS[mask], key_padding_mask=KEY_PADDING[0])
    if mask == "attn 3-D float":
        options.update(attn_mask=rand(2, 3, 5, seed=6), key_padding_mask=np.where(KEY_PADDING[0], -np.inf, 0.0))
    step(ours, theirs, rand(3, 4, seed=1), rand(5, 4, seed=2), rand(5, 4, seed=3), **options)


def test_train_and_eval_with_dropout_zero_agree_with_torch_and_eval_ignores_dropout():
    ours, theirs = twins(6, 2, dropout=0.0)
    x = rand(3, 2, 6, seed=1)
    step(ours, theirs, x)
    dropping, _ = twins(6, 2, dropout=0.7)
    dropping.eval(), theirs.eval()
    ours.zero_grad(), theirs.zero_grad()
    step(dropping, theirs, x)


def test_a_query_with_every_key_masked_gives_out_proj_bias_and_zero_weights():
    """torch gives NaN here with need_weights=True and, as we do, zeros before out_proj with
    need_weights=False (the difference documented in the docstring)."""
    ours, theirs = twins(4, 2, batch_first=True)
    x = rand(2, 3, 4, seed=1)
    every_key = np.zeros((3, 3), bool)
    every_key[1] = True
    out, weights = ours(md.tensor(x), md.tensor(x), md.tensor(x), attn_mask=md.tensor(every_key))
    expected, _ = theirs(*[torch.tensor(x)] * 3, attn_mask=torch.tensor(every_key), need_weights=False)
    assert_close(out.numpy(), expected.detach().numpy(), *TOL, "output")
    assert_close(out.numpy()[:, 1], np.broadcast_to(ours.out_proj.bias.numpy(), (2, 4)), *TOL, "masked row")
    assert np.all(weights.numpy()[:, 1] == 0)


@pytest.mark.parametrize("options, keys", [
    ({}, ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]),
    ({"kdim": 2, "vdim": 3, "add_bias_kv": True},
     ["q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "bias_k", "bias_v", "out_proj.weight",
      "out_proj.bias"]),
    ({"bias": False}, ["in_proj_weight", "out_proj.weight"]),
])
def test_state_dict_keys_and_shapes_as_torch(options, keys):
    ours, theirs = nn.MultiheadAttention(4, 2, **options), torch.nn.MultiheadAttention(4, 2, **options)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == keys
    for key, value in theirs.state_dict().items():
        assert ours.state_dict()[key].shape == tuple(value.shape)
    assert type(ours.out_proj).__name__ == type(theirs.out_proj).__name__ == "NonDynamicallyQuantizableLinear"


def test_initial_values_as_torch():
    """Glorot-uniform in_proj_weight (3E, E): |w| <= sqrt(6 / (E + 3E)); zero biases."""
    md.manual_seed(0)
    layer = nn.MultiheadAttention(16, 4)
    bound = np.sqrt(6 / (16 + 48))
    weight = layer.in_proj_weight.numpy()
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.9 * bound
    assert np.all(layer.in_proj_bias.numpy() == 0) and np.all(layer.out_proj.bias.numpy() == 0)


def test_mixed_mask_dtypes_warn_as_torch():
    ours, theirs = twins(4, 2)
    x = rand(3, 2, 4, seed=1)
    options = {"key_padding_mask": KEY_PADDING[:, :3], "attn_mask": np.zeros((3, 3))}
    with pytest.warns(UserWarning, match="Support for mismatched key_padding_mask and attn_mask is deprecated"):
        theirs(*[torch.tensor(x)] * 3, **{k: torch.tensor(v) for k, v in options.items()})
    with pytest.warns(UserWarning, match="Support for mismatched key_padding_mask and attn_mask is deprecated"):
        step(ours, theirs, x, **options)


# ----------------------------------------------------------------------------- MultiheadAttention errors
def test_error_embed_dim_not_divisible_by_num_heads():
    with pytest.raises(AssertionError):
        torch.nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="MultiheadAttention: embed_dim must be divisible by num_heads, "
                                         "got embed_dim=10 and num_heads=3"):
        nn.MultiheadAttention(10, 3)


def test_error_embed_dim_not_positive():
    with pytest.raises(ValueError):
        torch.nn.MultiheadAttention(0, 2)
    with pytest.raises(ValueError, match="MultiheadAttention: embed_dim and num_heads must be greater than 0, "
                                         "got embed_dim=0 and num_heads=2"):
        nn.MultiheadAttention(0, 2)


def mha_raises(error, match, query=(3, 2, 4), key=(5, 2, 4), value=(5, 2, 4), **masks):
    """Both layers refuse the call; ours with ``error`` and a message matching ``match``."""
    ours, theirs = twins(4, 2)
    inputs = [rand(*shape, seed=i) for i, shape in enumerate((query, key, value))]
    with pytest.raises(RAISED_BY_TORCH):
        theirs(*map(torch.tensor, inputs), **{k: torch.tensor(v) for k, v in masks.items()})
    with pytest.raises(error, match=match):
        ours(*map(md.tensor, inputs), **{k: md.tensor(v) for k, v in masks.items()})


def test_error_wrong_embedding_size_of_the_input():
    mha_raises(ValueError, re.escape("MultiheadAttention: expected query with 4 features in its last dim, "
                                     "got shape (3, 2, 5)"), query=(3, 2, 5))


def test_error_key_and_value_of_different_shapes():
    mha_raises(ValueError, re.escape("MultiheadAttention: expected key and value of the same sequence length and "
                                     "batch, got shapes (5, 2, 4) and (4, 2, 4)"), value=(4, 2, 4))


def test_error_query_of_four_dims():
    mha_raises(ValueError, re.escape("MultiheadAttention: expected query of shape (L, N, E), (N, L, E) with "
                                     "batch_first or unbatched (L, E), got shape (1, 3, 2, 4)"), query=(1, 3, 2, 4))


def test_error_key_of_other_rank_than_query():
    mha_raises(ValueError, "MultiheadAttention: expected key and value with query's 3 dims", key=(5, 4), value=(5, 4))


def test_error_key_padding_mask_shape():
    mha_raises(ValueError, re.escape("MultiheadAttention: expected key_padding_mask of shape (N, S) = (2, 5), "
                                     "got (2, 4)"), key_padding_mask=np.zeros((2, 4), bool))


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 5)])
def test_error_attn_mask_shape(shape):
    mha_raises(ValueError, re.escape("MultiheadAttention: expected attn_mask of shape (L, S) = (3, 5) or "
                                     f"(N * num_heads, L, S) = (4, 3, 5), got {shape}"), attn_mask=np.zeros(shape, bool))


def test_error_mask_dtype():
    mha_raises(TypeError, "MultiheadAttention: only bool and floating types of attn_mask are supported, got int64",
               attn_mask=np.zeros((3, 5), np.int64))


def test_error_is_causal_without_mask():
    ours, theirs = twins(4, 2)
    x = rand(3, 2, 4)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        theirs(*[torch.tensor(x)] * 3, is_causal=True)
    with pytest.raises(ValueError, match="MultiheadAttention: is_causal=True is a hint that attn_mask is the causal "
                                         "mask; pass attn_mask too"):
        ours(*[md.tensor(x)] * 3, is_causal=True)
