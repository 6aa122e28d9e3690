"""On the "cuda" device (the CuPy stand-in, MINIDL_FAKE_CUDA=1, or a real GPU): ops run without NumPy-only
names, and a training step does not copy between host and device or wait for the device behind
the user's back.  ``count_transfers()`` counts host->device copies (``to_device``) and device->host
copies or syncs (``to_host``)."""
import math

import numpy as np
import pytest

import minidl as md
import minidl.functional as F
from minidl.backend import DeviceError
from device_helpers import count_transfers

pytestmark = pytest.mark.fake_cuda


def _pair(data, requires_grad=True):
    """The same data as a CPU tensor and a CUDA tensor."""
    return tuple(md.tensor(data, requires_grad=requires_grad, device=device) for device in ("cpu", "cuda"))


def _assert_same(cuda_tensor, cpu_tensor):
    assert cuda_tensor.device == "cuda" and cuda_tensor.dtype == cpu_tensor.dtype
    np.testing.assert_allclose(cuda_tensor.numpy(), cpu_tensor.numpy(), rtol=1e-6, atol=1e-7)


# ----------------------------------------------------------------------------- floating-point error state
@pytest.mark.parametrize(
    "loss",
    [
        lambda x, t: (x**2).sum(),
        lambda x, t: (x**t).sum(),  # masked branches: 0 ** -1 and log(0)
        lambda x, t: F.binary_cross_entropy(x, t),
        lambda x, t: F.kl_div(F.log_softmax(x, dim=1), t, reduction="batchmean"),
    ],
    ids=["pow", "pow_exponent", "binary_cross_entropy", "kl_div"],
)
def test_ops_that_silence_numpy_warnings_run_on_cuda(loss):
    """Pow's backward, BCE and kl_div used ``xp.errstate``, which CuPy does not have."""
    x_cpu, x_cuda = _pair(np.array([[0.0, 0.25, 1.0], [0.5, 0.75, 0.125]], dtype=np.float32))
    t_cpu, t_cuda = _pair(np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]], dtype=np.float32))
    for x, t in ((x_cpu, t_cpu), (x_cuda, t_cuda)):
        loss(x, t).backward()
    for on_cuda, on_cpu in ((x_cuda, x_cpu), (t_cuda, t_cpu)):
        assert (on_cuda.grad is None) == (on_cpu.grad is None)
        if on_cpu.grad is not None:
            _assert_same(on_cuda.grad, on_cpu.grad)


# ----------------------------------------------------------------------------- Python scalars
@pytest.mark.parametrize(
    ("data", "scalar", "dtype"),
    [([1.0, 2.0], 2.5, np.float32), ([1, 2], 2.5, np.float32), ([1, 2], 3, np.int64), ([True, False], 2, np.int64)],
)
def test_a_python_scalar_operand_is_not_copied_to_the_device(data, scalar, dtype):
    """``x * 2.5`` used to build a host 0-d array and copy it over; PyTorch's dtype rules stay."""
    x_cpu, x_cuda = _pair(data, requires_grad=False)
    with count_transfers() as copies:
        products = x_cuda * scalar, scalar - x_cuda, x_cuda**scalar
    assert copies.to_device == 0
    for on_cuda, on_cpu in zip(products, (x_cpu * scalar, scalar - x_cpu, x_cpu**scalar)):
        assert on_cpu.dtype == dtype
        _assert_same(on_cuda, on_cpu)


# ----------------------------------------------------------------------------- dropout
def test_dropout_draws_its_mask_on_the_device():
    x, maps = md.ones(64, 8, device="cuda", requires_grad=True), md.ones(4, 6, 3, 3, device="cuda")
    with count_transfers() as copies:
        F.dropout(x, 0.5).sum().backward()
        F.dropout2d(maps, 0.5)
    assert copies.to_device == 0
    kept = x.grad.numpy()
    assert set(np.unique(kept)) <= {0.0, 2.0} and 0 < (kept == 0).mean() < 1


def test_dropout_on_the_device_is_repeatable_with_manual_seed():
    x = md.ones(64, 8, device="cuda")

    def mask(seed):
        md.manual_seed(seed)
        return [F.dropout(x, 0.5).numpy() for _ in range(2)]

    first, again, other = mask(0), mask(0), mask(1)
    np.testing.assert_array_equal(np.stack(first), np.stack(again))
    assert not np.array_equal(first[0], first[1]) and not np.array_equal(first[0], other[0])


# ----------------------------------------------------------------------------- LSTM with lengths
def _lstm_with_lengths(seq_len, device):
    """Outputs and input gradient of an LSTM run on sequences of lengths (seq_len, 1), and the
    copies made by forward and backward."""
    md.manual_seed(0)
    lstm = md.nn.LSTM(3, 4).to(device)
    x = md.randn(seq_len, 2, 3).to(device).requires_grad_()
    with count_transfers() as copies:
        output, (h, c) = lstm(x, lengths=[seq_len, 1])
        (output.sum() + h.sum() + c.sum()).backward()
    return [t.numpy() for t in (output, h, c, x.grad)], copies


def test_lstm_with_lengths_copies_its_mask_to_the_device_once_not_per_step():
    (short, short_copies), (long, long_copies) = _lstm_with_lengths(2, "cuda"), _lstm_with_lengths(8, "cuda")
    assert long_copies.to_device == short_copies.to_device <= 1
    assert long_copies.to_host == short_copies.to_host == 0
    for on_cuda, on_cpu in zip(long, _lstm_with_lengths(8, "cpu")[0]):
        np.testing.assert_allclose(on_cuda, on_cpu, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- value checks
def _cuda_ones(*size):
    return md.ones(*size, device="cuda")


def _class_batch():
    rng = np.random.default_rng(0)
    logits = md.tensor(rng.standard_normal((5, 4)), dtype="float32", device="cuda", requires_grad=True)
    return logits, md.tensor([0, 3, 1, 1, 2], device="cuda")


@pytest.mark.parametrize(
    "loss",
    [
        lambda x, y, w, t: F.cross_entropy(x, y),
        lambda x, y, w, t: F.cross_entropy(x, y, label_smoothing=0.1, weight=w),
        lambda x, y, w, t: F.nll_loss(F.log_softmax(x, dim=1), y, reduction="sum"),
        lambda x, y, w, t: F.binary_cross_entropy(F.sigmoid(x), F.one_hot(y, 4).float()),
        lambda x, y, w, t: F.binary_cross_entropy_with_logits(x, t, pos_weight=w),
        lambda x, y, w, t: F.embedding(y, x).sum(),
    ],
    ids=["cross_entropy", "cross_entropy_smoothed", "nll_loss", "binary_cross_entropy", "bce_with_logits", "embedding"],
)
def test_losses_and_embedding_do_not_wait_for_the_device(loss):
    x, y = _class_batch()
    class_weights, targets = _cuda_ones(4), _cuda_ones(5, 4)
    with count_transfers() as copies:
        loss(x, y, class_weights, targets).backward()
    assert (copies.to_host, copies.to_device) == (0, 0)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda x: F.cross_entropy(x, md.tensor([0, 4, 1, 1, 2], device="cuda")), IndexError),
        (lambda x: F.binary_cross_entropy(x, _cuda_ones(5, 4)), ValueError),
        (lambda x: F.embedding(md.tensor([7], device="cuda"), x), IndexError),
    ],
    ids=["cross_entropy", "binary_cross_entropy", "embedding"],
)
def test_value_checks_on_the_device_run_with_check_device_values(call, error):
    x, _ = _class_batch()
    with md.config.override(check_device_values=True), pytest.raises(error):
        call(x * 2)


@pytest.mark.parametrize(
    "call",
    [
        lambda x, y: F.cross_entropy(x, y, weight=md.ones(4)),
        lambda x, y: F.binary_cross_entropy_with_logits(x, _cuda_ones(5, 4), pos_weight=md.ones(4)),
        lambda x, y: F.embedding(y.to("cpu"), x),
        lambda x, y: F.where(md.ones(5, 4, dtype="bool"), x, 0.0),
    ],
    ids=["cross_entropy_weight", "pos_weight", "embedding_input", "where_condition"],
)
def test_array_options_on_another_device_are_refused(call):
    x, y = _class_batch()
    with pytest.raises(DeviceError, match="on cuda, the device of the other tensors, got it on cpu"):
        call(x, y)


# ----------------------------------------------------------------------------- gradient clipping
def _parameters_with_gradients(scale=1.0):
    params = [md.nn.Parameter(md.ones(3, 2, device="cuda")), md.nn.Parameter(md.ones(4, device="cuda"))]
    for p in params:
        p.grad = md.full(p.shape, scale, device="cuda")
    return params


def test_clip_grad_norm_does_not_wait_for_the_device():
    params = _parameters_with_gradients(scale=3.0)
    with count_transfers() as copies:
        norm = md.nn.utils.clip_grad_norm_(params, max_norm=1.0)
    assert copies.to_host == 0 and norm.device == "cuda"
    assert math.isclose(norm.item(), 3.0 * math.sqrt(10), rel_tol=1e-6)
    clipped = np.concatenate([p.grad.numpy().ravel() for p in params])
    assert math.isclose(float(np.linalg.norm(clipped)), 1.0, rel_tol=1e-5)


def test_clip_grad_norm_still_refuses_a_nonfinite_norm_when_asked():
    with pytest.raises(RuntimeError, match="non-finite"):
        md.nn.utils.clip_grad_norm_(_parameters_with_gradients(scale=math.inf), 1.0, error_if_nonfinite=True)
