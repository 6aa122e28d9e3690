"""minidl against an earlier minidl: every benchmark case timed with this checkout and with an
earlier commit, side by side, so that a change shows what it sped up and what it slowed down.

    python benchmarks/compare_trees.py [--baseline d02386e] [--rounds 3] [--repeats 30]
                                       [--only TEXT] [--env NAME=VALUE ...]
                                       [--out benchmarks/results/compare_trees.json]

Runs the ``--worker minidl`` mode of bench_conv, bench_conv_extra, bench_rnn, bench_attention and
bench_train (the same steppers that time minidl against torch) with this checkout's ``minidl`` and
``kernels`` on the path, and with the ``--baseline`` commit's (checked out into a temporary folder
with ``git worktree``), each in processes of its own, alternating over ``--rounds``; the
steppers are this checkout's and use only the public API.  Ratio = this tree / baseline (below
1: faster now).  torch is not run.
"""
import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = _timing.ROOT
SCRIPTS = ["bench_conv.py", "bench_conv_extra.py", "bench_rnn.py", "bench_attention.py", "bench_train.py"]


def worker_times(script, tree, args):
    """{case: [seconds, ...]} from one ``--worker minidl`` process of ``script`` with ``tree``'s minidl."""
    command = [sys.executable, str(HERE / script), "--worker", "minidl", "--threads", "2",
               "--repeats", str(max(1, args.repeats // args.rounds)), "--warmup", "3", "--only", args.only]
    env = dict(_timing.tree_env(tree), **dict(setting.split("=", 1) for setting in args.env))
    result = subprocess.run(command, capture_output=True, text=True, check=True, cwd=tree, env=env)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default="d02386e", help="the earlier commit")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--only", default="", help="time only the cases whose name contains this text")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for both trees' processes (repeatable), e.g. "
                             "NUMBA_CPU_NAME=haswell and OPENBLAS_CORETYPE=Haswell to run as on an AVX2 CPU")
    parser.add_argument("--out", default=str(HERE / "results" / "compare_trees.json"))
    args = parser.parse_args()
    rows = []
    with _timing.checkout(args.baseline) as baseline:
        for script in SCRIPTS:
            times = {"now": {}, "before": {}}
            for _ in range(args.rounds):
                for label, tree in (("now", ROOT), ("before", baseline)):
                    for case, seconds in worker_times(script, tree, args).items():
                        times[label].setdefault(case, []).extend(seconds)
            for case in times["now"]:
                now, before = (1e3 * statistics.median(times[label][case]) for label in ("now", "before"))
                rows.append({"script": script, "case": case, "now_ms": now, "before_ms": before, "ratio": now / before})
    print(f"\nthis tree against {args.baseline}, minidl only, separate processes\n"
          f"{'case':<60}{'now ms':>10}{'before ms':>11}{'ratio':>7}")
    for row in rows:
        print(f"{row['case'][:59]:<60}{row['now_ms']:>10.3f}{row['before_ms']:>11.3f}{row['ratio']:>7.2f}")
    Path(args.out).write_text(json.dumps({"machine": _timing.machine(), "baseline": args.baseline, "env": args.env,
                                          "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
