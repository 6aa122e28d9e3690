"""Weight penalties with Keras's semantics: ``Dense(64, kernel_regularizer=l2(0.01))``.

A regularizer is called on a weight and returns the term added to the training loss:

    l1(a)(w) = a * sum |w|        l2(b)(w) = b * sum w^2        l1_l2(a, b)(w) = both

Note Keras's l2 has no 1/2: ``l2(b)`` equals ``md.optim.l2_penalty(w, 2 * b)``.
"""
from minidl.keras.config import deserialize
from minidl.optim.regularization import l1_penalty, l2_penalty


class L1L2:
    """The penalty ``l1 * sum |w| + l2 * sum w^2`` of one weight tensor."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1, self.l2 = l1, l2

    def __call__(self, weight):
        return l1_penalty(weight, self.l1) + l2_penalty(weight, 2 * self.l2)

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}

    def __repr__(self):
        return f"L1L2(l1={self.l1}, l2={self.l2})"


def l1(l1=0.01):
    """``l1 * sum |w|``."""
    return L1L2(l1=l1)


def l2(l2=0.01):
    """``l2 * sum w^2``."""
    return L1L2(l2=l2)


def l1_l2(l1=0.01, l2=0.01):
    """``l1 * sum |w| + l2 * sum w^2``."""
    return L1L2(l1=l1, l2=l2)


KNOWN = {"L1L2": L1L2}
BY_NAME = {"l1": l1, "l2": l2, "l1_l2": l1_l2}  # the names Keras accepts, with their default factors


def get(regularizer):
    """None, or a callable ``weight -> penalty``: a name (``"l2"``: ``l2(0.01)``), a saved config,
    an ``L1L2`` or your own function."""
    if isinstance(regularizer, str) and regularizer in BY_NAME:
        return BY_NAME[regularizer]()
    regularizer = deserialize(regularizer, KNOWN, "keras regularizer")
    if regularizer is not None and not callable(regularizer):
        raise TypeError(
            f"keras regularizer: expected None or a callable such as l2(0.01), got {type(regularizer).__name__}"
        )
    return regularizer
