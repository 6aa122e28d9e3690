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
import json
import statistics
import subprocess
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


def worker(library_name, threads, repeats, warmup):
    """In the child process: time every case with one library, print {case: [seconds, ...]} as JSON."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads, user_api="blas")
    if library_name == "torch":
        import torch as library

        library.set_num_threads(threads)
    else:
        import minidl as library
    times = {case: _timing.block_seconds(stepper(library, case), repeats, warmup) for case in CASES}
    print(json.dumps(times))


def times_in_a_process(library_name, args, warmup):
    command = [sys.executable, __file__, "--worker", library_name, "--threads", str(args.threads),
               "--repeats", str(args.repeats // args.rounds), "--warmup", str(warmup)]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed steps per library and case, over all rounds")
    parser.add_argument("--rounds", type=int, default=3, help="processes per library, alternating")
    parser.add_argument("--threads", type=int, default=2, help="threads of each library")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--worker", choices=["minidl", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "attention.json"))
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.threads, args.repeats, args.warmup)
    times = {"minidl": {case: [] for case in CASES}, "torch": {case: [] for case in CASES}}
    for _ in range(args.rounds):
        for library_name, per_case in times.items():
            for case, seconds in times_in_a_process(library_name, args, args.warmup).items():
                per_case[case] += seconds
    rows = []
    for case in CASES:
        ours, theirs = statistics.median(times["minidl"][case]), statistics.median(times["torch"][case])
        rows.append({"case": case, "minidl_ms": 1e3 * ours, "torch_ms": 1e3 * theirs, "ratio": ours / theirs})
    _timing.print_table(f"attention fwd+bwd, (seq {SEQ}, batch {BATCH}, dim {DIM}), float32, "
                        f"{args.threads} threads each, separate processes", rows)
    import torch

    torch.set_num_threads(args.threads)  # recorded in the machine record
    _timing.write_json(args.out, rows, threads=args.threads)


if __name__ == "__main__":
    main()
