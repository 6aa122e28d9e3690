"""A training step and one MNIST training epoch of the documents' CNN: minidl against torch CPU,
and the test accuracy.

    python benchmarks/bench_train.py [--data-dir ../shared/data/mnist] [--threads 2] [--batch-size 64] [--repeats 60]
                                     [--out benchmarks/results/train.json]

Both libraries train the same network (Conv32-ReLU-Pool-Conv64-ReLU-Pool-Flatten-Linear10, the
Keras MNIST example, ``md.models.cnn(image_size=28)``), from the same initial weights, on the same
standardized 60000 training images in the same batch order, with Adam (lr 1e-3), then score the
10000 test images.  Each epoch is timed once, after a few warm-up batches on a throwaway copy (an
epoch is long enough that its time is stable; the two are not interleaved).  torch and minidl's
BLAS (OpenBLAS, through threadpoolctl) both get ``--threads`` threads.  Ratio = minidl / torch.
The epoch is skipped, saying so, when the MNIST files are absent.  First, one train step (batch
64) on a fixed random batch, each library timed in processes of its own
(``_timing.compare_in_processes``).
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing  # noqa: E402

import minidl as md  # noqa: E402
from minidl.data import DataError, Standardizer, load_mnist  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WARMUP_BATCHES = 5


def torch_cnn():
    """The same layers as md.models.cnn(image_size=28), in torch."""
    import torch

    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 5 * 5, 10),
    )  # fmt: skip


def trainer(model, optimizer, loss_fn, as_tensor):
    """step(x, y) on NumPy batches: forward, loss, backward, optimizer step (either library)."""

    def step(x, y):
        loss = loss_fn(model(as_tensor(x)), as_tensor(y))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def minidl_trainer(model):
    return trainer(model, md.optim.Adam(model.parameters(), lr=1e-3), md.nn.CrossEntropyLoss(), md.tensor)


def torch_trainer(model):
    """torch's Adam with its per-parameter loop (foreach=False), the algorithm minidl implements."""
    import torch

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, foreach=False)
    return trainer(model, optimizer, torch.nn.CrossEntropyLoss(), torch.from_numpy)


def epoch_seconds(step, x, y, order, batch_size):
    """Wall time of one pass of ``step`` over the batches of ``order``."""
    start = time.perf_counter()
    for first in range(0, len(order), batch_size):
        batch = order[first : first + batch_size]
        step(x[batch], y[batch])
    return time.perf_counter() - start


def test_accuracy(predict, x, y):
    """Fraction of test images whose largest logit is at the label, in batches of 1000."""
    predicted = np.concatenate([predict(x[i : i + 1000]).argmax(axis=1) for i in range(0, len(x), 1000)])
    return float(np.mean(predicted == y))


STEP_CASE = "CNN train step, batch 64, Adam (random batch)"


def stepper(library, case):
    """One Adam step of the CNN on a fixed random batch of 64, weights drawn by NumPy (the same in
    both libraries: same parameter order and layout)."""
    model = md.models.cnn(image_size=28) if library is md else torch_cnn()
    rng = np.random.default_rng(1)
    with library.no_grad():
        for p in model.parameters():
            p.copy_(library.tensor(rng.uniform(-0.1, 0.1, tuple(p.shape)).astype(np.float32)))
    step = (minidl_trainer if library is md else torch_trainer)(model)
    x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    return lambda: step(x, y)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    _timing.add_process_arguments(parser, repeats=60, rounds=3)
    parser.add_argument("--batch-size", type=int, default=64, help="of the epoch")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "train.json"))
    args = parser.parse_args()
    if args.worker:
        return _timing.worker(stepper, [STEP_CASE], args)
    import torch

    (step,) = _timing.compare_in_processes(__file__, [STEP_CASE], args)
    _timing.print_table(f"one training step, {args.threads} threads each, separate processes", [step])
    torch.set_num_threads(args.threads)
    try:
        x_train, y_train = load_mnist(args.data_dir, "train")
        x_test, y_test = load_mnist(args.data_dir, "test")
    except DataError as err:
        print(f"epoch skipped: the MNIST files are not available ({err})")
        _timing.write_json(args.out, [step], threads=args.threads)
        return
    scaler = Standardizer(axis=(0, 2, 3)).fit(x_train)
    x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
    order = np.random.default_rng(0).permutation(len(x_train))
    warmup = order[: WARMUP_BATCHES * args.batch_size]

    md.manual_seed(0)
    ours = md.models.cnn(image_size=28)
    theirs = torch_cnn()
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    with threadpool_limits(limits=args.threads, user_api="blas"):
        epoch_seconds(minidl_trainer(md.models.cnn(image_size=28)), x_train, y_train, warmup, args.batch_size)
        epoch_seconds(torch_trainer(torch_cnn()), x_train, y_train, warmup, args.batch_size)
        minidl_s = epoch_seconds(minidl_trainer(ours), x_train, y_train, order, args.batch_size)
        torch_s = epoch_seconds(torch_trainer(theirs), x_train, y_train, order, args.batch_size)
        with md.no_grad():
            minidl_acc = test_accuracy(lambda x: ours(md.tensor(x)).numpy(), x_test, y_test)
    with torch.no_grad():
        torch_acc = test_accuracy(lambda x: theirs(torch.from_numpy(x)).numpy(), x_test, y_test)
    row = {"case": f"CNN, 1 MNIST epoch, batch {args.batch_size}, Adam", "minidl_ms": 1e3 * minidl_s,
           "torch_ms": 1e3 * torch_s, "ratio": minidl_s / torch_s, "minidl_test_acc": minidl_acc,
           "torch_test_acc": torch_acc}
    _timing.print_table(f"one training epoch (60000 images), {args.threads} threads", [row])
    _timing.write_json(args.out, [step, row], threads=args.threads)


if __name__ == "__main__":
    main()
