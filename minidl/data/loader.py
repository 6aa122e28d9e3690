"""DataLoader: a dataset cut into batches, as ``torch.utils.data.DataLoader``."""
import itertools
import math
import numbers

import numpy as np

from minidl.data.collate import default_collate
from minidl.data.utils import generator as make_generator
from minidl.tensor import Tensor


class DataLoader:
    """Iterate over ``dataset`` in batches: ``for xb, yb in DataLoader(TensorDataset(x, y), 32, shuffle=True)``.

    PyTorch's arguments and semantics:

    - The indices of an epoch: ``0, 1, ..., n-1`` in order, or (``shuffle=True``) a new
      permutation every epoch, or those of ``sampler`` (any iterable of indices); cut into
      batches of ``batch_size``, the last one smaller or, with ``drop_last=True``, dropped.
      ``batch_sampler`` (an iterable of index lists) gives the batches itself instead.
      ``len(loader)`` is the number of batches: ``ceil(n / batch_size)``, ``floor`` with drop_last.
    - A batch is ``collate_fn([dataset[i] for i in batch_indices])``, by default
      ``default_collate``: a sample ``(x, y)`` of Tensors, arrays or numbers gives ``[xb, yb]``,
      stacked along a new first dim (dicts and other structures field by field).  Datasets that
      can fetch a whole batch at once (``TensorDataset``) are asked for it with ``get_batch``.
    - Shuffling draws from ``generator`` (a ``numpy.random.Generator``: minidl has no
      ``torch.Generator``), made once so that epoch after epoch continues one random stream;
      without one, from minidl's global generator (``md.manual_seed``) at each epoch.  The
      order cannot be torch's: the generators differ.
    - Loading always happens in this process: ``num_workers`` > 0 gives the same batches,
      without worker processes (``worker_init_fn`` is then never called); ``pin_memory``,
      ``timeout``, ``prefetch_factor`` and the other worker settings are checked as in PyTorch
      and otherwise have no effect.

    minidl adds two keyword arguments: ``seed`` (shuffle with ``np.random.default_rng(seed)``,
    instead of ``generator``) and ``transform`` (e.g. an ``md.data.augment.Compose``), called on
    the first field of every batch, the inputs, as a NumPy array; the other fields (labels) are
    left alone.
    """

    def __init__(
        self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0, collate_fn=None,
        pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None, multiprocessing_context=None,
        generator=None, *, prefetch_factor=None, persistent_workers=False, pin_memory_device="", in_order=True,
        seed=None, transform=None,
    ):  # fmt: skip
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        _check_worker_settings(num_workers, timeout, prefetch_factor, persistent_workers)
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True are mutually exclusive (the sampler sets the order)")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
            raise ValueError(
                "DataLoader: batch_sampler is mutually exclusive with batch_size, shuffle, sampler and drop_last "
                "(it gives the batches itself)"
            )
        if seed is not None and generator is not None:
            raise ValueError("DataLoader: give either generator or seed, not both")
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: transform must be callable, got {type(transform).__name__}")
        self.dataset = dataset
        self.batch_size = None if batch_sampler is not None else int(batch_size)
        self.shuffle = bool(shuffle)
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.drop_last = drop_last
        self.collate_fn = default_collate if collate_fn is None else collate_fn
        self.num_workers, self.pin_memory, self.timeout = num_workers, pin_memory, timeout
        self.worker_init_fn = worker_init_fn
        self.transform = transform
        # made once, so that epoch after epoch continues one random stream; None is looked up at
        # each epoch, so that md.manual_seed called after construction still counts
        self.generator = generator if seed is None else np.random.default_rng(seed)

    def __len__(self):
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        n = len(self.sampler if self.sampler is not None else self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        for indices in self._index_batches():
            batch = self._fetch(indices)
            yield batch if self.transform is None else self._transform_inputs(batch)

    def _index_batches(self):
        """The list of dataset indices of each batch of one epoch."""
        if self.batch_sampler is not None:
            yield from self.batch_sampler
            return
        order = iter(self._order())
        while indices := list(itertools.islice(order, self.batch_size)):
            if len(indices) == self.batch_size or not self.drop_last:
                yield indices

    def _order(self):
        """The indices of one epoch, one at a time."""
        if self.sampler is not None:
            return self.sampler
        n = len(self.dataset)
        return make_generator(self.generator).permutation(n).tolist() if self.shuffle else range(n)

    def _fetch(self, indices):
        if self.collate_fn is default_collate and hasattr(self.dataset, "get_batch"):
            return self.dataset.get_batch(indices)
        return self.collate_fn([self.dataset[i] for i in indices])

    def _transform_inputs(self, batch):
        """The batch with ``transform`` applied to its inputs: the first field (or the whole
        batch, when the samples are single tensors)."""
        if isinstance(batch, Tensor):
            return Tensor(self.transform(batch.numpy()))
        batch[0] = Tensor(self.transform(batch[0].numpy()))
        return batch


def _check_worker_settings(num_workers, timeout, prefetch_factor, persistent_workers):
    """PyTorch's checks of the worker settings, which minidl accepts but does not use."""
    if num_workers < 0:
        raise ValueError(
            f"DataLoader: num_workers must be non-negative, got {num_workers}; use 0 to load in this process"
        )
    if timeout < 0:
        raise ValueError(f"DataLoader: timeout must be non-negative, got {timeout}")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError("DataLoader: prefetch_factor needs num_workers > 0; leave it None")
    if prefetch_factor is not None and prefetch_factor < 0:
        raise ValueError(f"DataLoader: prefetch_factor must be non-negative, got {prefetch_factor}")
    if persistent_workers and num_workers == 0:
        raise ValueError("DataLoader: persistent_workers needs num_workers > 0")
