"""TransformerEncoderLayer and TransformerEncoder against torch.nn in float64 (post- and pre-norm,
relu/gelu/a callable, batch_first both ways, masks, train and eval), torch state_dicts, and the
sinusoidal positional encoding against its formula written out here."""
import math

import numpy as np
import pytest

import minidl as md
import minidl.functional as F
from minidl import nn
from minidl.testing import assert_close

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

TOL = (1e-10, 1e-10)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def randomize(module, seed=0):
    """Random weights (LayerNorm's too) in a torch module, so that no parameter is left at 0 or 1."""
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.tensor(rng.uniform(-0.5, 0.5, p.shape)))
    return module


def loaded(ours, theirs):
    """Ours with torch's weights, both float64; the state_dict keys are torch's."""
    ours.double().load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert list(ours.state_dict()) == list(theirs.state_dict())
    return ours


def layer_twins(ours_activation="relu", theirs_activation="relu", **options):
    options = dict(dict(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0), **options)
    theirs = randomize(torch.nn.TransformerEncoderLayer(activation=theirs_activation, **options).double())
    return loaded(nn.TransformerEncoderLayer(activation=ours_activation, **options), theirs), theirs


def step(ours, theirs, x, **masks):
    """Forward and backward through both; outputs, input and parameter gradients agree."""
    x_ours, x_theirs = md.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_ours = ours(x_ours, **{k: md.tensor(v) for k, v in masks.items()})
    out_theirs = theirs(x_theirs, **{k: torch.tensor(v) for k, v in masks.items()})
    assert_close(out_ours.numpy(), out_theirs.detach().numpy(), *TOL, "output")
    upstream = rand(*x.shape, seed=9)
    (out_ours * md.tensor(upstream)).sum().backward()
    (out_theirs * torch.tensor(upstream)).sum().backward()
    assert_close(x_ours.grad.numpy(), x_theirs.grad.numpy(), *TOL, "input grad")
    theirs_params = dict(theirs.named_parameters())
    assert [name for name, _ in ours.named_parameters()] == list(theirs_params)
    for name, p in ours.named_parameters():
        assert_close(p.grad.numpy(), theirs_params[name].grad.numpy(), *TOL, f"grad of {name}")


CAUSAL = np.triu(np.ones((5, 5), bool), 1)  # True above the diagonal: may not attend
PADDING = np.array([[False] * 5, [False, False, False, True, True], [False, False, False, False, True]])


@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_with_masks(batch_first, norm_first, activation):
    ours, theirs = layer_twins(activation, activation, batch_first=batch_first, norm_first=norm_first)
    x = rand(*((3, 5, 8) if batch_first else (5, 3, 8)), seed=1)
    step(ours, theirs, x, src_mask=CAUSAL, src_key_padding_mask=PADDING, is_causal=True)


def test_encoder_layer_without_masks_unbatched_and_float_mask():
    ours, theirs = layer_twins()
    step(ours, theirs, rand(5, 8, seed=1), src_mask=rand(5, 5, seed=2))


def test_encoder_layer_with_a_callable_activation():
    ours, theirs = layer_twins(F.silu, torch.nn.functional.silu, batch_first=True)
    step(ours, theirs, rand(3, 5, 8, seed=1))


def test_encoder_layer_eval_mode_ignores_dropout_as_torch():
    ours, theirs = layer_twins(dropout=0.3)
    ours.eval(), theirs.eval()
    step(ours, theirs, rand(5, 3, 8, seed=1), src_key_padding_mask=PADDING)


def test_encoder_layer_training_with_dropout_drops():
    md.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.5)
    x = md.tensor(rand(5, 3, 8, seed=1), dtype=md.float32)
    assert not np.allclose(layer(x).numpy(), layer(x).numpy())
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), layer(x).numpy())


def test_encoder_layer_bias_false_has_torch_keys():
    ours, theirs = layer_twins(bias=False)
    assert not any(key.endswith("bias") for key in ours.state_dict())
    step(ours, theirs, rand(5, 3, 8, seed=1))


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_stack_with_final_norm(norm_first):
    """Two deep copies of the layer (each its own parameters) then a LayerNorm; torch's keys
    (layers.0.self_attn.in_proj_weight, ..., norm.weight)."""
    options = dict(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0, batch_first=True, norm_first=norm_first)
    theirs = randomize(torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(**options), 2,
                                                   norm=torch.nn.LayerNorm(8), enable_nested_tensor=False).double())
    ours = loaded(nn.TransformerEncoder(nn.TransformerEncoderLayer(**options), 2, norm=nn.LayerNorm(8)), theirs)
    step(ours, theirs, rand(3, 5, 8, seed=1), mask=CAUSAL, src_key_padding_mask=PADDING)


def test_encoder_copies_the_layer():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    encoder = nn.TransformerEncoder(layer, 3)
    weights = [block.linear1.weight for block in encoder.layers]
    assert len(weights) == 3 and len({id(w) for w in weights + [layer.linear1.weight]}) == 4
    for w in weights:
        np.testing.assert_array_equal(w.numpy(), layer.linear1.weight.numpy())
    assert len(list(encoder.parameters())) == 3 * len(list(layer.parameters()))


def test_error_unknown_activation():
    with pytest.raises(RuntimeError, match="activation should be relu/gelu"):
        torch.nn.TransformerEncoderLayer(8, 2, activation="tanh")
    with pytest.raises(ValueError, match="TransformerEncoderLayer: activation should be relu/gelu or a callable, "
                                         "not 'tanh'"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")


def test_error_d_model_not_divisible_by_nhead():
    with pytest.raises(AssertionError):
        torch.nn.TransformerEncoderLayer(10, 3)
    with pytest.raises(ValueError, match="MultiheadAttention: embed_dim must be divisible by num_heads"):
        nn.TransformerEncoderLayer(10, 3)


# ----------------------------------------------------------------------------- positional encoding
def vaswani_table(max_len, d_model):
    """PE[pos, 2i] = sin(pos / 10000^(2i / d_model)), PE[pos, 2i + 1] = cos(the same), entry by entry."""
    table = np.zeros((max_len, d_model))
    for pos in range(max_len):
        for j in range(d_model):
            angle = pos / 10000 ** ((j - j % 2) / d_model)
            table[pos, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    return table


@pytest.mark.parametrize("d_model", [6, 7])
def test_sinusoidal_table_is_the_formula(d_model):
    assert_close(nn.sinusoidal_positions(50, d_model, np.float64), vaswani_table(50, d_model), 1e-12, 1e-12, "table")


@pytest.mark.parametrize("batch_first", [False, True])
def test_positional_encoding_adds_the_table_along_the_sequence(batch_first, float64):
    layer = nn.SinusoidalPositionalEncoding(6, max_len=20, batch_first=batch_first)
    x = rand(4, 7, 6, seed=1)  # (S, N, d) = (4, 7, 6), or (N, S, d) = (4, 7, 6) with batch_first
    table = vaswani_table(7 if batch_first else 4, 6)
    expected = x + (table[None] if batch_first else table[:, None])
    assert_close(layer(md.tensor(x)).numpy(), expected, 1e-12, 1e-12, "x + PE")
    assert list(layer.state_dict()) == ["pe"] and layer.pe.shape == (20, 1, 6)


def test_positional_encoding_dropout_in_training_only():
    md.manual_seed(0)
    layer = nn.SinusoidalPositionalEncoding(4, dropout=0.5)
    x = md.zeros(6, 2, 4)
    dropped = layer(x).numpy() == 0
    assert dropped.any() and not dropped.all()
    layer.eval()
    assert_close(layer(x).numpy(), vaswani_table(6, 4)[:, None].repeat(2, 1), 1e-6, 1e-6, "eval")


@pytest.mark.parametrize("shape", [(11, 2, 4), (3, 2, 5), (3, 4)])
def test_positional_encoding_error_on_a_wrong_shape(shape):
    layer = nn.SinusoidalPositionalEncoding(4, max_len=10)
    with pytest.raises(ValueError, match=rf"SinusoidalPositionalEncoding: expected input of shape \(S, N, 4\) with "
                                         rf"S <= max_len=10, got shape \({', '.join(map(str, shape))}\)"):
        layer(md.zeros(*shape))
