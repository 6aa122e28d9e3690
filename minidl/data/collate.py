"""``default_collate``: a list of samples in, one batch out, as ``torch.utils.data.default_collate``.

The batch has the structure of one sample, with each leaf stacked along a new first dim:

    [(x0, 0), (x1, 1)]                ->  [stack([x0, x1]), tensor([0, 1])]   (a tuple becomes a list)
    [{"x": x0, "y": 0.5}, ...]        ->  {"x": stack([x0, ...]), "y": tensor([0.5, ...], float64)}

Tensors are stacked (recorded by autograd if they require grad); NumPy arrays and NumPy scalars
become one Tensor of their dtype; Python floats float64, ints int64 (bools bool); strings stay a
list; dicts, named tuples, tuples and lists are collated field by field.
"""
import collections.abc
import copy

import numpy as np

from minidl.functional import stack
from minidl.tensor import Tensor, tensor


def default_collate(batch):
    """Merge a list of samples into a batch (see the module docstring for the rules)."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, (np.ndarray, np.generic)):
        if elem.dtype.kind not in "biuf":
            raise TypeError(f"default_collate: NumPy arrays of dtype {elem.dtype} cannot become tensors")
        return Tensor(np.stack(batch))
    if isinstance(elem, float):
        return tensor(batch, dtype=np.float64)
    if isinstance(elem, int):
        return tensor(batch)
    if isinstance(elem, collections.abc.Mapping):
        return _collate_mapping(elem, {key: default_collate([sample[key] for sample in batch]) for key in elem})
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a named tuple keeps its type
        return type(elem)(*(default_collate(list(field)) for field in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(sample) != len(elem) for sample in batch):
            lengths = sorted({len(sample) for sample in batch})
            raise RuntimeError(
                f"default_collate: each sample in the batch should have the same length, got lengths {lengths}"
            )
        return [default_collate(list(field)) for field in zip(*batch)]
    raise TypeError(
        "default_collate: a batch must contain tensors, NumPy arrays, numbers, dicts or lists; "
        f"found {type(elem).__name__}"
    )


def _collate_mapping(elem, collated):
    """``collated`` in the mapping type of the samples, where that type can be copied and updated."""
    try:
        batch = copy.copy(elem)
        batch.update(collated)
        return batch
    except (TypeError, AttributeError):
        return collated
