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
def _torch_threads():
    """Tiny test tensors run fastest on one thread."""
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


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
