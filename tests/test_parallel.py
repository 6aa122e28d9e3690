"""minidl.parallel: how the batch is cut into chunks, how the chunks run on threads, and the
convolution computed that way against PyTorch (the rest of the suite runs on one thread)."""
import threading
import warnings
from unittest import mock

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits

import minidl as md
import minidl.functional as F
from minidl import parallel
from minidl.testing import check_against_torch


@given(n_batch=st.integers(0, 300), sample_bytes=st.integers(1, 10**7), threads=st.integers(1, 8))
def test_batch_chunks_cover_the_batch_in_even_cache_sized_parts(n_batch, sample_bytes, threads):
    with mock.patch.object(parallel, "cpu_threads", lambda: threads):
        chunks = parallel.batch_chunks(np.empty((n_batch, 3)), sample_bytes)
    assert [i for chunk in chunks for i in range(n_batch)[chunk]] == list(range(n_batch))
    sizes = [chunk.stop - chunk.start for chunk in chunks]
    assert max(sizes) - min(sizes) <= 1
    assert (max(sizes) - 1) * sample_bytes <= parallel.CACHE_BYTES
    if n_batch >= threads:  # every thread gets as many chunks, unless each chunk is one sample
        assert len(chunks) % threads == 0 or max(sizes) == 1


def test_map_chunks_keeps_order_uses_the_threads_and_one_blas_thread_each():
    chunks = [slice(k, k + 1) for k in range(7)]
    seen = []

    def work(chunk):
        seen.append((threading.current_thread().name, parallel.cpu_threads()))
        return chunk.start * 10

    with threadpool_limits(2, user_api="blas"):
        assert parallel.map_chunks(work, chunks) == [0, 10, 20, 30, 40, 50, 60]
        assert parallel.cpu_threads() == 2  # restored afterwards
    assert len({name for name, _ in seen}) == 2
    assert {blas for _, blas in seen} == {1}


def test_map_chunks_passes_errors_on_and_restores_blas():
    def work(chunk):
        if chunk.start == 3:
            raise ValueError("chunk 3 failed")
        return chunk.start

    with threadpool_limits(2, user_api="blas"):
        with pytest.raises(ValueError, match="chunk 3 failed"):
            parallel.map_chunks(work, [slice(k, k + 1) for k in range(6)])
        assert parallel.cpu_threads() == 2


@pytest.mark.torch
@pytest.mark.parametrize("dtype, tol", [("float64", 1e-10), ("float32", 1e-4)])
@pytest.mark.parametrize("cache_bytes", [1, parallel.CACHE_BYTES], ids=["a sample a chunk", "default chunks"])
@pytest.mark.parametrize(
    "x_shape, w_shape, options",
    [
        ((7, 4, 9, 8), (6, 4, 3, 3), {"padding": 1}),
        ((5, 6, 10, 10), (4, 3, 3, 2), {"stride": 2, "groups": 2, "dilation": (1, 2)}),
    ],
)
def test_conv2d_on_two_threads_matches_torch(monkeypatch, dtype, tol, cache_bytes, x_shape, w_shape, options):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(parallel, "CACHE_BYTES", cache_bytes)
    rng = np.random.default_rng(3)
    inputs = [rng.standard_normal(s).astype(dtype) for s in (x_shape, w_shape, w_shape[:1])]
    with threadpool_limits(2, user_api="blas"):
        assert parallel.cpu_threads() == 2
        check_against_torch(lambda *t: F.conv2d(*t, **options), lambda *t: torch.nn.functional.conv2d(*t, **options),
                            inputs, rtol=tol, atol=tol)


def test_conv2d_on_two_threads_without_an_input_gradient():
    """A first layer: the input needs no gradient, the weight does (no dx, no col2im)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 1, 8, 8))
    w = md.tensor(rng.standard_normal((3, 1, 3, 3)), requires_grad=True)
    with threadpool_limits(1, user_api="blas"):
        F.conv2d(md.tensor(x), w).sum().backward()
    one_thread = w.grad.numpy().copy()
    w.grad = None
    with threadpool_limits(2, user_api="blas"):
        F.conv2d(md.tensor(x), w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), one_thread, rtol=1e-12)


def test_one_blas_thread_nests_and_restores():
    with threadpool_limits(2, user_api="blas"):
        with parallel.one_blas_thread():
            assert parallel.cpu_threads() == 1
            with parallel.one_blas_thread():
                assert parallel.cpu_threads() == 1
            assert parallel.cpu_threads() == 1
        assert parallel.cpu_threads() == 2


def test_off_the_main_thread_chunks_run_in_order_and_blas_is_left_alone():
    seen = []

    def from_a_thread():
        with parallel.one_blas_thread():
            seen.append(parallel.cpu_threads())
        seen.append(parallel.map_chunks(lambda chunk: threading.current_thread().name, [slice(0, 1), slice(1, 2)]))

    with threadpool_limits(2, user_api="blas"):
        worker = threading.Thread(target=from_a_thread, name="user thread")
        worker.start()
        worker.join()
    assert seen == [2, ["user thread", "user thread"]]


@pytest.mark.parametrize("shapes", [((3, 4), (4, 5)), ((2, 3, 4), (4,)), ((300, 200), (200, 100))], ids=str)
def test_product_is_matmul_small_or_large(shapes):
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(s) for s in shapes)
    with threadpool_limits(2, user_api="blas"):
        np.testing.assert_array_equal(parallel.product(a, b), a @ b)
        assert parallel.cpu_threads() == 2


def test_the_callers_numpy_error_state_holds_in_every_chunk_thread():
    """np.errstate is a context variable: the worker threads run in a copy of the caller's."""
    def overflow(chunk):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            np.exp(np.full(3, 1000.0))  # raises RuntimeWarning unless over="ignore" holds here
        return chunk

    with mock.patch.object(parallel, "cpu_threads", lambda: 2), np.errstate(over="ignore"):
        assert parallel.map_chunks(overflow, list(range(8))) == list(range(8))
