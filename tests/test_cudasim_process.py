"""Runs the CUDA-kernel tests under Numba's CUDA simulator, in a process of their own.

``NUMBA_ENABLE_CUDASIM`` must be set before Numba is imported, which this process has already
done; so the simulator tests (``test_cuda_kernels.py``, marked ``cudasim``) are started here as a
subprocess and must pass.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") == "1", reason="already inside the simulator process")
def test_cuda_kernels_pass_under_the_simulator(repo_env):
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "cudasim", str(HERE / "test_cuda_kernels.py")]
    result = subprocess.run(command, env=dict(repo_env, NUMBA_ENABLE_CUDASIM="1"), capture_output=True, text=True, timeout=1200)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, f"simulator tests failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    assert " passed" in summary and "skipped" not in summary, summary
