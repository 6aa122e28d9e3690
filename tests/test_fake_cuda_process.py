"""Runs the device tests on the CuPy stand-in, in a process of their own.

minidl picks its CuPy (the real one or ``minidl.fake_cupy``) when it is imported, and Numba's
CUDA simulator must be switched on before Numba is imported, so the device tests run as a
subprocess with ``MINIDL_FAKE_CUDA=1`` and ``NUMBA_ENABLE_CUDASIM=1`` (the conv and pooling CUDA
kernels run under the simulator on the stand-in's arrays), and so do the tutorials' fast paths
with ``MINIDL_DEVICE=cuda``.  They are started through the GPU
self-check (benchmarks/gpu_selfcheck.py --stand-in), so what passes here is exactly what one run
of the self-check on a real GPU confirms.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

SELF_CHECK = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_selfcheck.py"


@pytest.mark.skipif(os.environ.get("MINIDL_FAKE_CUDA") == "1", reason="already inside the stand-in process")
def test_the_device_tests_pass_on_the_cupy_stand_in(repo_env):
    result = subprocess.run([sys.executable, str(SELF_CHECK), "--stand-in"], env=repo_env, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, f"the self-check on the CuPy stand-in failed:\n{result.stdout}\n{result.stderr[-6000:]}"
    assert result.stdout.splitlines()[-1] == "self-check: passed"
    assert "test_ops_on_device.py" in result.stdout and "tutorials/04_convolution.py" in result.stdout
    assert "GPU workloads: passed" in result.stdout and "MNIST CNN train step" in result.stdout
