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


@pytest.fixture(autouse=True)
def _exercise_progress_in_tmp(tmp_path_factory, monkeypatch):
    """``check_exercise`` remembers passes in a file; tests must never touch the learner's
    ``~/.minidl/progress.json``."""
    monkeypatch.setenv("MINIDL_PROGRESS", str(tmp_path_factory.getbasetemp() / "progress.json"))


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


def tutorial_env(scratch):
    """A tutorial's environment: fast mode, figures and exercise progress in ``scratch``, the movie
    reviews and MNIST from ../shared where they are (tutorials 05 and 11 fall back, saying so)."""
    from pathlib import Path

    data = Path(__file__).resolve().parents[2] / "shared" / "data"
    return {"MINIDL_FAST": "1", "MPLBACKEND": "Agg", "MINIDL_FIGURES": str(scratch),
            "MINIDL_PROGRESS": str(scratch / "progress.json"), "MINIDL_MOVIE_REVIEWS": str(data / "text" / "mr"),
            "MINIDL_MNIST": str(data / "mnist")}  # fmt: skip


@pytest.fixture(scope="session")
def tutorial_runs(tmp_path_factory):
    """Run a tutorial as a script once per test session (on first use), for every test that reads
    its output: ``tutorial_runs(path) -> (CompletedProcess, folder of its figures and pages)``."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    python_path = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
    runs = {}

    def run(path):
        if path.name not in runs:
            scratch = tmp_path_factory.mktemp(path.stem)
            env = dict(os.environ, PYTHONPATH=python_path, **tutorial_env(scratch))
            result = subprocess.run([sys.executable, str(path)], cwd=scratch, env=env,
                                    capture_output=True, text=True, timeout=300)  # fmt: skip
            runs[path.name] = (result, scratch)
        return runs[path.name]

    return run


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

