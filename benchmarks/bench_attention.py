"""Attention, forward + backward: md.nn against torch.nn, each library timed in a process of its own.

    python benchmarks/bench_attention.py [--repeats 30] [--rounds 3] [--threads 2] [--out benchmarks/results/attention.json]

Each case times one training step of the layer alone in float32: forward on a (seq 64, batch 32,
dim 128) self-attention input, then a backward from a fixed upstream gradient.  The libraries
run in separate processes (NumPy's OpenBLAS threads and torch's OpenMP threads then never wait
for each other), ``--rounds`` times each, alternating, so that a slow spell of a shared machine
falls on both alike; the medians are taken over all calls of each side.  Both libraries get
``--threads`` threads (torch's, and BLAS's through threadpoolctl).  Issue 13's target:
MultiheadAttention(128, 4) within 1.5x of torch.  Ratio = minidl / torch: below 1, minidl is faster.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing  # noqa: E402

SEQ, BATCH, DIM, HEADS = 64, 32, 128, 4
CASES = {  # row name -> (layer class name, constructor arguments, keyword arguments of the call)
    "MultiheadAttention need_weights=True": ("MultiheadAttention", (DIM, HEADS), {}),
    "MultiheadAttention need_weights=False": ("MultiheadAttention", (DIM, HEADS), {"need_weights": False}),
    "TransformerEncoderLayer ff=512": ("TransformerEncoderLayer", (DIM, HEADS, 4 * DIM, 0.0), {}),
}


def stepper(library, case):
    """One forward and backward of a fresh layer of ``case`` on a (64, 32, 128) input."""
    layer_name, args, options = CASES[case]
    layer = getattr(library.nn, layer_name)(*args)
    rng = np.random.default_rng(0)
    x = library.tensor(rng.standard_normal((SEQ, BATCH, DIM)).astype(np.float32), requires_grad=True)
    upstream = library.tensor(rng.standard_normal((SEQ, BATCH, DIM)).astype(np.float32))
    call = (lambda: layer(x, x, x, **options)[0]) if layer_name == "MultiheadAttention" else (lambda: layer(x))

    def step():
        x.grad = None
        call().backward(upstream)

    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    _timing.add_process_arguments(parser, repeats=30, rounds=3)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "attention.json"))
    args = parser.parse_args()
    if args.worker:
        return _timing.worker(stepper, CASES, args)
    rows = _timing.compare_in_processes(__file__, CASES, args)
    _timing.print_table(f"attention fwd+bwd, (seq {SEQ}, batch {BATCH}, dim {DIM}), float32, "
                        f"{args.threads} threads each, separate processes", rows)
    import torch

    torch.set_num_threads(args.threads)  # recorded in the machine record
    _timing.write_json(args.out, rows, threads=args.threads)


if __name__ == "__main__":
    main()
