"""Generators and Sequences in, batches out: how ``fit``, ``evaluate`` and ``predict`` read data
that arrives one batch at a time, as Keras does.

- A ``keras.utils.Sequence`` (any object with ``len()`` and ``[i]``, such as what
  ``ImageDataGenerator.flow`` returns): ``len(seq)`` batches per epoch unless ``steps`` says
  otherwise, in order (a new random order each pass with ``shuffle=True``), and
  ``seq.on_epoch_end()`` after each epoch.
- A Python generator (any iterator): ``steps`` batches per epoch, each epoch going on where the
  last stopped.  ``steps`` must be given, since a generator may never end (Keras's rule); a
  Keras-style generator loops forever (``while True:``).

Each batch is ``(x, y)`` or ``(x, y, sample_weight)``; ``predict`` also reads a bare ``x``.
"""
import numpy as np

from minidl import backend
from minidl.tensor import Tensor


def is_sequence(x):
    """Whether ``x`` is a Sequence of batches (``len()`` and ``[i]``), not an array of samples."""
    arrays = (np.ndarray, Tensor, list, tuple, dict)
    return hasattr(x, "__len__") and hasattr(x, "__getitem__") and not isinstance(x, arrays)


def is_batch_source(x):
    """Whether ``x`` gives whole batches (a Sequence or a generator) rather than arrays of samples."""
    return is_sequence(x) or (hasattr(x, "__next__") and not isinstance(x, (np.ndarray, Tensor)))


def unpack(caller, batch):
    """``(x, y)`` of a batch ``(x, y)`` or ``(x, y, None)``; sample weights are refused, since
    md.keras's losses do not weight samples."""
    if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
        raise ValueError(
            f"{caller}: each batch of a generator or Sequence must be a tuple (x, y) or (x, y, sample_weight), "
            f"got {type(batch).__name__}{f' of length {len(batch)}' if isinstance(batch, (tuple, list)) else ''}"
        )
    if len(batch) == 3 and batch[2] is not None:
        raise NotImplementedError(
            f"{caller}: md.keras does not weight samples, and the batch came as (x, y, sample_weight); yield (x, y)"
        )
    return batch[0], batch[1]


def inputs_of(batch):
    """The ``x`` of a batch for ``predict``: the batch itself, or the first field of a tuple."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


class BatchStream:
    """The batches of a Sequence or generator ``source``, ``steps`` of them per epoch, each
    passed through ``convert`` (which checks it against the model).  ``train.fit`` iterates it
    once per epoch; ``len()`` is ``steps``, the progress bar's total.

    ``steps_name`` is the argument that sets ``steps`` (``steps_per_epoch``, ``validation_steps``
    or ``steps``), named in the errors."""

    def __init__(self, caller, source, steps, steps_name, convert, shuffle=False):
        self.caller, self.source, self.steps_name, self.convert = caller, source, steps_name, convert
        if is_sequence(source):
            if len(source) == 0:
                raise ValueError(f"{caller}: the Sequence has length 0: it gives no batches")
            steps = len(source) if steps is None else steps
            self.batches = _sequence_batches(source, shuffle)
        elif steps is None:
            raise ValueError(
                f"{caller}: `{steps_name}=None` is only valid for a generator based on the `keras.utils.Sequence` "
                f"class. Please specify `{steps_name}` or use the `keras.utils.Sequence` class."
            )
        else:
            self.batches = source
        if not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"{caller}: {steps_name} must be a positive integer, got {steps!r}")
        self.steps, self.taken, self.pending = int(steps), 0, None

    def __len__(self):
        return self.steps

    def peek(self):
        """The first batch not yet read, converted; it is still the next one ``__iter__`` gives."""
        if self.pending is None:
            self.pending = self.convert(self._next_raw())
        return self.pending

    def __iter__(self):
        _call_if_defined(self.source, "on_epoch_begin")
        for _ in range(self.steps):
            batch, self.pending = self.peek(), None
            yield batch
        _call_if_defined(self.source, "on_epoch_end")

    def _next_raw(self):
        batch = next(self.batches, None)
        if batch is None:
            raise ValueError(
                f"{self.caller}: your input ran out of data after {self.taken} batches; a generator must give "
                f"`{self.steps_name}` ({self.steps}) batches per epoch, for every epoch: loop forever "
                "(`while True:`) or lower the steps"
            )
        self.taken += 1
        return batch


def _sequence_batches(sequence, shuffle):
    """``sequence[0], sequence[1], ...`` pass after pass (each pass in a new order drawn from
    minidl's generator with ``shuffle``), ending only if the Sequence becomes empty."""
    while True:
        count = len(sequence)
        if count == 0:
            return
        order = backend.get_rng().permutation(count) if shuffle else range(count)
        for index in order:
            yield sequence[int(index)]


def _call_if_defined(source, hook):
    method = getattr(source, hook, None)
    if callable(method):
        method()
