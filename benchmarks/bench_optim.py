"""Optimizer step time: md.optim against torch.optim on a model of about one million parameters.

    python benchmarks/bench_optim.py [--repeats 30] [--threads 2] [--out benchmarks/results/optim.json]

Only ``optimizer.step()`` is timed, with fixed float32 gradients already in place, for the same
model and the same hyperparameters in both libraries.  torch runs its per-parameter loop
(``foreach=False``), the same algorithm as minidl's; its multi-tensor ``foreach=True`` path is
shown as an extra column.  Ratio = minidl / torch (foreach=False): below 1, minidl is faster.
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing  # noqa: E402

import minidl as md  # noqa: E402

LAYERS = [(512, 1024), (1024, 512), (512, 10)]  # Linear layers: 1,055,242 parameters
CASES = [  # (row name, minidl class, torch class, hyperparameters)
    ("SGD", "SGD", "SGD", dict(lr=1e-3)),
    ("SGD momentum=0.9", "SGD", "SGD", dict(lr=1e-3, momentum=0.9)),
    ("Momentum (torch: SGD momentum=0.9)", "Momentum", "SGD", dict(lr=1e-3, momentum=0.9)),
    ("RMSprop", "RMSprop", "RMSprop", dict(lr=1e-3)),
    ("RMSprop centered momentum=0.9", "RMSprop", "RMSprop", dict(lr=1e-3, centered=True, momentum=0.9)),
    ("Adam", "Adam", "Adam", dict(lr=1e-3)),
    ("Adam amsgrad", "Adam", "Adam", dict(lr=1e-3, amsgrad=True)),
    ("AdamW", "AdamW", "AdamW", dict(lr=1e-3)),
    ("Adagrad", "Adagrad", "Adagrad", dict(lr=1e-3)),
    ("Adadelta", "Adadelta", "Adadelta", dict(lr=1e-3)),
]


def model_parameters():
    """(weight, gradient) arrays of the Linear layers' parameters, the same for both libraries."""
    rng = np.random.default_rng(0)
    shapes = [shape for fan_in, fan_out in LAYERS for shape in [(fan_out, fan_in), (fan_out,)]]
    return [(0.05 * rng.standard_normal(s), rng.standard_normal(s)) for s in shapes]


def md_stepper(name, hyper, arrays):
    params = []
    for weight, grad in arrays:
        p = md.nn.Parameter(md.tensor(weight, dtype=md.float32))
        p.grad = md.tensor(grad, dtype=md.float32)
        params.append(p)
    return getattr(md.optim, name)(params, **hyper).step


def torch_stepper(name, hyper, arrays, foreach):
    params = []
    for weight, grad in arrays:
        p = torch.nn.Parameter(torch.tensor(weight, dtype=torch.float32))
        p.grad = torch.tensor(grad, dtype=torch.float32)
        params.append(p)
    return getattr(torch.optim, name)(params, foreach=foreach, **hyper).step


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2, help="torch's thread count")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "optim.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    arrays = model_parameters()
    count = sum(weight.size for weight, _ in arrays)
    rows = []
    for case, md_name, torch_name, hyper in CASES:
        foreach_ms = 1e3 * _timing.median_seconds(torch_stepper(torch_name, hyper, arrays, True), args.repeats)
        rows.append(
            _timing.compare(
                case,
                md_stepper(md_name, hyper, arrays),
                torch_stepper(torch_name, hyper, arrays, False),
                repeats=args.repeats,
                torch_foreach_ms=foreach_ms,
            )
        )
    _timing.print_table(f"optimizer.step() on {count:,} float32 parameters, torch with {args.threads} threads", rows)
    _timing.write_json(args.out, rows, parameters=count)


if __name__ == "__main__":
    main()
