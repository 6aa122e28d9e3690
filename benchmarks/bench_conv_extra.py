"""conv_transpose2d and conv1d: minidl (im2col) against PyTorch CPU, each library in processes of
its own, both on 2 threads.

    python benchmarks/bench_conv_extra.py [--repeats 30] [--rounds 3] [--out benchmarks/results/conv_extra.json]

Prints a table of median times and ratios minidl / torch (below 1: minidl is faster), forward and
forward+backward, and writes it as JSON with the machine record.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing  # noqa: E402

SHAPES = [
    # name, function name (minidl.functional and torch.nn.functional), x shape, weight shape, options
    ("conv_transpose2d 64->32, 14x14->28x28, k4 s2 p1", "conv_transpose2d", (64, 64, 14, 14), (64, 32, 4, 4),
     dict(stride=2, padding=1)),
    ("conv_transpose2d 64->32, 14x14->28x28, k2 s2", "conv_transpose2d", (64, 64, 14, 14), (64, 32, 2, 2),
     dict(stride=2)),
    ("conv1d 64->64, length 256, k3 p1", "conv1d", (32, 64, 256), (64, 64, 3), dict(padding=1)),
]
CASES = {f"{name} {'fwd+bwd' if backward else 'fwd'}": (function, x_shape, w_shape, options, backward)
         for name, function, x_shape, w_shape, options in SHAPES for backward in (False, True)}  # fmt: skip


def stepper(library, case):
    """One call of the op (and a backward of its sum) on fixed float32 inputs, the input, weight and
    bias all needing gradients (a layer inside a network)."""
    function, x_shape, w_shape, options, backward = CASES[case]
    rng = np.random.default_rng(0)
    out_channels = w_shape[1] if function == "conv_transpose2d" else w_shape[0]
    inputs = [library.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True)
              for s in (x_shape, w_shape, (out_channels,))]  # fmt: skip
    op = getattr(library.nn.functional, function)

    def step():
        out = op(*inputs, **options)
        if backward:
            out.sum().backward()

    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _timing.add_process_arguments(parser)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "conv_extra.json"))
    args = parser.parse_args()
    if args.worker:
        return _timing.worker(stepper, CASES, args)
    rows = _timing.compare_in_processes(__file__, CASES, args)
    _timing.print_table(f"conv_transpose2d (batch 64) and conv1d (batch 32), float32, {args.threads} threads each, "
                        "separate processes", rows)
    import torch

    torch.set_num_threads(args.threads)  # recorded in the machine record
    _timing.write_json(args.out, rows, threads=args.threads)


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    if "--worker" not in sys.argv:
        print(f"total {time.perf_counter() - start:.0f} s")
