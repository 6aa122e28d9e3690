"""Session state, as Keras keeps it: the counters that give layers and models their names.

Keras names every layer when it is made, from its class name and a counter shared by the whole
session: the first ``Dense`` is ``dense``, the next ``dense_1``, then ``dense_2`` (in this model
or in another one).  ``clear_session()`` starts the counting again.
"""
import re

_counters = {}


def to_snake_case(name):
    """``"MaxPooling2D"`` -> ``"max_pooling2d"``, ``"SimpleRNN"`` -> ``"simple_rnn"``, as Keras."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def get_uid(prefix=""):
    """1 the first time ``prefix`` is asked for in this session, then 2, 3, ..."""
    _counters[prefix] = _counters.get(prefix, 0) + 1
    return _counters[prefix]


def unique_name(class_name):
    """Keras's automatic name for a new object of class ``class_name``: ``dense``, ``dense_1``, ..."""
    prefix = to_snake_case(class_name)
    uid = get_uid(prefix)
    return prefix if uid == 1 else f"{prefix}_{uid - 1}"


def clear_session():
    """Forget the names given so far: the next ``Dense`` is ``dense`` again."""
    _counters.clear()
