"""Shared test set-up: hypothesis profiles, torch thread count, the float64 default."""
import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile(
    "ci", max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session", autouse=True)
def _one_thread_for_small_matrices():
    """Tiny test tensors run fastest on one thread; on a busy machine a second BLAS thread
    waiting for a core makes small products 5-10x slower."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        try:
            import torch
        except ImportError:
            yield
            return
        torch.set_num_threads(1)
        yield


@pytest.fixture
def float64():
    """Run a test with float64 as minidl's default dtype."""
    import minidl as md

    with md.default_dtype("float64"):
        yield


@pytest.fixture
def repo_env():
    """The environment for a subprocess that imports this checkout of minidl."""
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))


FAKE_CUDA = os.environ.get("MINIDL_FAKE_CUDA") == "1"


def pytest_collection_modifyitems(config, items):
    """``fake_cuda`` tests need a "cuda" device: the CuPy stand-in, which minidl picks at import
    (their own process, tests/test_fake_cuda_process.py), or a real GPU (the self-check,
    benchmarks/gpu_selfcheck.py).  Elsewhere they are skipped, with the reason shown."""
    if FAKE_CUDA or not any("fake_cuda" in item.keywords for item in items):
        return
    import minidl

    if minidl.cupy_usable():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device: runs on the CuPy stand-in (tests/test_fake_cuda_process.py) or a GPU (benchmarks/gpu_selfcheck.py)")
    for item in items:
        if "fake_cuda" in item.keywords:
            item.add_marker(skip)

