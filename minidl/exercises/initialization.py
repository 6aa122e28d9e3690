"""Tutorial 10's exercise: the standard deviation of every activation's output, read with forward hooks."""
import numpy as np

import minidl as md
from minidl.exercises.check import Exercise, Mismatch

ACTIVATIONS = (md.nn.ReLU, md.nn.Tanh)


def _cases(rng):
    for widths, activation in [((5, 4, 3), "ReLU"), ((6, 8, 8, 8, 2), "Tanh"), ((3, 7, 7, 7, 7, 7, 4), "ReLU")]:
        yield f"Linear widths {widths} with {activation}", (widths, activation, int(rng.integers(1 << 30)),
                                                            rng.standard_normal((16, widths[0])))  # fmt: skip


def _model(widths, activation, seed):
    """Linear + activation for each pair of widths, then a last Linear, in float64."""
    md.manual_seed(seed)
    layers = []
    for fan_in, fan_out in zip(widths[:-2], widths[1:-1]):
        layers += [md.nn.Linear(fan_in, fan_out), getattr(md.nn, activation)()]
    return md.nn.Sequential(*layers, md.nn.Linear(widths[-2], widths[-1])).double()


def _reference(widths, activation, seed, x):
    """Each layer run in turn; the std (unbiased, over all elements) of each activation's output."""
    stds, signal = [], md.tensor(x)
    for layer in _model(widths, activation, seed):
        signal = layer(signal)
        if isinstance(layer, ACTIVATIONS):
            stds.append(signal.std().item())
    return np.array(stds)


def _run(activation_stds, widths, activation, seed, x):
    model = _model(widths, activation, seed)
    result = activation_stds(model, md.tensor(x, requires_grad=True))
    left = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    if left:
        raise Mismatch(f"the model still has {left} hook(s) registered afterwards: remove them with handle.remove()")
    return np.array([float(value) for value in result])


EXERCISES = [
    Exercise("activation_stds", "10 exercise 1",
             "activation_stds(model, x) -> [std of each ReLU/Tanh module's output, in order], read with forward "
             "hooks that are removed afterwards", _cases, _reference, run=_run, rtol=1e-9),
]  # fmt: skip
