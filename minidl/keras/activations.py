"""Activations by their Keras names: ``Dense(10, activation="softmax")``.

Each name maps to the ``minidl.functional`` function that computes it; ``softmax`` is taken over
the last axis, as Keras does.
"""
from minidl import functional as F


def _softmax_last_axis(x):
    return F.softmax(x, dim=-1)


def _linear(x):
    return x


ACTIVATIONS = {
    "linear": _linear,
    "relu": F.relu,
    "sigmoid": F.sigmoid,
    "tanh": F.tanh,
    "softmax": _softmax_last_axis,
    "gelu": F.gelu,
    "leaky_relu": F.leaky_relu,
}


def get(name):
    """The function for an activation name (None means no activation, as ``"linear"``)."""
    if name is None:
        return None
    if callable(name):
        return name
    if name not in ACTIVATIONS:
        raise ValueError(f"keras activation: unknown name {name!r}; expected one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]
