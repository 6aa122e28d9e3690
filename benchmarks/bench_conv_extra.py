"""conv_transpose2d and conv1d: minidl (im2col) against PyTorch CPU, in one run, both on 2 threads.

    python benchmarks/bench_conv_extra.py [--repeats 20] [--out benchmarks/results/conv_extra.json]

Prints a table of median times and ratios minidl / torch (below 1: minidl is faster), forward and
forward+backward, and writes it as JSON with the machine record.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing  # noqa: E402

import minidl as md  # noqa: E402
import minidl.functional as F  # noqa: E402

THREADS = 2
CASES = [
    # name, function name (minidl.functional and torch.nn.functional), x shape, weight shape, options
    ("conv_transpose2d 64->32, 14x14->28x28, k4 s2 p1", "conv_transpose2d", (64, 64, 14, 14), (64, 32, 4, 4),
     dict(stride=2, padding=1)),
    ("conv_transpose2d 64->32, 14x14->28x28, k2 s2", "conv_transpose2d", (64, 64, 14, 14), (64, 32, 2, 2),
     dict(stride=2)),
    ("conv1d 64->64, length 256, k3 p1", "conv1d", (32, 64, 256), (64, 64, 3), dict(padding=1)),
]


def runners(function, x_shape, w_shape, options, backward):
    """``ours()`` and ``theirs()``: one call of the op (and a backward of its sum) on the same float32
    inputs, the input, weight and bias all needing gradients (a layer inside a network)."""
    rng = np.random.default_rng(0)
    out_channels = w_shape[1] if function == "conv_transpose2d" else w_shape[0]
    arrays = [rng.standard_normal(s).astype(np.float32) for s in (x_shape, w_shape, (out_channels,))]
    ours_inputs = [md.tensor(a, requires_grad=True) for a in arrays]
    theirs_inputs = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours_fn, theirs_fn = getattr(F, function), getattr(torch.nn.functional, function)

    def ours():
        out = ours_fn(*ours_inputs, **options)
        if backward:
            out.sum().backward()

    def theirs():
        out = theirs_fn(*theirs_inputs, **options)
        if backward:
            out.sum().backward()

    return ours, theirs


def timing_rows(repeats):
    rows = []
    for name, function, x_shape, w_shape, options in CASES:
        for backward in (False, True):
            ours, theirs = runners(function, x_shape, w_shape, options, backward)
            label = f"{name} {'fwd+bwd' if backward else 'fwd'}"
            rows.append(_timing.compare(label, ours, theirs, repeats=repeats, algorithm="im2col"))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "conv_extra.json"))
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    with threadpool_limits(THREADS, user_api="blas"):  # minidl uses as many threads as BLAS
        rows = timing_rows(args.repeats)
    _timing.print_table(f"conv_transpose2d (batch 64) and conv1d (batch 32), float32, torch on {THREADS} threads", rows)
    _timing.write_json(args.out, rows)


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"total {time.perf_counter() - start:.0f} s")
