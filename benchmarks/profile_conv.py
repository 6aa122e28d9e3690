"""Where the time of an im2col convolution goes on the CPU: a per-phase profile, 2 threads.

    python benchmarks/profile_conv.py [--repeats 10] [--out benchmarks/results/conv_profile.json]

For the benchmarks' shapes (conv2d 32->64 13x13 and 1->32 28x28 at batch 64, conv1d 64->64 length
256 at batch 32, 3-wide kernels), runs the steps of ``Conv2dIm2col`` (``minidl/ops/conv.py``) chunk
by chunk on ``minidl.parallel``'s threads, exactly as the op does, with a clock around each phase:

    forward   im2col, GEMM (W @ cols), bias + layout (the product into (N, O, OH OW) with the bias
              added, one compiled pass: ``kernels.cpu.rows_into_samples``)
    backward  im2col, grad layout (g as rows), weight GEMM (g @ cols^T), bias (sum of g),
              input GEMM (W^T @ g), col2im, reduce (the chunks' weight gradients summed)

A phase's ``ms`` is its time summed over the threads, divided by the threads (its share of the
wall time); ``share`` is its fraction of the pass.  ``op_ms`` is the op's own median time, and
``op`` the op that runs: the first layer, 9 taps, runs ``Conv2dFewTaps`` (``kernels/few_taps.py``),
so its phases show the im2col path it replaced.

Then the GFLOP/s of each matrix product on its own (best of the repeats), whole batch on 2 threads
and one chunk on 1 thread (as the op runs it): NumPy (``np.dot``) and torch (``torch.mm``) in blocks of their own,
each in a fresh process with OPENBLAS_CORETYPE unset (OpenBLAS picks its kernel for the CPU) and
with OPENBLAS_CORETYPE=Haswell (AVX2 kernels).  Everything is written as JSON with the machine.
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing  # noqa: E402

import minidl as md  # noqa: E402
import minidl.functional as F  # noqa: E402
from kernels import cpu  # noqa: E402
from minidl import parallel  # noqa: E402
from minidl.ops.conv import cache_chunks, columns, conv_geometry, gradient_product, row_sums, rows_by_group  # noqa: E402

THREADS = 2
CASES = [
    # name, x shape, weight shape, padding, does the input need a gradient (not for a first layer)
    ("conv2d 32->64, 13x13, k3, batch 64", (64, 32, 13, 13), (64, 32, 3, 3), 0, True),
    ("conv2d 1->32, 28x28, k3, batch 64", (64, 1, 28, 28), (32, 1, 3, 3), 0, False),
    ("conv1d 64->64, L256, k3 p1, batch 32", (32, 64, 256), (64, 64, 3), 1, True),
]
FORWARD_PHASES = ("im2col", "gemm", "bias + layout")
WEIGHT_GRADIENTS = ("g @ cols^T", "cols @ g^T")  # (m, inner N OH OW, n)
BACKWARD_PHASES = ("im2col", "grad layout", "weight gemm", "bias", "input gemm", "col2im", "reduce")


def as_images(x_shape, w_shape, padding):
    """Arrays x (N, C, H, W), weight (O, C, kh, kw), bias, and the ConvGeometry: a signal is an
    image of height 1 (as ``conv1d`` runs it)."""
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in (x_shape, w_shape, w_shape[:1]))
    geometry = conv_geometry("profile", md.tensor(x), w.shape[2:], 1, padding, 1, 1)
    if x.ndim == 3:
        x, w = x[:, :, None], w[:, :, None]
    return x, w, b, geometry


def forward_pass(clock, x, w, b, geometry):
    """Conv2dIm2col.forward's steps (groups = 1), each phase timed."""
    out_h, out_w = geometry.out_size
    out = np.empty((x.shape[0], w.shape[0], out_h * out_w), np.float32)
    weight_rows = w.reshape(w.shape[0], -1)

    def chunk(samples):
        with clock("im2col"):
            cols = columns(cpu, x[samples], geometry)[0]
        with clock("gemm"):
            product = weight_rows.dot(cols)
        with clock("bias + layout"):
            cpu.rows_into_samples(product, b, out[samples])

    parallel.map_chunks(chunk, cache_chunks(x, w.shape[0], geometry))
    return out


def backward_pass(clock, x, w, grad, geometry, need_input):
    """Conv2dIm2col.backward's steps (groups = 1), each phase timed."""
    weight_rows = w.reshape(w.shape[0], -1)
    dx = np.zeros(x.shape, np.float32) if need_input else None

    def chunk(samples):
        with clock("im2col"):
            cols = columns(cpu, x[samples], geometry)
        with clock("grad layout"):
            grad_rows = rows_by_group(grad[samples], 1)
        with clock("weight gemm"):
            dweight = gradient_product(grad_rows, cols)
        with clock("bias"):
            dbias = row_sums(grad_rows)
        if need_input:
            with clock("input gemm"):
                np.dot(weight_rows.T, grad_rows[0], out=cols[0])
            with clock("col2im"):
                cpu.col2im(cols[0], dx[samples], *geometry[:5])
        return dweight, dbias

    dweights, dbiases = zip(*parallel.map_chunks(chunk, cache_chunks(x, w.shape[0], geometry)))
    with clock("reduce"):
        sum(dweights), sum(dbiases)
    return dx


def median_phases(run, phases, repeats):
    """Per-phase ms (thread-summed time / threads) and shares, medians over ``repeats`` runs."""
    samples = []
    for _ in range(repeats + 2):
        clock = _timing.Clock()
        run(clock)
        samples.append(clock.seconds)
    samples = samples[2:]  # warm-up: compile, caches
    ms = {p: 1e3 * float(np.median([s[p] for s in samples])) / THREADS for p in phases if any(s[p] for s in samples)}
    total = sum(ms.values())
    return {p: {"ms": round(v, 3), "share": round(v / total, 3)} for p, v in ms.items()}


def op_ms(x, w, b, padding, need_input, backward, repeats):
    """The real op's median time (F.conv2d / F.conv1d and, with ``backward``, its backward)."""
    mx, mw, mb = md.tensor(x, requires_grad=need_input), md.tensor(w, requires_grad=True), md.tensor(b, requires_grad=True)
    conv = F.conv1d if x.ndim == 3 else F.conv2d

    def run():
        out = conv(mx, mw, mb, padding=padding)
        if backward:
            out.sum().backward()

    return round(1e3 * _timing.median_seconds(run, repeats), 3)


def op_that_runs(x, w, padding):
    """The name of the Function that F.conv2d / F.conv1d runs on these shapes (``Conv2dFewTaps``
    for a first layer: the phases above are then those of the im2col path it replaced)."""
    conv = F.conv1d if x.ndim == 3 else F.conv2d
    node = conv(md.tensor(x), md.tensor(w, requires_grad=True), padding=padding).grad_fn
    while not node.function.__name__.startswith("Conv2d"):  # conv1d: a reshape of a conv2d
        (node,) = node.parents
    return node.function.__name__


def phase_rows(repeats):
    rows = []
    for name, x_shape, w_shape, padding, need_input in CASES:
        x, w, b, geometry = as_images(x_shape, w_shape, padding)
        grad = np.ones((x.shape[0], w.shape[0]) + geometry.out_size, np.float32)  # the sum's gradient
        forward = median_phases(lambda clock: forward_pass(clock, x, w, b, geometry), FORWARD_PHASES, repeats)
        backward = median_phases(lambda clock: backward_pass(clock, x, w, grad, geometry, need_input), BACKWARD_PHASES, repeats)
        originals = [np.random.default_rng(0).standard_normal(s).astype(np.float32) for s in (x_shape, w_shape, w_shape[:1])]
        rows.append({
            "case": name,
            "chunks": len(cache_chunks(x, w.shape[0], geometry)),
            "forward": forward,
            "backward": backward,
            "op": op_that_runs(*originals[:2], padding),
            "op_forward_ms": op_ms(*originals, padding, need_input, False, repeats),
            "op_forward_backward_ms": op_ms(*originals, padding, need_input, True, repeats),
        })
    return rows


def gemm_shapes():
    """(case, product, m, k, n, rows of the batch in one chunk): the matrix products of each case."""
    shapes = []
    for name, x_shape, w_shape, padding, need_input in CASES:
        x, w, _, geometry = as_images(x_shape, w_shape, padding)
        out_channels, depth = w.shape[0], w[0].size
        columns_per_sample = geometry.out_size[0] * geometry.out_size[1]
        chunk = -(-x.shape[0] // len(cache_chunks(x, out_channels, geometry)))
        positions, chunk_positions = x.shape[0] * columns_per_sample, chunk * columns_per_sample
        shapes += [(name, "W @ cols", out_channels, depth, positions, chunk_positions),
                   (name, "g @ cols^T", out_channels, positions, depth, chunk_positions),  # the weight gradient,
                   (name, "cols @ g^T", depth, positions, out_channels, chunk_positions)]  # two ways round
        if need_input:
            shapes.append((name, "W^T @ g", depth, out_channels, positions, chunk_positions))
    return shapes


def gemm_operands(m, k, n, product):
    """Operands laid out as the op has them: a weight gradient's right operand is a transposed
    view (``gradient_product`` picks the faster of its two orders), the others are C-ordered."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((n, k)).astype(np.float32).T if product in WEIGHT_GRADIENTS else rng.standard_normal((k, n)).astype(np.float32)
    return a, b


def best_seconds(fn, repeats):
    """The fastest of ``repeats`` calls (after 3 warm-ups): what the product reaches when no other
    process takes its core (the medians of two-thread products jumped by scheduler ticks here)."""
    return min(_timing.block_seconds(fn, repeats, 3))


def gemm_rates(repeats):
    """GFLOP/s of each product, NumPy then torch, whole batch on 2 threads and one chunk on 1."""
    import torch

    rows = []
    for case, product, m, k, n, chunk_n in gemm_shapes():
        row = {"case": case, "product": product, "m": m, "k": k, "n": n, "chunk_n": chunk_n}
        for label, width, threads in (("batch_2_threads", n, 2), ("chunk_1_thread", chunk_n, 1)):
            size = (m, width, n) if product in WEIGHT_GRADIENTS else (m, k, width)
            a, b = gemm_operands(*size, product)
            flops = 2 * size[0] * size[1] * size[2]
            with threadpool_limits(threads, user_api="blas"):
                numpy_s = best_seconds(lambda: np.dot(a, b), repeats)
            torch.set_num_threads(threads)
            ta, tb = torch.from_numpy(a), torch.from_numpy(np.ascontiguousarray(b.T)).T if product in WEIGHT_GRADIENTS else torch.from_numpy(b)
            torch_s = best_seconds(lambda: torch.mm(ta, tb), repeats)
            row[label] = {"numpy_gflops": round(flops / numpy_s / 1e9, 1), "torch_gflops": round(flops / torch_s / 1e9, 1)}
        rows.append(row)
    return rows


def gemm_rates_in_process(coretype, repeats):
    """``gemm_rates`` in a fresh process with OPENBLAS_CORETYPE unset (None) or set."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    script = [sys.executable, __file__, "--gemm-only", "--repeats", str(repeats)]
    result = subprocess.run(script, env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def print_phases(rows):
    for row in rows:
        print(f"\n{row['case']} ({row['chunks']} chunks); op ({row['op']}): fwd {row['op_forward_ms']:.2f} ms, "
              f"fwd+bwd {row['op_forward_backward_ms']:.2f} ms")
        for direction in ("forward", "backward"):
            cells = ", ".join(f"{p} {v['ms']:.2f} ms ({100 * v['share']:.0f}%)" for p, v in row[direction].items())
            print(f"  {direction:<8} {cells}")


def print_gemms(title, rows):
    print(f"\nGEMM GFLOP/s, {title}: numpy / torch, whole batch on 2 threads | one chunk on 1 thread")
    for r in rows:
        batch, chunk = r["batch_2_threads"], r["chunk_1_thread"]
        print(f"  {r['case']:<38} {r['product']:<11} {r['m']:>4}x{r['k']:>5}x{r['n']:>6}  "
              f"{batch['numpy_gflops']:>6.1f} / {batch['torch_gflops']:>6.1f} | {chunk['numpy_gflops']:>6.1f} / {chunk['torch_gflops']:>6.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--gemm-only", action="store_true", help="print gemm_rates as JSON (the subprocesses)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "conv_profile.json"))
    args = parser.parse_args()
    if args.gemm_only:
        print(json.dumps({"blas": _timing.blas(), "rows": gemm_rates(args.repeats)}))
        return
    with threadpool_limits(THREADS, user_api="blas"):  # minidl uses as many threads as BLAS
        rows = phase_rows(args.repeats)
    print_phases(rows)
    gemms = {}
    for label, coretype in (("OPENBLAS_CORETYPE unset", None), ("OPENBLAS_CORETYPE=Haswell", "Haswell")):
        gemms[label] = gemm_rates_in_process(coretype, args.repeats)
        print_gemms(f"{label} (kernel {gemms[label]['blas']['libraries'][0]['architecture']})", gemms[label]["rows"])
    _timing.write_json(args.out, rows, gemm_gflops=gemms)


if __name__ == "__main__":
    main()
