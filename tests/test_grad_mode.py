"""Grad mode is per thread (as torch): no_grad in one thread never stops another from recording."""
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import minidl as md


def test_no_grad_in_one_thread_does_not_stop_recording_in_another():
    inside_no_grad, other_thread_done = threading.Event(), threading.Event()
    seen = {}

    def evaluator():
        with md.no_grad():
            inside_no_grad.set()
            other_thread_done.wait(5)
            seen["evaluator"] = md.is_grad_enabled()

    def trainer():
        inside_no_grad.wait(5)
        x = md.tensor([1.0, 2.0], requires_grad=True)
        loss = (x * x).sum()
        loss.backward()
        seen["trainer"] = (md.is_grad_enabled(), x.grad.tolist())
        other_thread_done.set()

    threads = [threading.Thread(target=evaluator), threading.Thread(target=trainer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"evaluator": False, "trainer": (True, [2.0, 4.0])}
    assert md.is_grad_enabled()


def test_a_new_thread_starts_with_grad_enabled_even_when_its_parent_is_in_no_grad():
    with md.no_grad():
        with ThreadPoolExecutor(1) as pool:
            assert pool.submit(md.is_grad_enabled).result() is True
        assert not md.is_grad_enabled()


def _train_step(seed):
    """One small training run; returns its final loss (needs recording in its own thread)."""
    rng = np.random.default_rng(seed)
    x, y = md.tensor(rng.standard_normal((32, 4))), md.tensor(rng.standard_normal((32, 1)))
    w = md.tensor(rng.standard_normal((4, 1)), requires_grad=True)
    for _ in range(30):
        loss = ((x @ w - y) ** 2).mean()
        loss.backward()
        with md.no_grad():  # every thread flips its own switch many times
            w -= 0.05 * w.grad
            w.grad = None
    return loss.item()


def test_trainings_in_a_thread_pool_equal_the_same_trainings_run_one_after_the_other():
    serial = [_train_step(seed) for seed in range(8)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so no_grad blocks overlap other threads' steps
    try:
        with ThreadPoolExecutor(4) as pool:
            threaded = list(pool.map(_train_step, range(8)))
    finally:
        sys.setswitchinterval(interval)
    assert threaded == serial


def test_set_grad_enabled_as_a_call_a_context_and_a_decorator():
    md.set_grad_enabled(False)
    assert not md.is_grad_enabled()
    md.set_grad_enabled(True)
    with md.set_grad_enabled(False):
        assert not md.is_grad_enabled()
    assert md.is_grad_enabled()

    @md.set_grad_enabled(False)
    def predict():
        return md.is_grad_enabled()

    assert md.is_grad_enabled() and predict() is False and md.is_grad_enabled()


def test_no_grad_enable_grad_and_inference_mode_nest_and_restore():
    x = md.tensor([1.0], requires_grad=True)
    with md.no_grad():
        assert not (x * 2).requires_grad
        with md.enable_grad():
            assert (x * 2).requires_grad
        with md.inference_mode(False):
            assert (x * 2).requires_grad
    with md.inference_mode():
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad

    @md.no_grad()
    def evaluate():
        return (x * 2).requires_grad

    assert evaluate() is False and md.is_grad_enabled()


def test_the_mode_is_restored_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with md.no_grad():
            1 / 0
    assert md.is_grad_enabled()


def test_config_settings_belong_to_the_thread_that_sets_them():
    with md.config.override(conv_algorithm="direct"):
        with ThreadPoolExecutor(1) as pool:
            assert pool.submit(lambda: md.config.conv_algorithm).result() == "im2col"
        assert md.config.conv_algorithm == "direct"
    assert md.config.conv_algorithm == "im2col"


def test_recurrent_algorithm_is_checked_and_switches_the_layers_to_small_ops():
    with pytest.raises(ValueError, match=r"recurrent_algorithm must be one of \('fused', 'unfused'\), got 'fast'"):
        md.config.recurrent_algorithm = "fast"
    lstm = md.nn.LSTM(2, 3)
    x = md.tensor(np.random.default_rng(0).standard_normal((4, 1, 2)).astype(np.float32))
    fused_out = lstm(x)[0]
    with md.config.override(recurrent_algorithm="unfused"):
        unfused_out = lstm(x)[0]
    assert fused_out.grad_fn.name == "LSTMSequence" and unfused_out.grad_fn.name != "LSTMSequence"
    np.testing.assert_allclose(unfused_out.numpy(), fused_out.numpy(), rtol=1e-5, atol=1e-6)
    assert md.config.recurrent_algorithm == "fused"
