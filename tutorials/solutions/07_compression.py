"""Solutions to the exercises of tutorial 07 (compression). Try the exercises first!

``CHECKED`` maps each checkable exercise to its solution; run this file from the repository root
(``python tutorials/solutions/07_compression.py``) to see ``md.testing.check_exercise`` accept it.
Exercises 1-4 are experiments: ``--all`` runs them too (well under a minute) and prints what they
show.
"""
import functools
import sys

import numpy as np

import minidl as md
from minidl.compress import KeepPruned, load_quantized, model_size_bytes, prune_magnitude, quantize_model, sparsity
from minidl.ensemble import VotingClassifier, accuracy
from minidl.tune.examples import digits_splits, make_mlp, train_classifier


# Exercise 5. One scale for the whole tensor; round, then clip (rounding can only reach 127 here,
# but the clip states the range), and store as int8.
def quantize(w):
    """Per-tensor symmetric int8: (q, scale) with w ~ q * scale."""
    scale = np.abs(w).max() / 127
    return np.clip(np.round(w / scale), -127, 127).astype(np.int8), scale


CHECKED = {"quantize_int8": quantize}


# ---------------------------------------------------------------- exercises 1-4: the experiments
@functools.lru_cache(maxsize=1)
def trained_model():
    """Section 1 of the tutorial: the 64 -> 64 -> 10 MLP trained for 10 epochs."""
    x_train, y_train = digits_splits()[:2]
    model = make_mlp(64, seed=0)
    train_classifier(model, md.optim.Adam(model.parameters(), lr=1e-2), x_train, y_train, epochs=10)
    return model


def copy_of_model():
    twin = make_mlp(64)
    twin.load_state_dict(trained_model().state_dict())
    return twin


def prune_and_fine_tune(model, amount, epochs):
    """Prune ``model`` globally to ``amount`` (earlier zeros stay zero), then fine-tune it."""
    x_train, y_train = digits_splits()[:2]
    masks = prune_magnitude(model, amount, scope="global")
    train_classifier(model, KeepPruned(md.optim.Adam(model.parameters(), lr=3e-3), model, masks),
                     x_train, y_train, epochs=epochs, seed=1)  # fmt: skip
    return model


def val_accuracy(model):
    x_val, y_val = digits_splits()[2:4]
    return accuracy(model, x_val, y_val)


# Exercise 1. More fine-tuning brings back more: at 90% the network has the capacity, it needs time.
def exercise_1():
    for epochs in (3, 10):
        pruned = prune_and_fine_tune(copy_of_model(), 0.9, epochs)
        print(f"90% pruned, {epochs:2d} epochs of fine-tuning: validation accuracy {val_accuracy(pruned):.4f}")


# Exercise 2. Pruning in steps lets the survivors adapt before the next cut; the comparison gives
# pruning at once the same 12 epochs of fine-tuning.
def exercise_2():
    gradual = copy_of_model()
    for amount in (0.5, 0.7, 0.8, 0.9):
        prune_and_fine_tune(gradual, amount, 3)
    at_once = prune_and_fine_tune(copy_of_model(), 0.9, 12)
    print(f"gradual 50-70-80-90%, 4 x 3 epochs: validation accuracy {val_accuracy(gradual):.4f}, "
          f"sparsity {sparsity(gradual):.3f}")  # fmt: skip
    print(f"90% at once, 12 epochs:             validation accuracy {val_accuracy(at_once):.4f}")


# Exercise 3. The validation accuracy against bits, both ways.
def exercise_3():
    model, all_bits = trained_model(), range(8, 1, -1)
    curves = {
        per_channel: [val_accuracy(load_quantized(copy_of_model(), quantize_model(model, per_channel, bits=bits)))
                      for bits in all_bits]
        for per_channel in (False, True)
    }  # fmt: skip
    print("bits         " + "  ".join(f"{bits:>5d}" for bits in all_bits))
    for per_channel, accuracies in curves.items():
        print(f"{'per channel' if per_channel else 'per tensor':<13s}" + "  ".join(f"{a:5.3f}" for a in accuracies))
    fig, ax = md.viz.subplots(figsize=(5, 3.5))
    for per_channel, accuracies in curves.items():
        ax.plot(list(all_bits), accuracies, marker="o", label="per channel" if per_channel else "per tensor")
    ax.set(xlabel="bits", ylabel="validation accuracy")
    ax.legend()
    md.viz.show(fig, "07_solution_bits.png")


# Exercise 4. Five members of hidden 16 at 8 bits take about as much as one float32 MLP of hidden
# 23: (75 * 23 + 10) * 4 bytes. Both are trained as in section 5 and measured on the test set.
def exercise_4(n_models=5):
    x_train, y_train, x_val, y_val, x_test, y_test = digits_splits()
    x_fit, y_fit = np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val])

    def trained(hidden, seed):
        net = make_mlp(hidden, seed=seed)
        return train_classifier(net, md.optim.Adam(net.parameters(), lr=3e-2), x_fit, y_fit, epochs=10, seed=seed)

    members = [trained(16, seed) for seed in range(n_models)]
    compressed = [quantize_model(member, per_channel=True) for member in members]
    small = [load_quantized(make_mlp(16), qstate) for qstate in compressed]
    ensemble = VotingClassifier(small, voting="soft")
    size = sum(model_size_bytes(qstate) for qstate in compressed)
    single = trained(23, 0)
    print(f"{n_models} members at 8 bits: {size} bytes, soft vote test accuracy "
          f"{float((ensemble.predict(x_test) == y_test).mean()):.4f}")  # fmt: skip
    print(f"one float32 MLP, hidden 23: {model_size_bytes(single)} bytes, "
          f"test accuracy {accuracy(single, x_test, y_test):.4f}")  # fmt: skip


if __name__ == "__main__":
    for name, solution in CHECKED.items():
        assert md.testing.check_exercise(name, solution), name
    if "--all" in sys.argv:
        for number, experiment in enumerate([exercise_1, exercise_2, exercise_3, exercise_4], 1):
            print(f"\nexercise {number}")
            experiment()
