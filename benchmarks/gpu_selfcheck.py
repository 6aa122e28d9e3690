"""The GPU self-check: everything the CuPy stand-in proves, run once on a real CUDA device.

    python benchmarks/gpu_selfcheck.py              # on a machine with an NVIDIA GPU and the [gpu] extra
    python benchmarks/gpu_selfcheck.py --stand-in   # the same tests on minidl.fake_cupy (no GPU needed)

It prints the machine (GPU, driver and CUDA versions, CuPy, Numba), runs the device tests
(``-m "fake_cuda or gpu"`` over ``DEVICE_TEST_FILES``: every op of the registry on "cuda"
against torch, layers, optimizers, ``fit``, save/load, kernel launches on CuPy's stream) in a
pytest subprocess and every tutorial's fast path with ``MINIDL_DEVICE=cuda``, prints a table of
passed / failed / skipped per file and tutorial, then the GPU-against-CPU table of
``gpu_workloads.py`` (relative error and times of conv, pooling, LSTM and a train step), and exits
non-zero when anything failed.  tests/test_fake_cuda_process.py runs it with ``--stand-in`` on every CI run, so
the list below is the one source of what "the GPU path works" means.  The tests that count
host<->device copies run only on the stand-in (real CuPy counts nothing) and show as skipped.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEVICE_TEST_FILES = [
    "test_ops_on_device.py",
    "test_cupy.py",
    "test_device_syncs.py",
    "test_device_training.py",
    "test_optim.py",
    "test_cuda_launch.py",
    "test_device_tutorials_01_04.py",
    "test_device_tutorials_06_07.py",
]


def machine_lines(stand_in):
    """The device the checks ran on, in words."""
    if stand_in:
        return ["device: minidl.fake_cupy (the CuPy stand-in: NumPy arrays, Numba's CUDA simulator)"]
    try:
        import cupy
        import numba

        properties = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        return [
            f"device: {properties['name'].decode()} ({properties['totalGlobalMem'] / 2**30:.0f} GiB)",
            f"driver {cupy.cuda.runtime.driverGetVersion()}, CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}",
            f"CuPy {cupy.__version__}, Numba {numba.__version__}",
        ]
    except Exception as error:  # no CuPy, no driver, no device: say which
        return [f"device: none usable ({type(error).__name__}: {error})"]


def device_env(stand_in):
    """The environment of the checks: this checkout importable; the stand-in when asked."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    if stand_in:
        env.update(MINIDL_FAKE_CUDA="1", NUMBA_ENABLE_CUDASIM="1")
    return env


def run_device_tests(env):
    """Run the device tests in a subprocess; returns (exit code, {file: [passed, failed, skipped]})."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.xml"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "fake_cuda or gpu",
                   f"--junitxml={report}", *(str(ROOT / "tests" / name) for name in DEVICE_TEST_FILES)]
        result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
        counts = count_by_file(report) if report.exists() else {}
    if result.returncode not in (0, 5):
        print(result.stdout[-6000:], result.stderr[-2000:], sep="\n", file=sys.stderr)
    return result.returncode, counts


def run_tutorials(env):
    """Each tutorial's fast path with ``MINIDL_DEVICE=cuda``: ``{tutorial: error text or None}``."""
    outcomes = {}
    for path in sorted((ROOT / "tutorials").glob("[0-9][0-9]_*.py")):
        with tempfile.TemporaryDirectory() as scratch:
            tutorial_env = dict(env, MINIDL_DEVICE="cuda", MINIDL_FAST="1", MPLBACKEND="Agg", MINIDL_FIGURES=scratch)
            result = subprocess.run([sys.executable, str(path)], env=tutorial_env, cwd=scratch,
                                    capture_output=True, text=True)
        outcomes[path.name] = None if result.returncode == 0 else result.stderr[-3000:]
    return outcomes


def run_workloads(env, stand_in):
    """benchmarks/gpu_workloads.py (conv, pooling, LSTM and a train step on the GPU against the
    CPU: relative error and times; tiny shapes on the stand-in); prints its table, returns its
    exit code."""
    command = [sys.executable, str(ROOT / "benchmarks" / "gpu_workloads.py")] + (["--tiny"] if stand_in else [])
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    print(result.stdout, end="")
    if result.returncode != 0:
        print(result.stderr[-3000:], file=sys.stderr)
    return result.returncode


def count_by_file(report):
    """``{test file: [passed, failed, skipped]}`` from pytest's JUnit XML report."""
    counts = {}
    for case in ElementTree.parse(report).iter("testcase"):
        name = case.get("classname", "").split(".")[-1] + ".py"
        row = counts.setdefault(name, [0, 0, 0])
        if case.find("skipped") is not None:
            row[2] += 1
        elif case.find("failure") is not None or case.find("error") is not None:
            row[1] += 1
        else:
            row[0] += 1
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stand-in", action="store_true", help="run on minidl.fake_cupy instead of a GPU")
    args = parser.parse_args(argv)
    for line in machine_lines(args.stand_in):
        print(line)
    env = device_env(args.stand_in)
    code, counts = run_device_tests(env)
    print(f"{'test file':<32}{'passed':>8}{'failed':>8}{'skipped':>9}")
    for name in DEVICE_TEST_FILES:
        passed, failed, skipped = counts.get(name, [0, 0, 0])
        print(f"{name:<32}{passed:>8}{failed:>8}{skipped:>9}")
    total_passed = sum(row[0] for row in counts.values())
    tutorials = run_tutorials(env)
    for name, error in tutorials.items():
        print(f"{'tutorials/' + name:<40}{'passed' if error is None else 'FAILED':>17}")
        if error is not None:
            print(error, file=sys.stderr)
    workloads = run_workloads(env, args.stand_in)
    ok = code == 0 and total_passed > 0 and all(error is None for error in tutorials.values()) and workloads == 0
    print("self-check: " + ("passed" if ok else f"FAILED (pytest exit code {code}, {total_passed} passed)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
