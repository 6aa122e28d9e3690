"""Does the ordinary backward pass cost more since gradients of gradients exist?  This tree's train
step against the same step at an earlier commit, in one run.

    python benchmarks/bench_backward_overhead.py [--baseline ef3731e] [--rounds 4] [--steps 30]
                                                 [--out benchmarks/results/backward_overhead.json]

``create_graph=True`` (issue 14) changed the backward walk that every ``loss.backward()`` runs
(one walk for both passes, a sink that says which nodes run).  This times one training step
(forward, loss, backward, Adam) of the MNIST CNN (batch 64, 28x28) and of an LSTM(32 -> 128) over
64 steps at batch 32, each in a process of its own, with this checkout's minidl and with the
``--baseline`` commit's (checked out into a temporary folder with ``git worktree``), alternating
over ``--rounds`` rounds; median of the per-process medians.  Ratio = this tree / baseline
(1.0: no slowdown).  BLAS on 2 threads.  Also the peak memory NumPy allocates during one step
(tracemalloc), in each tree.
"""
import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing  # noqa: E402

ROOT = _timing.ROOT

WORKER = r"""
import json, sys, time
import numpy as np
from threadpoolctl import threadpool_limits
import minidl as md
import minidl.functional as F

def cnn_step():
    md.manual_seed(0)
    model = md.models.cnn(image_size=28)
    optimizer = md.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = md.tensor(rng.standard_normal((64, 1, 28, 28)).astype(np.float32))
    y = md.tensor(rng.integers(0, 10, 64))
    def step():
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return step

def lstm_step():
    md.manual_seed(0)
    lstm, head = md.nn.LSTM(32, 128), md.nn.Linear(128, 1)
    optimizer = md.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=1e-3)
    rng = np.random.default_rng(0)
    x = md.tensor(rng.standard_normal((64, 32, 32)).astype(np.float32))
    y = md.tensor(rng.standard_normal((32, 1)).astype(np.float32))
    def step():
        out, _ = lstm(x)
        loss = F.mse_loss(head(out[-1]), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return step

step = {"cnn": cnn_step, "lstm": lstm_step}[sys.argv[1]]()
times = []
with threadpool_limits(2, user_api="blas"):
    for _ in range(5):
        step()
    for _ in range(int(sys.argv[2])):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
import tracemalloc
tracemalloc.start()
step()
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
print(json.dumps([sorted(times)[len(times) // 2] * 1e3, peak / 2**20]))
"""

WORKLOADS = {"cnn": "MNIST CNN train step, batch 64, Adam", "lstm": "LSTM(32->128) seq 64 batch 32 train step, Adam"}


def median_ms_and_peak_mib(tree, workload, steps):
    """One process with ``tree``'s minidl on the path: the median step time in ms, and the peak
    memory NumPy allocated during one more step (tracemalloc, MiB)."""
    result = subprocess.run([sys.executable, "-c", WORKER, workload, str(steps)], cwd=tree, capture_output=True,
                            text=True, env=_timing.tree_env(tree), check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default="ef3731e", help="the commit to compare with (before issue 14)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "backward_overhead.json"))
    args = parser.parse_args()
    rows = []
    with _timing.checkout(args.baseline) as baseline:
        for workload, case in WORKLOADS.items():
            for tree in (baseline, ROOT):  # compile and cache the kernels
                median_ms_and_peak_mib(tree, workload, 2)
            now, before = [], []
            for _ in range(args.rounds):
                now.append(median_ms_and_peak_mib(ROOT, workload, args.steps))
                time.sleep(0.5)
                before.append(median_ms_and_peak_mib(baseline, workload, args.steps))
                time.sleep(0.5)
            now_ms, before_ms = (statistics.median(ms for ms, _ in runs) for runs in (now, before))
            rows.append({"case": case, "this_tree_ms": now_ms, "baseline_ms": before_ms, "ratio": now_ms / before_ms,
                         "this_tree_peak_mib": now[0][1], "baseline_peak_mib": before[0][1]})
    print(f"\nthis tree against {args.baseline}, one process per measurement\n{'case':<50}{'now ms':>10}{'before ms':>11}"
          f"{'ratio':>7}{'now MiB':>9}{'before MiB':>11}")
    for row in rows:
        print(f"{row['case']:<50}{row['this_tree_ms']:>10.2f}{row['baseline_ms']:>11.2f}{row['ratio']:>7.2f}"
              f"{row['this_tree_peak_mib']:>9.1f}{row['baseline_peak_mib']:>11.1f}")
    Path(args.out).write_text(json.dumps({"machine": _timing.machine(), "baseline": args.baseline, "rows": rows},
                                         indent=2) + "\n")


if __name__ == "__main__":
    main()
