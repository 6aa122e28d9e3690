"""md.compress: exact pruning amounts, masks that hold through training, int8 (and 2- to 16-bit)
error bounds and sizes, and accuracy before and after on a small trained digits model."""
import re

import numpy as np
import pytest

import minidl as md
from minidl import nn
from minidl.compress import (
    KeepPruned,
    compression_report,
    dequantize,
    load_quantized,
    model_size_bytes,
    prunable_weights,
    prune_magnitude,
    quantize_model,
    quantize_tensor,
    sparsity,
)
from minidl.ensemble import accuracy
from minidl.tune.examples import digits_splits, make_mlp, train_classifier


def conv_net(seed=0):
    md.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 20), nn.ReLU(), nn.Linear(20, 10)
    )


def test_per_layer_pruning_removes_the_amount_from_every_layer():
    model = conv_net()
    masks = prune_magnitude(model, 0.7, scope="layer")
    weights = prunable_weights(model)
    assert list(masks) == ["0.weight", "3.weight", "5.weight"] == list(weights)
    for name, w in weights.items():
        assert int((w.array == 0).sum()) == int(round(0.7 * w.array.size)) == int((~masks[name]).sum())


def test_global_pruning_removes_the_amount_overall_below_one_threshold():
    model = conv_net()
    prunable_weights(model)["5.weight"].array *= 10  # a layer of large weights loses less globally
    before = {name: w.array.copy() for name, w in prunable_weights(model).items()}
    masks = prune_magnitude(model, 0.6, scope="global")
    total = sum(w.size for w in before.values())
    assert sum(int((~m).sum()) for m in masks.values()) == round(0.6 * total)
    assert sparsity(model) == pytest.approx(round(0.6 * total) / total)
    kept = np.concatenate([np.abs(before[n][m]) for n, m in masks.items()])
    pruned = np.concatenate([np.abs(before[n][~m]) for n, m in masks.items()])
    assert kept.min() >= pruned.max()
    assert (~masks["5.weight"]).mean() < 0.6 < (~masks["3.weight"]).mean()


def test_pruning_keeps_biases_and_checks_its_arguments():
    model = conv_net()
    biases = {name: p.array.copy() for name, p in model.named_parameters() if name.endswith("bias")}
    prune_magnitude(model, 0.9)
    assert all(np.array_equal(biases[name], p.array) for name, p in model.named_parameters() if name in biases)
    with pytest.raises(ValueError, match="prune_magnitude: amount"):
        prune_magnitude(model, 1.5)
    with pytest.raises(ValueError, match="prune_magnitude: scope"):
        prune_magnitude(model, 0.5, scope="row")


def sgd_steps(model, optimizer, steps=5):
    rng = np.random.default_rng(0)
    for _ in range(steps):
        x, y = md.tensor(rng.random((8, 1, 8, 8), dtype=np.float32)), md.tensor(rng.integers(0, 10, 8))
        loss = md.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def test_masks_keep_pruned_weights_at_zero_through_sgd_with_momentum():
    model = conv_net()
    masks = prune_magnitude(model, 0.5)
    kept_before = {n: w.array[masks[n]].copy() for n, w in prunable_weights(model).items()}
    sgd_steps(model, KeepPruned(md.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), model, masks))
    for name, w in prunable_weights(model).items():
        assert (w.array[~masks[name]] == 0).all()
        assert not np.array_equal(w.array[masks[name]], kept_before[name])  # the kept weights did train
    # without the wrapper the gradient revives pruned weights
    sgd_steps(model, md.optim.SGD(model.parameters(), lr=0.1), steps=1)
    assert sparsity(model) < 0.5


def test_int8_round_trip_error_is_at_most_half_a_step():
    w = np.random.default_rng(0).standard_normal((16, 3, 3, 3)).astype(np.float32)
    w[3] *= 0.01  # a channel of small weights
    for per_channel in (False, True):
        q, scale = quantize_tensor(w, per_channel)
        assert q.dtype == np.int8 and np.abs(q).max() == 127 and q.min() >= -127
        assert scale.shape == ((16, 1, 1, 1) if per_channel else ())
        error = np.abs(q.astype(np.float32) * scale - w)
        assert (error <= scale / 2 * (1 + 1e-6)).all()
    _, scale_tensor = quantize_tensor(w, per_channel=False)
    q_channel, scale_channel = quantize_tensor(w, per_channel=True)
    assert (scale_channel <= scale_tensor).all()
    error_tensor = np.abs(quantize_tensor(w)[0] * scale_tensor - w)
    error_channel = np.abs(q_channel * scale_channel - w)
    assert (error_channel.reshape(16, -1).max(1) <= error_tensor.reshape(16, -1).max(1) + 1e-9).all()
    assert error_channel[3].max() < error_tensor[3].max() / 10  # the small channel gains most


def test_all_zero_weights_quantize_to_zero():
    q, scale = quantize_tensor(np.zeros((2, 3)), per_channel=True)
    assert (q == 0).all() and (scale == 1).all()


@pytest.mark.parametrize("bits", [2, 3, 4, 8, 12, 16])
def test_bits_set_the_integer_grid_and_the_error_bound(bits):
    w = np.random.default_rng(1).standard_normal((8, 5)).astype(np.float32)
    qmax = 2 ** (bits - 1) - 1
    for per_channel in (False, True):
        q, scale = quantize_tensor(w, per_channel, bits=bits)
        assert q.dtype == (np.int8 if bits <= 8 else np.int16)
        assert np.abs(q).max() == qmax
        max_abs = np.abs(w).max(axis=1 if per_channel else None, keepdims=per_channel)
        np.testing.assert_allclose(scale, max_abs / qmax, rtol=1e-6)
        assert (np.abs(dequantize(q, scale) - w) <= scale / 2 * (1 + 1e-6)).all()


def test_every_bit_fewer_about_doubles_the_error():
    w = np.random.default_rng(2).standard_normal((64, 64)).astype(np.float32)
    errors = [np.abs(dequantize(*quantize_tensor(w, bits=bits)) - w).mean() for bits in (4, 5, 6, 7, 8)]
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    assert ((1.7 < ratios) & (ratios < 2.3)).all(), ratios
    assert quantize_tensor(w)[0].tolist() == quantize_tensor(w, bits=8)[0].tolist()  # int8 is the default


@pytest.mark.parametrize("bits", [1, 17, 0, -8, 4.0, True, "8", None])
def test_bits_outside_2_to_16_are_refused_naming_the_function(bits):
    w = np.ones((2, 3), dtype=np.float32)
    message = rf"quantize_tensor: bits must be an integer from 2 to 16, got {re.escape(repr(bits))}$"
    with pytest.raises(ValueError, match=message):
        quantize_tensor(w, bits=bits)
    with pytest.raises(ValueError, match=r"quantize_model: bits must be an integer from 2 to 16"):
        quantize_model(conv_net(), bits=bits)


def test_a_quantized_model_records_its_bits_and_stores_16_bits_in_two_bytes():
    model = conv_net()
    four, sixteen = quantize_model(model, bits=4), quantize_model(model, bits=16)
    assert (four.bits, sixteen.bits, quantize_model(model).bits) == (4, 16, 8)
    assert all(np.abs(q).max() <= 7 and q.dtype == np.int8 for q, _ in four.quantized.values())
    weights = sum(q.size for q, _ in four.quantized.values())
    assert model_size_bytes(sixteen) - model_size_bytes(four) == weights  # one more byte per weight
    w = model.state_dict()["3.weight"].numpy()
    error = {bits: np.abs(load_quantized(conv_net(), qstate).state_dict()["3.weight"].numpy() - w).max()
             for bits, qstate in ((4, four), (16, sixteen))}  # fmt: skip
    assert error[16] < error[4] / 1000


def test_quantized_model_is_about_four_times_smaller_and_loads_back():
    model = conv_net()
    original = {n: t.numpy().copy() for n, t in model.state_dict().items()}
    qstate = quantize_model(model, per_channel=True)
    assert all(np.array_equal(original[n], t.numpy()) for n, t in model.state_dict().items())  # model untouched
    ratio = model_size_bytes(model) / model_size_bytes(qstate)
    assert model_size_bytes(model) == 4 * sum(a.size for a in original.values())
    assert 3.5 < ratio < 4
    load_quantized(model, qstate)
    w, (q, scale) = model.state_dict()["3.weight"].numpy(), qstate.quantized["3.weight"]
    np.testing.assert_array_equal(w, q.astype(np.float32) * scale)
    np.testing.assert_array_equal(model.state_dict()["3.bias"].numpy(), original["3.bias"])


@pytest.fixture(scope="module")
def trained_digits_mlp():
    x_train, y_train, x_val, y_val, x_test, y_test = digits_splits()
    model = make_mlp(hidden=64, seed=0)
    train_classifier(model, md.optim.Adam(model.parameters(), lr=1e-2), x_train, y_train, epochs=10)
    return model, (x_train, y_train), (x_test, y_test)


def copy_of(model, hidden=64):
    twin = make_mlp(hidden)
    twin.load_state_dict(model.state_dict())
    return twin


def test_accuracy_survives_int8_and_pruning_with_fine_tuning(trained_digits_mlp):
    model, (x_train, y_train), (x_test, y_test) = trained_digits_mlp
    base = accuracy(model, x_test, y_test)
    print(f"test accuracy {base:.3f}")
    assert base > 0.9
    int8 = {pc: load_quantized(copy_of(model), quantize_model(model, per_channel=pc)) for pc in (False, True)}
    assert all(accuracy(m, x_test, y_test) >= base - 0.01 for m in int8.values())

    pruned = copy_of(model)
    masks = prune_magnitude(pruned, 0.8)
    optimizer = KeepPruned(md.optim.Adam(pruned.parameters(), lr=3e-3), pruned, masks)
    train_classifier(pruned, optimizer, x_train, y_train, epochs=3, seed=1)
    assert sparsity(pruned) == pytest.approx(0.8, abs=1e-3)
    assert accuracy(pruned, x_test, y_test) >= base - 0.03

    text, rows = compression_report(
        [("float32", model, model_size_bytes(model)), ("int8", int8[True], model_size_bytes(quantize_model(model)))],
        x_test, y_test,
    )  # fmt: skip
    assert text.splitlines()[0].split() == ["model", "size", "KiB", "vs", "first", "sparsity", "accuracy"]
    assert rows[0]["accuracy"] == base and rows[1]["size_bytes"] < rows[0]["size_bytes"] / 3.5
