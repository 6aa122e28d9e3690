"""What tutorials 06 (training and tuning) and 07 (compression) need on the "cuda" device (the CuPy
stand-in, MINIDL_FAKE_CUDA=1, or a real GPU): the small training loop of ``md.tune.examples``
moves batches to the model, and pruning works on device weights, with masks on their device."""
import numpy as np
import pytest

import minidl as md
from minidl import backend
from minidl.compress import KeepPruned, apply_masks, prune_magnitude, sparsity
from minidl.tune.examples import make_mlp, train_classifier

pytestmark = pytest.mark.fake_cuda


def _digits_like(n=40):
    rng = np.random.default_rng(0)
    return rng.random((n, 64), dtype=np.float32), rng.integers(0, 10, n)


def _trained_weights(device):
    model = make_mlp(16, seed=0).to(device)
    x, y = _digits_like()
    train_classifier(model, md.optim.Adam(model.parameters(), lr=0.01), x, y, epochs=2, batch_size=16)
    return {name: t.numpy() for name, t in model.state_dict().items()}


def test_train_classifier_moves_the_batches_to_the_models_device():
    on_device, on_cpu = _trained_weights("cuda"), _trained_weights("cpu")
    for name, weight in on_cpu.items():
        np.testing.assert_allclose(on_device[name], weight, rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_prune_magnitude_on_device_weights_gives_the_cpu_masks_on_the_device(scope):
    on_cpu = make_mlp(16, seed=0)
    on_device = make_mlp(16, seed=0).to("cuda")
    cpu_masks = prune_magnitude(on_cpu, 0.7, scope=scope)
    device_masks = prune_magnitude(on_device, 0.7, scope=scope)
    for name, mask in device_masks.items():
        assert backend.is_cupy_array(mask), f"{name}: mask on the host"
        np.testing.assert_array_equal(mask.get(), cpu_masks[name], err_msg=name)
    assert sparsity(on_device) == pytest.approx(0.7, abs=1e-3)
    np.testing.assert_array_equal(on_device[0].weight.numpy(), on_cpu[0].weight.numpy())


def test_fine_tuning_on_the_device_keeps_the_pruned_weights_zero():
    model = make_mlp(16, seed=0).to("cuda")
    masks = prune_magnitude(model, 0.8)
    x, y = _digits_like()
    train_classifier(model, KeepPruned(md.optim.Adam(model.parameters(), lr=0.01), model, masks), x, y, epochs=1)
    assert sparsity(model) == pytest.approx(0.8, abs=1e-3)


def test_masks_made_before_the_model_moves_are_applied_on_its_device():
    model = make_mlp(16, seed=0)
    masks = prune_magnitude(model, 0.5)  # host masks ...
    model.load_state_dict(make_mlp(16, seed=1).state_dict())
    model.to("cuda")  # ... then the weights move
    apply_masks(model, masks)
    assert model[0].weight.device == "cuda"
    np.testing.assert_array_equal(model[0].weight.numpy() != 0, masks["0.weight"])
