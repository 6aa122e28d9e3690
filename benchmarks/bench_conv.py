"""conv2d and pooling: minidl (im2col and direct) against PyTorch CPU, in one run, both on 2 threads.

    python benchmarks/bench_conv.py [--repeats 20] [--out benchmarks/results/conv.json]

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

import numpy as np
import torch
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing  # noqa: E402

import minidl as md  # noqa: E402
import minidl.functional as F  # noqa: E402

THREADS = 2
CONV_CASES = [
    # name, x shape, weight shape, padding, does the input need a gradient (not for a first layer)
    ("conv 1->32, 28x28, 3x3 (MNIST layer 1)", (64, 1, 28, 28), (32, 1, 3, 3), 0, False),
    ("conv 32->64, 13x13, 3x3 (MNIST layer 2)", (64, 32, 13, 13), (64, 32, 3, 3), 0, True),
    ("conv 64->64, 32x32, 3x3 pad 1 (larger)", (64, 64, 32, 32), (64, 64, 3, 3), 1, True),
]
POOL_CASES = [("max_pool 2x2 on 64x32x26x26", "max", (64, 32, 26, 26)), ("avg_pool 2x2 on 64x32x26x26", "avg", (64, 32, 26, 26))]


def conv_runners(x_shape, w_shape, padding, input_grad, backward):
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in (x_shape, w_shape, w_shape[:1]))
    mx, mw, mb = md.tensor(x, requires_grad=input_grad), md.tensor(w, requires_grad=True), md.tensor(b, requires_grad=True)
    tx, tw, tb = torch.tensor(x, requires_grad=input_grad), torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)

    def ours():
        out = F.conv2d(mx, mw, mb, padding=padding)
        if backward:
            out.sum().backward()

    def theirs():
        out = torch.nn.functional.conv2d(tx, tw, tb, padding=padding)
        if backward:
            out.sum().backward()

    return ours, theirs


def pool_runners(kind, x_shape, backward):
    x = np.random.default_rng(0).standard_normal(x_shape).astype(np.float32)
    mx, tx = md.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours_fn = F.max_pool2d if kind == "max" else F.avg_pool2d
    theirs_fn = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d

    def ours():
        out = ours_fn(mx, 2)
        if backward:
            out.sum().backward()

    def theirs():
        out = theirs_fn(tx, 2)
        if backward:
            out.sum().backward()

    return ours, theirs


def timing_rows(repeats):
    rows = []
    for name, x_shape, w_shape, padding, input_grad in CONV_CASES:
        for backward in (False, True):
            for algorithm in ("im2col", "direct"):
                if algorithm == "direct" and w_shape[1] >= 64:
                    continue  # the teaching loops take seconds here
                with md.config.override(conv_algorithm=algorithm):
                    ours, theirs = conv_runners(x_shape, w_shape, padding, input_grad, backward)
                    label = f"{name} {'fwd+bwd' if backward else 'fwd'}"
                    rows.append(_timing.compare(label, ours, theirs, repeats=repeats, algorithm=algorithm))
    for name, kind, x_shape in POOL_CASES:
        for backward in (False, True):
            ours, theirs = pool_runners(kind, x_shape, backward)
            rows.append(_timing.compare(f"{name} {'fwd+bwd' if backward else 'fwd'}", ours, theirs, repeats=repeats, algorithm="kernel"))
    return rows


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


def peak_memory(x_shape, w_shape):
    """Peak bytes NumPy allocates during one conv forward+backward, and the im2col buffer's size."""
    ours, _ = conv_runners(x_shape, w_shape, 0, True, True)
    ours()  # compile first
    tracemalloc.start()
    ours()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    n, c, h, w = x_shape
    o, _, kh, kw = w_shape
    cols = c * kh * kw * n * (h - kh + 1) * (w - kw + 1) * 4
    return {"case": "conv 32->64 fwd+bwd", "peak_bytes": peak, "im2col_bytes": cols, "peak_over_im2col": peak / cols}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "conv.json"))
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    with threadpool_limits(THREADS, user_api="blas"):  # minidl uses as many threads as BLAS
        rows = timing_rows(args.repeats)
    _timing.print_table(f"conv2d and pooling, float32, batch 64, torch on {THREADS} threads", rows)
    compile_times = first_call_seconds()
    memory = peak_memory(CONV_CASES[1][1], CONV_CASES[1][2])
    print(f"\nfirst call (import + JIT): {compile_times['first_call_cold_cache_s']:.1f} s with an empty Numba cache, "
          f"{compile_times['first_call_warm_cache_s']:.1f} s with the cache")
    print(f"peak memory of {memory['case']}: {memory['peak_bytes'] / 1e6:.1f} MB = "
          f"{memory['peak_over_im2col']:.2f} x the im2col buffer ({memory['im2col_bytes'] / 1e6:.1f} MB)")
    _timing.write_json(args.out, rows, first_call=compile_times, memory=memory)


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"total {time.perf_counter() - start:.0f} s")
