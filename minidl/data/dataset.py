"""Datasets: indexable collections of samples, as in ``torch.utils.data``.

A sample is whatever ``ds[i]`` returns, typically a tuple ``(input, label)``.  Besides ``ds[i]``
and ``len(ds)``, a dataset answers ``ds.get_batch(indices)``: the samples at ``indices`` merged
into one batch, exactly as ``default_collate([ds[i] for i in indices])`` would merge them.
``DataLoader`` asks for batches this way, so a ``TensorDataset`` hands out a whole batch with one
fancy-indexing per tensor instead of a Python loop over samples.
"""
import numpy as np

from minidl.data.collate import default_collate
from minidl.data.utils import as_numpy
from minidl.tensor import Tensor


class Dataset:
    """Base class: subclass it and define ``__getitem__(i)`` (a sample: a tuple, a dict, a
    Tensor, an array or a number) and ``__len__()``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__}: subclasses of Dataset must define __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__}: subclasses of Dataset must define __len__")

    def get_batch(self, indices):
        """The samples at ``indices`` merged by ``default_collate``.  This default fetches them
        one by one; subclasses that can index all at once override it."""
        return default_collate([self[i] for i in indices])


class TensorDataset(Dataset):
    """Samples made of the rows of equally long tensors: ``TensorDataset(x, y)[i] == (x[i], y[i])``.

    ``self.tensors`` holds them: Tensors as given, NumPy arrays and nested lists as Tensors of
    their dtype (sharing a NumPy array's memory, as ``torch.from_numpy``).
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: expected at least one array or tensor, got none")
        self.tensors = tuple(t if isinstance(t, Tensor) else Tensor(as_numpy(t)) for t in tensors)
        lengths = [t.shape[0] if t.ndim else None for t in self.tensors]
        if None in lengths or len(set(lengths)) != 1:
            shapes = ", ".join(str(t.shape) for t in self.tensors)
            raise ValueError(f"TensorDataset: all tensors must have the same first dimension, got shapes {shapes}")

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]

    def get_batch(self, indices):
        """One fancy-indexing per tensor: ``[t[indices] for t in tensors]`` (copies)."""
        return list(self[np.asarray(indices, dtype=np.int64)])


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order: ``Subset(ds, idx)[i] == ds[idx[i]]``."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self):
        return len(self.indices)

    def get_batch(self, indices):
        """The batch of the underlying dataset at ``indices[i]`` for each i, fetched at once when
        that dataset can."""
        if hasattr(self.dataset, "get_batch"):
            return self.dataset.get_batch([self.indices[i] for i in indices])
        return super().get_batch(indices)
