"""Timing helpers shared by the benchmarks: every number is a ratio against PyTorch CPU measured
in the same run, after warm-up, as the median of repeats.

    rows = [compare("conv fwd", run_minidl, run_torch)]
    print_table("conv2d", rows)
    write_json("benchmarks/results/conv.json", rows)
"""
import argparse
import collections
import contextlib
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def block_seconds(fn, repeats, warmup):
    """Wall times of ``repeats`` calls of ``fn()``, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median_seconds(fn, repeats=20, warmup=3):
    """Median wall time of ``fn()`` over ``repeats`` calls, after ``warmup`` untimed calls."""
    return statistics.median(block_seconds(fn, repeats, warmup))


def compare(case, ours, theirs, repeats=20, warmup=3, rounds=5, pause=0.2, **extra):
    """One table row: median times of minidl's ``ours()`` and torch's ``theirs()`` and their ratio
    (minidl / torch: below 1 means minidl is faster).

    Each library is timed in blocks of its own (interleaving single calls lets one library's
    idle-spinning worker threads slow the other down), and the blocks alternate over ``rounds``
    rounds, so that a slow spell of this shared machine falls on both sides alike, with ``pause``
    seconds between blocks for the other library's worker threads to stop spinning (OpenBLAS's
    and OpenMP's wait busily for a while after their last task); the medians are
    taken over all ``repeats`` calls of each side.  The first block of each side starts with
    ``warmup`` untimed calls, every later one with one."""
    per_block = max(1, repeats // rounds)
    ours_times, theirs_times = [], []
    for round_ in range(rounds):
        block_warmup = warmup if round_ == 0 else 1
        ours_times += block_seconds(ours, per_block, block_warmup)
        time.sleep(pause)
        theirs_times += block_seconds(theirs, per_block, block_warmup)
        time.sleep(pause)
    m, t = statistics.median(ours_times), statistics.median(theirs_times)
    return {"case": case, "minidl_ms": 1e3 * m, "torch_ms": 1e3 * t, "ratio": m / t, **extra}


class Clock:
    """Per-phase seconds, summed over calls (and threads): ``with clock("gemm"): ...`` (the
    profile scripts)."""

    def __init__(self):
        self.seconds = collections.Counter()

    @contextlib.contextmanager
    def __call__(self, phase):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] += time.perf_counter() - start


@contextlib.contextmanager
def checkout(commit):
    """The repository at ``commit``, checked out into a temporary folder with ``git worktree``
    (removed afterwards): a tree whose minidl another process can import (``tree_env``)."""
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), commit],
                       check=True, capture_output=True)
        try:
            yield tree
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)


def tree_env(tree):
    """The environment of a process that imports ``tree``'s minidl and kernels (ahead of the
    installed checkout)."""
    return {"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"}


def add_process_arguments(parser, repeats=30, rounds=3):
    """The command-line options of a benchmark timed in separate processes (``compare_in_processes``)."""
    parser.add_argument("--repeats", type=int, default=repeats, help="timed calls per library and case, over all rounds")
    parser.add_argument("--rounds", type=int, default=rounds, help="processes per library, alternating")
    parser.add_argument("--threads", type=int, default=2, help="threads of each library (torch's; BLAS's)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls per case in each process")
    parser.add_argument("--only", default="", help="time only the cases whose name contains this text")
    parser.add_argument("--worker", choices=["minidl", "torch"], help=argparse.SUPPRESS)


def selected(cases, args):
    """The cases whose name contains ``args.only`` (all of them by default)."""
    return [case for case in cases if args.only in case]


def worker(stepper, cases, args):
    """In a child process: time ``stepper(library, case)()`` for every case with the one library
    ``args.worker`` names, and print ``{case: [seconds, ...]}`` as JSON."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads, user_api="blas")
    if args.worker == "torch":
        import torch as library

        library.set_num_threads(args.threads)
    else:
        import minidl as library
    print(json.dumps({case: block_seconds(stepper(library, case), args.repeats, args.warmup) for case in selected(cases, args)}))


def compare_in_processes(script, cases, args):
    """One row per case, as ``compare``'s, with each library timed in processes of its own: ``script
    --worker minidl|torch`` (``worker``), ``args.rounds`` processes per library, alternating, each
    timing ``args.repeats / args.rounds`` consecutive calls per case after a warm-up; the medians
    are over all calls of each side.  In one process, a library runs slower after the other has
    run (measured: conv1d 2.35 -> 2.75 ms after one torch call, and worse right after torch's
    blocks), and a training loop calls one library back to back."""
    cases = selected(cases, args)
    times = {"minidl": {case: [] for case in cases}, "torch": {case: [] for case in cases}}
    for _ in range(args.rounds):
        for library_name, per_case in times.items():
            command = [sys.executable, str(script), "--worker", library_name, "--threads", str(args.threads),
                       "--repeats", str(max(1, args.repeats // args.rounds)), "--warmup", str(args.warmup), "--only", args.only]
            result = subprocess.run(command, capture_output=True, text=True, check=True)
            for case, seconds in json.loads(result.stdout.strip().splitlines()[-1]).items():
                per_case[case] += seconds
    rows = []
    for case in cases:
        ours, theirs = statistics.median(times["minidl"][case]), statistics.median(times["torch"][case])
        rows.append({"case": case, "minidl_ms": 1e3 * ours, "torch_ms": 1e3 * theirs, "ratio": ours / theirs})
    return rows


def print_table(title, rows):
    """Print rows as an aligned table: case, minidl ms, torch ms, ratio, and any extra columns."""
    extra = [k for k in rows[0] if k not in ("case", "minidl_ms", "torch_ms", "ratio")] if rows else []
    header = f"{'case':<40} {'minidl ms':>10} {'torch ms':>10} {'ratio':>7}" + "".join(f" {k:>12}" for k in extra)
    print(f"\n{title}\n{header}\n{'-' * len(header)}")
    for r in rows:
        cells = "".join(f" {_cell(r[k]):>12}" for k in extra)
        print(f"{r['case']:<40} {r['minidl_ms']:>10.3f} {r['torch_ms']:>10.3f} {r['ratio']:>7.2f}{cells}")


def _cell(value):
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def cpu_model_and_vector_extensions():
    """The CPU's model name and its SIMD extensions (AVX2, AVX-512 ...), from /proc/cpuinfo."""
    fields = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:  # not Linux
        return platform.processor() or platform.machine(), []
    flags = fields.get("flags", "").split()
    vectors = sorted(f for f in flags if f.startswith(("avx", "sse4", "fma", "amx")))
    return fields.get("model name", platform.machine()), vectors


def blas():
    """NumPy's BLAS library, its version and the kernel it runs (threadpoolctl), with the
    OPENBLAS_* variables in force."""
    from threadpoolctl import threadpool_info

    libraries = [{key: info.get(key) for key in ("internal_api", "version", "architecture", "num_threads")}
                 for info in threadpool_info() if info.get("user_api") == "blas"]
    variables = {name: value for name, value in os.environ.items() if name.startswith("OPENBLAS_")}
    return {"libraries": libraries, "environment": variables}


def machine():
    """What the numbers were measured on: CPU model, vector extensions, BLAS and its kernel."""
    import numpy
    import torch

    cpu_model, vector_extensions = cpu_model_and_vector_extensions()
    return {
        "date": datetime.date.today().isoformat(),
        "cpu_model": cpu_model,
        "vector_extensions": vector_extensions,
        "blas": blas(),
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def write_json(path, rows, **extra):
    """Write ``{"machine": ..., "rows": rows, **extra}`` to ``path`` (folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine": machine(), "rows": rows, **extra}, indent=2) + "\n")
    print(f"\nwrote {path}")
