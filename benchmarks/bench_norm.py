"""Normalization layers, forward + backward: md.nn against torch.nn on the same input and weights.

    python benchmarks/bench_norm.py [--repeats 30] [--threads 2] [--out benchmarks/results/norm.json]

Each case times one training step of the layer alone: forward, a backward from a fixed upstream
gradient, in float32.  Issue 13's target: BatchNorm2d on (64, 64, 16, 16) within 1.5x of torch.
Ratio = minidl / torch: below 1, minidl is faster.
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing  # noqa: E402

import minidl as md  # noqa: E402

CASES = [  # (row name, layer class name, constructor arguments, input shape)
    ("BatchNorm2d (64, 64, 16, 16)", "BatchNorm2d", (64,), (64, 64, 16, 16)),
    ("BatchNorm1d (256, 512)", "BatchNorm1d", (512,), (256, 512)),
    ("LayerNorm (64, 128, 256)", "LayerNorm", (256,), (64, 128, 256)),
    ("GroupNorm 8 groups (64, 64, 16, 16)", "GroupNorm", (8, 64), (64, 64, 16, 16)),
]


def stepper(library, layer_name, args, x, upstream):
    """One forward and backward of a fresh ``library.nn.<layer_name>(*args)`` in training mode."""
    layer = getattr(library.nn, layer_name)(*args)
    inputs = library.tensor(x, requires_grad=True)
    gradient = library.tensor(upstream)

    def step():
        inputs.grad = None
        layer(inputs).backward(gradient)

    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2, help="torch's thread count")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "norm.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    rows = []
    for case, layer_name, layer_args, shape in CASES:
        x = rng.standard_normal(shape).astype(np.float32)
        upstream = rng.standard_normal(shape).astype(np.float32)
        rows.append(_timing.compare(case, stepper(md, layer_name, layer_args, x, upstream),
                                    stepper(torch, layer_name, layer_args, x, upstream), repeats=args.repeats))
    _timing.print_table(f"normalization fwd+bwd, float32, torch with {args.threads} threads", rows)
    _timing.write_json(args.out, rows)


if __name__ == "__main__":
    main()
