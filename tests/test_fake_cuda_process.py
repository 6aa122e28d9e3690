"""Runs the ``fake_cuda`` tests on the CuPy stand-in, in a process of their own.

minidl picks its CuPy (the real one or ``minidl.fake_cupy``) when it is imported, and Numba's
CUDA simulator must be switched on before Numba is imported, so the stand-in tests run as a
subprocess with ``MINIDL_FAKE_CUDA=1`` and ``NUMBA_ENABLE_CUDASIM=1`` (the conv and pooling CUDA
kernels run under the simulator on the stand-in's arrays) and must pass.  ``gpu`` tests of the
files below run there too: the stand-in is their device.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
FILES = ["test_ops_on_device.py", "test_cupy.py", "test_device_syncs.py", "test_device_training.py", "test_optim.py"]


@pytest.mark.skipif(os.environ.get("MINIDL_FAKE_CUDA") == "1", reason="already inside the stand-in process")
def test_the_suite_passes_on_the_cupy_stand_in(repo_env):
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "fake_cuda or gpu"]
    command += [str(HERE / name) for name in FILES]
    env = dict(repo_env, MINIDL_FAKE_CUDA="1", NUMBA_ENABLE_CUDASIM="1")
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, f"tests on the CuPy stand-in failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
    assert " passed" in summary, summary
