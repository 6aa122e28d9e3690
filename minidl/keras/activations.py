"""Activations by their Keras names: ``Dense(10, activation="softmax")``.

Each name maps to the ``minidl.functional`` function that computes it; ``softmax`` is taken over
the last axis, as Keras does.
"""
from minidl import functional as F
from minidl.keras.config import deserialize


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


def get(identifier):
    """The function for an activation name (None means no activation, as ``"linear"``), or your
    own function unchanged."""
    if identifier is None or callable(identifier):
        return identifier
    return deserialize(identifier, ACTIVATIONS, "keras activation")
