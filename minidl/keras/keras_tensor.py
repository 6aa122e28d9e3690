"""KerasTensor: a symbolic tensor of Keras's functional API, a shape without values.

``keras.Input(shape=(16,))`` returns one; calling a layer on KerasTensors returns new ones,
each remembering where it comes from, so that ``keras.Model(inputs, outputs)`` can find the
layers between them and run them again on real data:

    history = (layer, node_index, tensor_index)    output ``tensor_index`` of the
                                                   ``node_index``-th call of ``layer``
"""
import numpy as np


class KerasTensor:
    """A placeholder: its ``shape`` (batch axis first, None where any size goes), ``dtype``
    (None: the default float), ``name``, and ``history`` (None for a bare placeholder)."""

    def __init__(self, shape, dtype=None, name=None, history=None):
        self.shape, self.dtype, self.name, self.history = tuple(shape), dtype, name, history

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def input_dtype(self):
        """``"int"`` for integer inputs (token ids), ``"float"`` otherwise: how the model casts x."""
        return "int" if self.dtype is not None and np.issubdtype(np.dtype(self.dtype), np.integer) else "float"

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype or 'float32'}, name={self.name}>"


def map_structure(function, structure, leaf_type):
    """``structure`` (nested lists, tuples and dicts) with each ``leaf_type`` object replaced by
    ``function(leaf)``; anything else is kept as it is."""
    if isinstance(structure, leaf_type):
        return function(structure)
    if isinstance(structure, (list, tuple)):
        return type(structure)(map_structure(function, item, leaf_type) for item in structure)
    if isinstance(structure, dict):
        return {key: map_structure(function, value, leaf_type) for key, value in structure.items()}
    return structure


def flatten(structure, leaf_type):
    """The ``leaf_type`` objects of ``structure``, in order (depth first)."""
    found = []
    map_structure(found.append, structure, leaf_type)
    return found
