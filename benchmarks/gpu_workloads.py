"""GPU against CPU on the workloads that matter: the same computation on "cuda" and on "cpu", from
the same inputs and weights, compared (relative error) and timed.

    python benchmarks/gpu_workloads.py            # a machine with an NVIDIA GPU and the [gpu] extra
    python benchmarks/gpu_workloads.py --tiny     # tiny shapes (CI runs this on the CuPy stand-in)

Workloads: conv2d forward+backward with each algorithm (im2col: CuPy's matrix product around the
Numba CUDA im2col/col2im kernels; direct: the Numba CUDA loops), max pooling forward+backward (Numba
CUDA), an LSTM forward+backward, and one training step of the MNIST CNN with Adam.  For each, the
table gives the largest relative error of every output and gradient of the GPU run against the
NumPy run (float32), and the median time of a call on each device.  Without a usable GPU it says
so and exits 0 (``--tiny`` on the stand-in: ``MINIDL_FAKE_CUDA=1 NUMBA_ENABLE_CUDASIM=1``).
"""
import argparse
import statistics
import sys
import time

import numpy as np

import minidl as md
import minidl.functional as F

FULL = dict(batch=64, conv=(32, 64, 13), pool=(32, 26), lstm=(32, 128, 64), image=28)
TINY = dict(batch=2, conv=(2, 3, 5), pool=(2, 4), lstm=(3, 4, 3), image=12)
TOLERANCE = 1e-4  # float32 on two devices: reductions in another order


def conv_workload(sizes, algorithm):
    """conv2d of a (batch, in, n, n) input with a 3x3 weight and bias (padding 1)."""
    channels_in, channels_out, n = sizes["conv"]
    shapes = [(sizes["batch"], channels_in, n, n), (channels_out, channels_in, 3, 3), (channels_out,)]

    def on(device):
        def run(x, weight, bias):
            with md.config.override(conv_algorithm=algorithm):
                return F.conv2d(x, weight, bias, padding=1), [x, weight, bias]

        return run

    return shapes, on


def pool_workload(sizes):
    """2x2 max pooling of a (batch, channels, n, n) input."""
    channels, n = sizes["pool"]
    return [(sizes["batch"], channels, n, n)], lambda device: lambda x: (F.max_pool2d(x, 2), [x])


def lstm_workload(sizes):
    """nn.LSTM over a (seq, batch, input) sequence, with the same weights on both devices."""
    input_size, hidden, seq = sizes["lstm"]
    md.manual_seed(0)
    weights = md.nn.LSTM(input_size, hidden).state_dict()

    def on(device):
        layer = md.nn.LSTM(input_size, hidden)
        layer.load_state_dict(weights)
        layer.to(device)
        return lambda x: (layer(x)[0], [x, *layer.parameters()])

    return [(seq, sizes["batch"], input_size)], on


def random_arrays(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(shape) * 0.5).astype(np.float32) for shape in shapes]


def forward_backward(on, arrays, device):
    """The output and the gradients of ``on(device)``'s computation (the output's sum as the loss)
    on ``device``, as NumPy arrays, and a function that repeats it (for timing)."""
    run = on(device)
    inputs = [md.tensor(a, device=device, requires_grad=True) for a in arrays]

    def once():
        out, differentiated = run(*inputs)
        for tensor in differentiated:
            tensor.grad = None
        out.sum().backward()
        return [out] + [tensor.grad for tensor in differentiated]

    return [t.numpy() for t in once()], once


def train_step_workload(sizes):
    """One Adam step of md.models.cnn on a batch: the loss and the updated parameters."""
    rng = np.random.default_rng(1)
    images = rng.standard_normal((sizes["batch"], 1, sizes["image"], sizes["image"])).astype(np.float32)
    labels = rng.integers(0, 10, sizes["batch"])
    md.manual_seed(0)
    weights = md.models.cnn(image_size=sizes["image"]).state_dict()

    def results_and_step(device):
        model = md.models.cnn(image_size=sizes["image"])
        model.load_state_dict(weights)
        model.to(device)
        optimizer = md.optim.Adam(model.parameters(), lr=1e-3)
        x, y = md.tensor(images, device=device), md.tensor(labels, device=device)

        def step():
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return loss

        loss = step()
        return [loss.numpy()] + [p.numpy() for p in model.parameters()], step

    return results_and_step


def median_ms(fn, device, repeats):
    """Median wall time of ``fn()`` in ms, waiting for the GPU to finish each call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if device == "cuda":
            md.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def relative_error(gpu_arrays, cpu_arrays):
    """max over arrays of max|gpu - cpu| / max(max|cpu|, 1e-12)."""
    return max(float(np.abs(g - c).max() / max(np.abs(c).max(), 1e-12)) for g, c in zip(gpu_arrays, cpu_arrays))


def rows(sizes, repeats):
    """One row per workload: name, relative error, CPU ms, GPU ms."""
    cases = {f"conv2d {algorithm} fwd+bwd": conv_workload(sizes, algorithm) for algorithm in ("im2col", "direct")}
    cases["max_pool2d 2x2 fwd+bwd"] = pool_workload(sizes)
    cases["LSTM fwd+bwd"] = lstm_workload(sizes)
    table = []
    for name, (shapes, on) in cases.items():
        arrays = random_arrays(shapes)
        (cpu, cpu_once), (gpu, gpu_once) = (forward_backward(on, arrays, device) for device in ("cpu", "cuda"))
        table.append((name, relative_error(gpu, cpu), median_ms(cpu_once, "cpu", repeats),
                      median_ms(gpu_once, "cuda", repeats)))  # fmt: skip
    step_on = train_step_workload(sizes)
    (cpu, cpu_step), (gpu, gpu_step) = (step_on(device) for device in ("cpu", "cuda"))
    table.append(("MNIST CNN train step (Adam)", relative_error(gpu, cpu), median_ms(cpu_step, "cpu", repeats),
                  median_ms(gpu_step, "cuda", repeats)))  # fmt: skip
    return table


def print_table(table):
    print(f"{'workload':<30}{'rel err':>10}{'cpu ms':>10}{'gpu ms':>10}{'speed-up':>10}")
    for name, error, cpu_ms, gpu_ms in table:
        print(f"{name:<30}{error:>10.1e}{cpu_ms:>10.2f}{gpu_ms:>10.2f}{cpu_ms / gpu_ms:>10.1f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny shapes (the CUDA simulator)")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per workload and device")
    args = parser.parse_args(argv)
    if not md.cuda.is_available():
        print("GPU workloads: skipped, no usable CUDA device (install the [gpu] extra on a machine with an NVIDIA GPU)")
        return 0
    table = rows(TINY if args.tiny else FULL, args.repeats or (2 if args.tiny else 20))
    print_table(table)
    worst = max(error for _, error, _, _ in table)
    print(f"GPU workloads: {'passed' if worst <= TOLERANCE else 'FAILED'} (largest relative error {worst:.1e}, "
          f"tolerance {TOLERANCE:.0e})")
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
