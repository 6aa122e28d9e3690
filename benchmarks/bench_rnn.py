"""Training-step time of a recurrent model, minidl vs PyTorch CPU (2 threads), each library in
processes of its own.

The model: LSTM(32 -> 128) (or GRU) over a sequence of 64 steps, batch 32, and Linear(128, 1) on
the last output; one step is forward, MSE loss, backward and an Adam update.  Both libraries start
from the same weights (drawn with NumPy; the first losses are checked to agree before timing).
Both get the same number of threads (``--threads``, default 2: torch's own pool and NumPy's
BLAS).  Prints a table and writes JSON (``--out``, default benchmarks/results/rnn.json).
Targets: issue 5, minidl at most 1.5x torch; issue 15, the LSTM at most 1.3x.

    python benchmarks/bench_rnn.py [--repeats 30] [--rounds 3] [--threads 2] [--out PATH]
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing  # noqa: E402

SEQ_LEN, BATCH, INPUT_SIZE, HIDDEN_SIZE = 64, 32, 32, 128
TARGET_RATIO = 1.5
CASES = {f"{kind}({INPUT_SIZE}->{HIDDEN_SIZE}) seq {SEQ_LEN} batch {BATCH} + Adam": kind for kind in ("LSTM", "GRU")}


def model(library, kind):
    """The recurrent layer and the linear head, with weights drawn by NumPy (the same in both
    libraries: same parameter names, order and layout)."""
    rnn, head = getattr(library.nn, kind)(INPUT_SIZE, HIDDEN_SIZE), library.nn.Linear(HIDDEN_SIZE, 1)
    rng = np.random.default_rng(1)
    with library.no_grad():
        for p in [*rnn.parameters(), *head.parameters()]:
            p.copy_(library.tensor(rng.uniform(-0.1, 0.1, tuple(p.shape)).astype(np.float32)))
    return rnn, head


def stepper(library, case):
    """One step of training ``head(rnn(x)[-1])`` on MSE with Adam: the code is the same for both
    libraries (``library`` is torch or minidl); the step returns the loss."""
    rnn, head = model(library, CASES[case])
    optimizer = library.optim.Adam([*rnn.parameters(), *head.parameters()], lr=1e-3)
    rng = np.random.default_rng(0)
    x = library.tensor(rng.standard_normal((SEQ_LEN, BATCH, INPUT_SIZE)).astype(np.float32))
    y = library.tensor(rng.standard_normal((BATCH, 1)).astype(np.float32))

    def step():
        optimizer.zero_grad()
        output, _ = rnn(x)
        loss = library.nn.functional.mse_loss(head(output[-1]), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def check_same_model():
    """The first loss of each case agrees between the libraries (the models are the same)."""
    import torch

    import minidl as md

    for case in CASES:
        ours, theirs = stepper(md, case)(), stepper(torch, case)()
        if not np.isclose(ours, theirs, rtol=1e-4):
            raise AssertionError(f"{case}: the two models disagree: loss {ours} vs {theirs}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    _timing.add_process_arguments(parser)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "rnn.json"))
    args = parser.parse_args()
    if args.worker:
        return _timing.worker(stepper, CASES, args)
    check_same_model()
    rows = _timing.compare_in_processes(__file__, CASES, args)
    _timing.print_table("recurrent training step (forward + backward + Adam), float32, separate processes", rows)
    for row in rows:
        verdict = "ok" if row["ratio"] <= TARGET_RATIO else f"above the {TARGET_RATIO}x target"
        print(f"{row['case']}: {row['ratio']:.2f}x torch ({verdict})")
    import torch

    torch.set_num_threads(args.threads)  # recorded in the machine record
    _timing.write_json(args.out, rows, target_ratio=TARGET_RATIO, threads=args.threads)


if __name__ == "__main__":
    main()
