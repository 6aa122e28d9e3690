"""How the backprop page shows an array: every number when there are few, otherwise summary
statistics and small heat maps (one per channel for images).

``describe_array(a)`` gives a dict that the page's script draws as it is:

    {"shape": [2, 3], "dtype": "float32", "values": [...]}                       # size <= FULL_SIZE
    {"shape": [...], "dtype": ..., "stats": {"min", "max", "mean", "std", "norm"},
     "maps": [{"label": "[0, 0]", "rows": r, "cols": c, "scale": s, "cells": "<base64>"}, ...],
     "maps_note": "the first 8 of 64 slices [., ., :, :]"}

A heat map is a matrix of the array (a slice along the last two axes; a vector as one row), shrunk
to at most MAP_SIDE x MAP_SIDE cells by averaging blocks, each cell stored as a signed byte:
cell = round(127 * mean / scale), scale = the largest |mean|.
"""
import base64

import numpy as np

from minidl.data.utils import as_numpy

FULL_SIZE = 64  # arrays with at most this many numbers are shown in full
MAP_SIDE = 24  # a heat map has at most this many rows and columns
MAX_MAPS = 8  # at most this many channels get a heat map each


def describe_array(array):
    """The page's description of ``array`` (NumPy or CuPy, any dtype)."""
    array = as_numpy(array)
    described = {"shape": list(array.shape), "dtype": str(array.dtype)}
    if array.size <= FULL_SIZE:
        described["values"] = [_number(v) for v in array.ravel().tolist()]
        return described
    values = array.astype(np.float64)
    finite = values[np.isfinite(values)]
    described["stats"] = {
        "min": _number(values.min()), "max": _number(values.max()),
        "mean": _number(values.mean()), "std": _number(values.std()),
        "norm": _number(np.sqrt(np.sum(finite * finite))),
    }  # fmt: skip
    described["maps"], described["maps_note"] = _heat_maps(np.where(np.isfinite(values), values, 0.0))
    return described


def _number(value):
    """A JSON-ready Python number (bools and integers stay integers)."""
    return value if isinstance(value, (bool, int)) else float(value)


def _heat_maps(values):
    """The matrices to draw, shrunk, and a note saying which they are: a vector as one row; of a
    larger array, its first MAX_MAPS slices ``[i, j, :, :]`` (an image batch: sample 0's channels)."""
    if values.ndim <= 2:
        return [_encode_map(_shrink(values.reshape(-1, values.shape[-1])), "")], "as one row" if values.ndim == 1 else ""
    leading = values.shape[:-2]
    slices = values.reshape((-1,) + values.shape[-2:])
    shown = range(min(MAX_MAPS, len(slices)))
    labels = ["[" + ", ".join(str(i) for i in np.unravel_index(k, leading)) + "]" for k in shown]
    note = f"the first {len(shown)} of {len(slices)} slices [{', '.join('.' * len(leading))}, :, :]"
    return [_encode_map(_shrink(slices[k]), label) for k, label in zip(shown, labels)], note


def _shrink(matrix):
    """Average blocks of ``matrix`` so that it has at most MAP_SIDE rows and columns."""
    for axis in (0, 1):
        size = matrix.shape[axis]
        if size > MAP_SIDE:
            starts = np.linspace(0, size, MAP_SIDE + 1).astype(int)[:-1]
            counts = np.diff(np.append(starts, size))
            matrix = np.add.reduceat(matrix, starts, axis=axis) / np.expand_dims(counts, 1 - axis)
    return matrix


def _encode_map(matrix, label):
    scale = float(np.abs(matrix).max())
    cells = np.zeros(matrix.shape, np.int8) if scale == 0 else np.round(127 * matrix / scale).astype(np.int8)
    return {"label": label, "rows": matrix.shape[0], "cols": matrix.shape[1], "scale": scale,
            "cells": base64.b64encode(cells.tobytes()).decode("ascii")}
