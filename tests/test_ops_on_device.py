"""The suite on device "cuda": every op of ``op_cases.py`` against torch on the CPU, a few layers,
an optimizer step and save/load, plus the backend's device defects of issue 22.

Marked ``fake_cuda``: they run in their own process on the CuPy stand-in (MINIDL_FAKE_CUDA=1,
tests/test_fake_cuda_process.py), where device arrays refuse to mix with NumPy's as CuPy's do.
"""
import contextlib
import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("torch")

import minidl as md  # noqa: E402
import minidl.functional as F  # noqa: E402
from minidl import autograd, backend  # noqa: E402
from minidl.testing import assert_close, check_against_torch  # noqa: E402
from op_cases import CASES  # noqa: E402

fake_cuda = pytest.mark.fake_cuda

# ops that cannot run on a device yet, and why: each a defect to fix (issue 22), then remove it here
NOT_ON_DEVICE = {
}


@contextlib.contextmanager
def tensors_made_on_the_device():
    """The tensors a case makes inside its function (targets, weights, masks, indices with
    ``md.tensor(...)``) are made on "cuda" too."""
    make = md.tensor
    md.tensor = functools.partial(make, device="cuda")
    try:
        yield
    finally:
        md.tensor = make


def on_device(md_fn):
    """``md_fn`` computed on "cuda": tensor inputs moved there (differentiably), outputs moved
    back, so the comparison with torch and the gradients happen on the CPU."""

    def run(*args):
        with tensors_made_on_the_device():
            outputs = md_fn(*[a.to("cuda") if isinstance(a, md.Tensor) else a for a in args])
        outputs = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
        for k, out in enumerate(outputs):
            assert not isinstance(out, md.Tensor) or out.device == "cuda", f"output {k} is on {out.device}"
        return tuple(o.to("cpu") if isinstance(o, md.Tensor) else o for o in outputs)

    return run


@fake_cuda
@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=3)
@given(data=st.data())
def test_op_on_device_matches_torch(name, dtype, data):
    if name in NOT_ON_DEVICE:
        pytest.skip(NOT_ON_DEVICE[name])
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    inputs, md_fn, torch_fn = CASES[name](data.draw, np.random.default_rng(seed))
    inputs = [np.asarray(x, dtype=dtype if np.asarray(x).dtype.kind == "f" else None) for x in inputs]
    check_against_torch(on_device(md_fn), torch_fn, inputs)


# ----------------------------------------------------------------------------- layers, optimizer, save/load
def _twin_models(make):
    """The same model (same seed) on the CPU and on "cuda"."""
    md.manual_seed(0)
    cpu_model = make()
    md.manual_seed(0)
    return cpu_model, make().to("cuda")


def _assert_same_outputs_and_grads(cpu_model, cuda_model, x, loss):
    outputs = []
    for model, device in ((cpu_model, "cpu"), (cuda_model, "cuda")):
        out = model(md.tensor(x, device=device))
        out = out[0] if isinstance(out, tuple) else out
        assert out.device == device
        loss(out).backward()
        outputs.append(out.numpy())
    assert_close(outputs[1], outputs[0], 1e-10, 1e-12, "output")
    for (name, p_cpu), p_cuda in zip(cpu_model.named_parameters(), cuda_model.parameters()):
        assert p_cuda.grad.device == "cuda", name
        assert_close(p_cuda.grad.numpy(), p_cpu.grad.numpy(), 1e-9, 1e-12, f"grad of {name}")


LAYERS = {
    "mlp": (lambda: md.nn.Sequential(md.nn.Linear(5, 4), md.nn.ReLU(), md.nn.Linear(4, 3)), (6, 5)),
    "cnn": (
        lambda: md.nn.Sequential(
            md.nn.Conv2d(2, 3, 3, padding=1), md.nn.ReLU(), md.nn.MaxPool2d(2), md.nn.AvgPool2d(2), md.nn.Flatten()
        ),
        (2, 2, 6, 6),
    ),
    "lstm": (lambda: md.nn.LSTM(3, 4), (5, 2, 3)),
    "gru": (lambda: md.nn.GRU(3, 4, batch_first=True), (2, 5, 3)),
    "transformer": (lambda: md.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True), (2, 5, 8)),
    "resnet": (lambda: md.models.resnet(1, 3, depth=8), (2, 1, 8, 8)),
}


@fake_cuda
@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_layers_on_device_match_the_cpu(layer, float64):
    make, shape = LAYERS[layer]
    x = np.random.default_rng(1).standard_normal(shape)
    _assert_same_outputs_and_grads(*_twin_models(make), x, lambda out: (out * out).sum())


@fake_cuda
def test_embedding_and_cross_entropy_on_device_match_the_cpu(float64):
    make = lambda: md.nn.Sequential(md.nn.Embedding(7, 4), md.nn.Flatten(), md.nn.Linear(12, 5))  # noqa: E731
    targets = np.array([0, 4])
    _assert_same_outputs_and_grads(
        *_twin_models(make), np.array([[1, 2, 6], [0, 0, 3]]),
        lambda out: F.cross_entropy(out, md.tensor(targets, device=out.device)),
    )


@fake_cuda
@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_an_optimizer_step_on_device_matches_the_cpu(optimizer, float64):
    x = np.random.default_rng(2).standard_normal((4, 3))
    models = _twin_models(lambda: md.nn.Linear(3, 2))
    for model in models:
        step = getattr(md.optim, optimizer)(model.parameters(), lr=0.1)
        for _ in range(2):
            step.zero_grad()
            (model(md.tensor(x, device=model.weight.device)) ** 2).sum().backward()
            step.step()
    cpu_model, cuda_model = models
    assert cuda_model.weight.device == "cuda"
    assert_close(cuda_model.weight.numpy(), cpu_model.weight.numpy(), 1e-10, 1e-12, "weight after two steps")


@fake_cuda
def test_save_and_load_a_cuda_model(tmp_path):
    md.manual_seed(0)
    model = md.nn.Linear(3, 2).to("cuda")
    md.save(model.state_dict(), tmp_path / "model.npz")
    loaded = md.nn.Linear(3, 2)
    loaded.load_state_dict(md.load(tmp_path / "model.npz"))
    assert loaded.weight.device == "cpu"
    np.testing.assert_array_equal(loaded.weight.numpy(), model.weight.numpy())
    np.testing.assert_array_equal(loaded.to("cuda").bias.numpy(), model.bias.numpy())


# ----------------------------------------------------------------------------- backend defects (issue 22)
@fake_cuda
def test_scatter_add_on_the_device_uses_cupy_add_at():
    """``cupyx.scatter_add`` is deprecated; ``cupy.add.at`` accumulates repeated indices."""
    cupy = backend._import_cupy()
    target = cupy.zeros(3)
    backend.scatter_add(target, cupy.asarray([0, 0, 2]), cupy.asarray([1.0, 2.0, 3.0]))
    assert target.get().tolist() == [3.0, 0.0, 3.0]


@fake_cuda
def test_index_select_backward_accumulates_on_the_device(float64):
    x = md.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x.to("cuda")[md.tensor([0, 0, 2], device="cuda")].sum().backward()
    assert x.grad.tolist() == [2.0, 0.0, 1.0]


@fake_cuda
def test_another_gpu_than_the_current_one_is_a_clear_error():
    """minidl computes on CuPy's current device: "cuda:1" must not silently mean "cuda:0"."""
    with pytest.raises(backend.DeviceError, match=r"'cuda:1': minidl computes on the current CUDA device \(cuda:0\)"):
        md.tensor([1.0]).to("cuda:1")
    with pytest.raises(backend.DeviceError, match="cuda:1"):
        md.nn.Linear(2, 2).to(md.device("cuda", 1))
    assert md.tensor([1.0]).to("cuda:0").device == "cuda"


class _Masked(autograd.Function):
    """x * mask, the mask given as a keyword array option."""

    @staticmethod
    def forward(ctx, x, mask):
        return x * mask


@fake_cuda
def test_array_options_must_be_on_the_ops_device():
    x = md.tensor([1.0, 2.0], device="cuda")
    with pytest.raises(backend.DeviceError, match=r"_Masked: expected the array option mask= on cuda.*got an array of shape \(2,\) on cpu"):
        _Masked.apply(x, mask=np.array([1.0, 0.0]))
    with pytest.raises(backend.DeviceError, match="option mask= on cpu"):
        _Masked.apply(md.tensor([1.0, 2.0]), mask=(backend._import_cupy().ones(2),))
    assert _Masked.apply(x, mask=x.array).tolist() == [1.0, 4.0]


@pytest.mark.skipif(md.cupy_usable(), reason="a GPU (or the CuPy stand-in) is usable here")
def test_an_unusable_gpu_error_says_why():
    reason = backend.cupy_unusable_reason()
    assert reason  # e.g. "ModuleNotFoundError: No module named 'cupy'" or the CUDA driver's error
    with pytest.raises(backend.DeviceError, match="no GPU is usable: " + reason[:30]):
        md.tensor([1.0]).to("cuda")
