"""Training on the "cuda" device (the CuPy stand-in, MINIDL_FAKE_CUDA=1, or a real GPU): batches follow the model,
writes from the host land on the device, optimizer state follows the parameters."""
import numpy as np
import pytest

import minidl as md
from device_helpers import count_transfers
from minidl.data import DataLoader, TensorDataset

pytestmark = pytest.mark.fake_cuda


def _mlp(seed=0):
    md.manual_seed(seed)
    return md.nn.Sequential(md.nn.Linear(4, 8), md.nn.ReLU(), md.nn.Linear(8, 3))


def _data(n=24):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 4)).astype(np.float32), rng.integers(0, 3, n)


def _train(device):
    model = _mlp().to(device)
    optimizer = md.optim.Adam(model.parameters(), lr=0.01)
    x, y = _data()
    loader = DataLoader(TensorDataset(x, y), batch_size=8)
    history = md.train.fit(model, md.nn.CrossEntropyLoss(), optimizer, loader, epochs=2, val_data=loader,
                           metrics=["accuracy"], verbose=False)
    return model, history, md.train.predict(model, x)


def test_fit_evaluate_and_predict_move_host_batches_to_the_models_device():
    cuda_model, cuda_history, cuda_outputs = _train("cuda")
    cpu_model, cpu_history, cpu_outputs = _train("cpu")
    assert cuda_model[0].weight.device == "cuda"
    np.testing.assert_allclose(cuda_history["loss"], cpu_history["loss"], rtol=1e-5)
    np.testing.assert_allclose(cuda_history["val_accuracy"], cpu_history["val_accuracy"])
    assert isinstance(cuda_outputs, np.ndarray)
    np.testing.assert_allclose(cuda_outputs, cpu_outputs, rtol=1e-5, atol=1e-6)


def test_each_batch_goes_to_the_device_once_per_step():
    model = _mlp().to("cuda")
    x, y = _data(16)
    loader = DataLoader(TensorDataset(x, y), batch_size=8)
    with md.no_grad():
        model(md.tensor(x[:8]).to("cuda"))  # warm up: parameters, constants
    with count_transfers() as moved:
        md.train.evaluate(model, md.nn.CrossEntropyLoss(), loader)
    assert moved.to_device <= 2 * len(loader) + 2, moved.to_device  # inputs and targets, per batch


def test_assigning_host_values_into_a_device_tensor():
    t = md.zeros(3, 2).to("cuda")
    t[0] = np.array([1.0, 2.0], dtype=np.float32)
    t[1] = md.tensor([3.0, 4.0])
    t[2, 1] = 5.0
    assert t.device == "cuda"
    np.testing.assert_array_equal(t.numpy(), [[1.0, 2.0], [3.0, 4.0], [0.0, 5.0]])


def test_optimizer_state_loaded_before_the_model_moves_follows_it_to_the_device():
    x, y = (md.tensor(a) for a in _data(8))
    source = _mlp()
    source_optimizer = md.optim.Adam(source.parameters(), lr=0.01)
    md.nn.functional.cross_entropy(source(x), y).backward()
    source_optimizer.step()

    model = _mlp()
    model.load_state_dict(source.state_dict())
    optimizer = md.optim.Adam(model.parameters(), lr=0.01)
    optimizer.load_state_dict(source_optimizer.state_dict())  # state on the CPU ...
    model.to("cuda")  # ... then the parameters move
    md.nn.functional.cross_entropy(model(x.to("cuda")), y.to("cuda")).backward()
    optimizer.step()
    assert all(value.device == "cuda" for value in optimizer.state[model[0].weight].values() if value.ndim)


def test_cuda_synchronize_waits_for_the_device():
    """On the stand-in, a wait for the device is a host sync; on a GPU it simply returns."""
    x = md.ones(4).to("cuda") * 2
    if md.backend.FAKE_CUDA:
        with count_transfers() as waited:
            md.cuda.synchronize()
        assert waited.to_host == 1
    else:
        md.cuda.synchronize()
    assert x.numpy().tolist() == [2.0] * 4
