"""Where the time of an LSTM and a GRU layer goes on the CPU: a per-phase profile, 2 threads.

    python benchmarks/profile_rnn.py [--repeats 20] [--out benchmarks/results/rnn_profile.json]

For bench_rnn's shape (LSTM(32 -> 128) and GRU(32 -> 128) over 64 steps at batch 32, float32),
runs the steps of ``LSTMSequence`` and ``GRUSequence`` (``minidl/ops/recurrent.py``) exactly as the
ops do, with a clock around each phase:

    forward   input projection (x W_ih^T, all steps at once), recurrent product (h W_hh^T, per
              step), gate activation (the fused kernel, adding h W_hh^T and the biases in place)
    backward  gate backward (the fused kernel), recurrent product (d_gates W_hh, per step; the
              GRU adds g z), input gradient (dx = D W_ih), weight products (the LSTM's dW_hh,
              dW_ih and db as one product, D^T [H | X | 1]; the GRU's two, D_x^T [X | 1] and
              D_h^T [H | 1])

``ms`` is a phase's median time per layer call, ``share`` its fraction of the phases' sum; the
layer's own median times (called as a learner calls it, input needing a gradient) are printed
beside them, measured separately (on a noisy machine the two can differ either way).  Written as
JSON with the machine record.
"""
import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing  # noqa: E402

import minidl as md  # noqa: E402
from minidl.ops import recurrent as R  # noqa: E402

SEQ_LEN, BATCH, INPUT_SIZE, HIDDEN_SIZE = 64, 32, 32, 128


def passes(x, weights, clock_forward, clock_backward):
    """One forward and backward of the layer, step by step as ``LSTMSequence`` runs them."""
    w_ih, w_hh, b_ih, b_hh = weights
    steps = range(SEQ_LEN)
    with clock_forward("input projection"):
        gates_all = (x.reshape(-1, INPUT_SIZE) @ w_ih.T).reshape(SEQ_LEN, BATCH, -1)
    bias, w_t = b_ih + b_hh, np.ascontiguousarray(w_hh.T)
    hs = np.zeros((SEQ_LEN + 1, BATCH, HIDDEN_SIZE), np.float32)
    cs, tanh_c_all = np.zeros_like(hs), np.empty_like(hs[1:])
    gate_pass = R.lstm_gates_forward_pass(gates_all)
    for t in steps:
        with clock_forward("recurrent product"):
            hidden_share = hs[t] @ w_t
        with clock_forward("gate activation"):
            gate_pass(gates_all[t], hidden_share, bias, cs[t], cs[t + 1], tanh_c_all[t], hs[t + 1])
    gate_backward = R.lstm_gates_backward_pass(gates_all)
    d_gates_all = np.empty_like(gates_all)
    dh, dc = np.zeros_like(hs[0]), np.zeros_like(cs[0])
    g_h, dh_next = np.empty_like(dc), np.empty_like(dc)
    grad_outputs = np.ones_like(hs[1:])
    for t in reversed(steps):
        with clock_backward("gate backward"):
            np.add(grad_outputs[t], dh, out=g_h)
            dc_prev = np.empty_like(dc)
            gate_backward(gates_all[t], cs[t], tanh_c_all[t], g_h, dc, d_gates_all[t], dc_prev)
        with clock_backward("recurrent product"):
            dh, dc = np.matmul(d_gates_all[t], w_hh, out=dh_next), dc_prev
    d_rows = d_gates_all.reshape(-1, gates_all.shape[2])
    with clock_backward("input gradient"):
        d_rows @ w_ih
    with clock_backward("weight products"):
        R._weight_grads(d_rows, [hs[:-1], x], has_bias=True)


def gru_passes(x, weights, clock_forward, clock_backward):
    """One forward and backward of a GRU layer, step by step as ``GRUSequence`` runs them."""
    w_ih, w_hh, b_ih, b_hh = weights
    steps = range(SEQ_LEN)
    with clock_forward("input projection"):
        gates_all = (x.reshape(-1, INPUT_SIZE) @ w_ih.T).reshape(SEQ_LEN, BATCH, -1)
    w_t = np.ascontiguousarray(w_hh.T)
    hs = np.zeros((SEQ_LEN + 1, BATCH, HIDDEN_SIZE), np.float32)
    hidden_n_all = np.empty_like(hs[1:])
    gate_pass = R.gru_gates_forward_pass(gates_all)
    for t in steps:
        with clock_forward("recurrent product"):
            hidden_share = hs[t] @ w_t
        with clock_forward("gate activation"):
            gate_pass(gates_all[t], hidden_share, b_ih, b_hh, hs[t], hs[t + 1], hidden_n_all[t])
    gate_backward = R.gru_gates_backward_pass(gates_all)
    d_x_all, d_hidden_all = np.empty_like(gates_all), np.empty_like(gates_all)
    dh = np.zeros_like(hs[0])
    g_h, direct, dh_next = (np.empty_like(dh) for _ in range(3))
    grad_outputs = np.ones_like(hs[1:])
    for t in reversed(steps):
        with clock_backward("gate backward"):
            np.add(grad_outputs[t], dh, out=g_h)
            gate_backward(gates_all[t], hidden_n_all[t], hs[t], g_h, d_x_all[t], d_hidden_all[t], direct)
        with clock_backward("recurrent product"):
            dh = np.matmul(d_hidden_all[t], w_hh, out=dh_next)
            dh += direct
    d_x_rows, d_hidden_rows = d_x_all.reshape(-1, gates_all.shape[2]), d_hidden_all.reshape(-1, gates_all.shape[2])
    with clock_backward("input gradient"):
        d_x_rows @ w_ih
    with clock_backward("weight products"):
        R._weight_grads(d_x_rows, [x], has_bias=True)
        R._weight_grads(d_hidden_rows, [hs[:-1]], has_bias=True)


def layer_medians(kind, x, repeats):
    """The layer's own median forward and forward+backward time, as a learner calls it (ms)."""
    md.manual_seed(0)
    layer = getattr(md.nn, kind)(INPUT_SIZE, HIDDEN_SIZE)
    inputs = md.tensor(x, requires_grad=True)

    def forward():
        return layer(inputs)[0]

    def forward_backward():
        forward().sum().backward()

    return [1e3 * _timing.median_seconds(fn, repeats) for fn in (forward, forward_backward)]


def table(seconds_per_call):
    """{phase: {"ms", "share"}}, the share of the sum of the phases."""
    total = sum(seconds_per_call.values())
    return {phase: {"ms": round(1e3 * s, 3), "share": round(s / total, 3)} for phase, s in seconds_per_call.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "rnn_profile.json"))
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((SEQ_LEN, BATCH, INPUT_SIZE)).astype(np.float32)
    rows = []
    for kind, gates, run_passes in (("LSTM", 4, passes), ("GRU", 3, gru_passes)):
        weights = [rng.uniform(-0.1, 0.1, shape).astype(np.float32) for shape in
                   [(gates * HIDDEN_SIZE, INPUT_SIZE), (gates * HIDDEN_SIZE, HIDDEN_SIZE), (gates * HIDDEN_SIZE,),
                    (gates * HIDDEN_SIZE,)]]  # fmt: skip
        rows.append(profile(kind, run_passes, x, weights, args.repeats))
    _timing.write_json(args.out, rows)


def profile(kind, run_passes, x, weights, repeats):
    """Print and return one layer's row: its own medians and the medians of its phases."""
    with threadpool_limits(2, user_api="blas"):
        forward_ms, forward_backward_ms = layer_medians(kind, x, repeats)
        runs = []
        for _ in range(repeats):
            clocks = _timing.Clock(), _timing.Clock()
            run_passes(x, weights, *clocks)
            runs.append(clocks)
    phases = [{phase: statistics.median(run[k].seconds[phase] for run in runs) for phase in runs[0][k].seconds}
              for k in (0, 1)]  # fmt: skip
    forward, backward = table(phases[0]), table(phases[1])
    print(f"{kind}({INPUT_SIZE}->{HIDDEN_SIZE}), seq {SEQ_LEN}, batch {BATCH}, float32, 2 threads: the layer "
          f"{forward_ms:.2f} ms forward, {forward_backward_ms - forward_ms:.2f} ms backward; its phases run one by one:")
    for name, rows in (("forward", forward), ("backward", backward)):
        for phase, row in rows.items():
            print(f"  {name:<9}{phase:<20}{row['ms']:>8.3f} ms {100 * row['share']:>5.1f}%")
    return {"case": f"{kind}({INPUT_SIZE}->{HIDDEN_SIZE}) seq {SEQ_LEN} batch {BATCH}", "forward_ms": forward_ms,
            "backward_ms": forward_backward_ms - forward_ms, "forward": forward, "backward": backward}


if __name__ == "__main__":
    main()
