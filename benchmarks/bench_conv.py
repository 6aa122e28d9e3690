"""conv2d and pooling: minidl (im2col and direct) against PyTorch CPU, each library in processes of
its own, both on 2 threads.

    python benchmarks/bench_conv.py [--repeats 30] [--rounds 3] [--out benchmarks/results/conv.json]

Prints a table of median times and ratios minidl / torch (below 1: minidl is faster), the time of
the first call (Numba's JIT compile) without and with Numba's on-disk cache, and the peak memory of
a conv forward+backward against the size of its im2col buffer; writes everything as JSON.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from contextlib import nullcontext

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing  # noqa: E402

import minidl as md  # noqa: E402

CONV_CASES = [
    # name, x shape, weight shape, padding, does the input need a gradient (not for a first layer)
    ("conv 1->32, 28x28, 3x3 (MNIST layer 1)", (64, 1, 28, 28), (32, 1, 3, 3), 0, False),
    ("conv 32->64, 13x13, 3x3 (MNIST layer 2)", (64, 32, 13, 13), (64, 32, 3, 3), 0, True),
    ("conv 64->64, 32x32, 3x3 pad 1 (larger)", (64, 64, 32, 32), (64, 64, 3, 3), 1, True),
]
POOL_CASES = [("max_pool 2x2 on 64x32x26x26", "max", (64, 32, 26, 26)), ("avg_pool 2x2 on 64x32x26x26", "avg", (64, 32, 26, 26))]


def case_table():
    """{row name: (what, shape spec, backward, algorithm)} for every timed row."""
    cases = {}
    for name, x_shape, w_shape, padding, input_grad in CONV_CASES:
        for backward in (False, True):
            for algorithm in ("im2col", "direct"):
                if algorithm == "direct" and w_shape[1] >= 64:
                    continue  # the teaching loops take seconds here
                label = f"{name} {'fwd+bwd' if backward else 'fwd'} [{algorithm}]"
                cases[label] = ("conv", (x_shape, w_shape, padding, input_grad), backward, algorithm)
    for name, kind, x_shape in POOL_CASES:
        for backward in (False, True):
            cases[f"{name} {'fwd+bwd' if backward else 'fwd'} [kernel]"] = (kind, x_shape, backward, "kernel")
    return cases


CASES = case_table()


def stepper(library, case):
    """One call of the case's op on fixed float32 inputs (and a backward of its sum), in ``library``
    (minidl with the case's conv algorithm)."""
    what, spec, backward, algorithm = CASES[case]
    rng = np.random.default_rng(0)
    functional = library.nn.functional
    if what == "conv":
        x_shape, w_shape, padding, input_grad = spec
        x, w, b = (library.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=grad)
                   for s, grad in ((x_shape, input_grad), (w_shape, True), (w_shape[:1], True)))  # fmt: skip
        call = lambda: functional.conv2d(x, w, b, padding=padding)  # noqa: E731
    else:
        x = library.tensor(rng.standard_normal(spec).astype(np.float32), requires_grad=True)
        pool = functional.max_pool2d if what == "max" else functional.avg_pool2d
        call = lambda: pool(x, 2)  # noqa: E731

    def step():
        with md.config.override(conv_algorithm=algorithm) if library is md and what == "conv" else nullcontext():
            out = call()
        if backward:
            out.sum().backward()

    return step


FIRST_CALL = """
import time, numpy as np
start = time.perf_counter()
import minidl as md, minidl.functional as F
x = md.tensor(np.ones((2, 3, 8, 8), np.float32), requires_grad=True)
w = md.tensor(np.ones((4, 3, 3, 3), np.float32), requires_grad=True)
F.max_pool2d(F.conv2d(x, w), 2).sum().backward()
print(time.perf_counter() - start)
"""


def first_call_seconds():
    """Import + first conv/pool forward and backward in a fresh process: with an empty Numba cache
    (everything compiles), then again with the cache that run wrote."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        run = lambda: float(subprocess.run([sys.executable, "-c", FIRST_CALL], env=env, capture_output=True, text=True, check=True).stdout)  # noqa: E731
        return {"first_call_cold_cache_s": run(), "first_call_warm_cache_s": run()}


def peak_memory(case):
    """Peak bytes NumPy allocates during one conv forward+backward, and the im2col buffer's size."""
    step = stepper(md, case)
    step()  # compile first
    tracemalloc.start()
    step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    (n, c, h, w), (o, _, kh, kw) = CASES[case][1][:2]
    cols = c * kh * kw * n * (h - kh + 1) * (w - kw + 1) * 4
    return {"case": case, "peak_bytes": peak, "im2col_bytes": cols, "peak_over_im2col": peak / cols}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _timing.add_process_arguments(parser)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "conv.json"))
    args = parser.parse_args()
    if args.worker:
        return _timing.worker(stepper, CASES, args)
    rows = _timing.compare_in_processes(__file__, CASES, args)
    for row in rows:  # the algorithm as a column of its own
        row["case"], row["algorithm"] = row["case"].rsplit(" [", 1)[0], CASES[row["case"]][3]
    _timing.print_table(f"conv2d and pooling, float32, batch 64, {args.threads} threads each, separate processes", rows)
    compile_times = first_call_seconds()
    memory = peak_memory(f"{CONV_CASES[1][0]} fwd+bwd [im2col]")
    print(f"\nfirst call (import + JIT): {compile_times['first_call_cold_cache_s']:.1f} s with an empty Numba cache, "
          f"{compile_times['first_call_warm_cache_s']:.1f} s with the cache")
    print(f"peak memory of {memory['case']}: {memory['peak_bytes'] / 1e6:.1f} MB = "
          f"{memory['peak_over_im2col']:.2f} x the im2col buffer ({memory['im2col_bytes'] / 1e6:.1f} MB)")
    import torch

    torch.set_num_threads(args.threads)  # recorded in the machine record
    _timing.write_json(args.out, rows, first_call=compile_times, memory=memory, threads=args.threads)


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    if "--worker" not in sys.argv:
        print(f"total {time.perf_counter() - start:.0f} s")
