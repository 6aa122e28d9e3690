"""Datasets: indexable collections of samples, as in ``torch.utils.data``.

A sample is a tuple of arrays, e.g. ``(image, label)``.  Besides ``ds[i]`` and ``len(ds)`` a
dataset answers ``ds.get_batch(indices)``: the samples at ``indices`` stacked field by field,
one array per field.  ``DataLoader`` asks for batches this way, so a ``TensorDataset`` hands
out a whole batch with one fancy-indexing per array instead of a Python loop over samples.
"""
import numpy as np

from minidl.data.utils import as_numpy


class Dataset:
    """Base class: subclass it and define ``__getitem__(i)`` (a sample: a tuple of arrays or
    numbers, or a single array) and ``__len__()``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__}: subclasses of Dataset must define __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__}: subclasses of Dataset must define __len__")

    def get_batch(self, indices):
        """The samples at ``indices`` (an int array), stacked: a tuple with one NumPy array per
        field, each of shape ``(len(indices), *field_shape)``.  This default builds the batch
        sample by sample; subclasses that can index all at once override it."""
        samples = [self[int(i)] for i in indices]
        samples = [sample if isinstance(sample, tuple) else (sample,) for sample in samples]
        return tuple(np.stack([as_numpy(field) for field in fields]) for fields in zip(*samples))


class TensorDataset(Dataset):
    """Samples made of the rows of equally long arrays: ``TensorDataset(x, y)[i] == (x[i], y[i])``.

    The arrays (NumPy arrays, Tensors or nested lists) are kept as NumPy arrays on the CPU.
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset: expected at least one array, got none")
        self.arrays = tuple(as_numpy(array) for array in arrays)
        lengths = [len(array) if array.ndim else None for array in self.arrays]
        if None in lengths or len(set(lengths)) != 1:
            shapes = ", ".join(str(array.shape) for array in self.arrays)
            raise ValueError(f"TensorDataset: all arrays must have the same first dimension, got shapes {shapes}")

    def __getitem__(self, index):
        return tuple(array[index] for array in self.arrays)

    def __len__(self):
        return len(self.arrays[0])

    def get_batch(self, indices):
        """One fancy-indexing per array: ``tuple(array[indices] for array in arrays)`` (copies)."""
        return self[np.asarray(indices)]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order: ``Subset(ds, idx)[i] == ds[idx[i]]``."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)

    def __getitem__(self, index):
        return self.dataset[int(self.indices[index])]

    def __len__(self):
        return len(self.indices)

    def get_batch(self, indices):
        return self.dataset.get_batch(self.indices[np.asarray(indices)])
