"""Training-step time of a recurrent model, minidl vs PyTorch CPU (2 threads), in one run.

The model: LSTM(32 -> 128) (or GRU) over a sequence of 64 steps, batch 32, and Linear(128, 1) on
the last output; one step is forward, MSE loss, backward and an Adam update.  Both libraries start
from the same weights.  Both get the same number of threads (``--threads``, default 2: torch's
own pool and NumPy's BLAS).  Prints a table and writes JSON (``--out``, default
benchmarks/results/rnn.json).  Target: minidl at most 1.5x torch.

    python benchmarks/bench_rnn.py [--repeats 20] [--threads 2] [--out PATH]
"""
import argparse
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

import minidl as md
from _timing import compare, print_table, write_json

SEQ_LEN, BATCH, INPUT_SIZE, HIDDEN_SIZE = 64, 32, 32, 128
TARGET_RATIO = 1.5


def training_step(library, rnn, head, x, y):
    """One step of training ``head(rnn(x)[-1])`` on MSE with Adam: the code is the same for both
    libraries (``library`` is torch or minidl)."""
    optimizer = library.optim.Adam([*rnn.parameters(), *head.parameters()], lr=1e-3)
    x, y = library.tensor(x), library.tensor(y)

    def step():
        optimizer.zero_grad()
        output, _ = rnn(x)
        loss = library.nn.functional.mse_loss(head(output[-1]), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def training_steps(kind, x, y):
    """A minidl and a torch training step of the same model, from the same weights."""
    torch_rnn = getattr(torch.nn, kind)(INPUT_SIZE, HIDDEN_SIZE)
    torch_head = torch.nn.Linear(HIDDEN_SIZE, 1)
    md_rnn = getattr(md.nn, kind)(INPUT_SIZE, HIDDEN_SIZE)
    md_head = md.nn.Linear(HIDDEN_SIZE, 1)
    md_rnn.load_state_dict(torch_rnn.state_dict())
    md_head.load_state_dict(torch_head.state_dict())
    md_step, torch_step = training_step(md, md_rnn, md_head, x, y), training_step(torch, torch_rnn, torch_head, x, y)
    first_md, first_torch = md_step(), torch_step()
    if not np.isclose(first_md, first_torch, rtol=1e-4):
        raise AssertionError(f"{kind}: the two models disagree: loss {first_md} vs {first_torch}")
    return md_step, torch_step


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "rnn.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads, user_api="blas")
    md.manual_seed(0)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((SEQ_LEN, BATCH, INPUT_SIZE)).astype(np.float32)
    y = rng.standard_normal((BATCH, 1)).astype(np.float32)
    rows = []
    for kind in ("LSTM", "GRU"):
        md_step, torch_step = training_steps(kind, x, y)
        case = f"{kind}({INPUT_SIZE}->{HIDDEN_SIZE}) seq {SEQ_LEN} batch {BATCH} + Adam"
        rows.append(compare(case, md_step, torch_step, repeats=args.repeats, warmup=3))
    print_table("recurrent training step (forward + backward + Adam), float32", rows)
    for row in rows:
        verdict = "ok" if row["ratio"] <= TARGET_RATIO else f"above the {TARGET_RATIO}x target"
        print(f"{row['case']}: {row['ratio']:.2f}x torch ({verdict})")
    write_json(args.out, rows, target_ratio=TARGET_RATIO, threads=args.threads)


if __name__ == "__main__":
    main()
