"""``keras.utils.Sequence``: a dataset served batch by batch, which ``model.fit`` can index."""


class Sequence:
    """Keras's base class for data that does not fit in memory at once.  A subclass defines
    ``__len__`` (the number of batches in an epoch) and ``__getitem__(index)`` (one batch: inputs, or
    ``(inputs, targets)``, or ``(inputs, targets, sample_weights)``); ``on_epoch_end`` runs after each
    epoch, e.g. to reshuffle.  Unlike a generator, every batch can be asked for by its index, so an
    epoch sees each batch exactly once.  ``workers``, ``use_multiprocessing`` and ``max_queue_size``
    are accepted as in Keras; minidl loads every batch in the calling thread."""

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self.workers, self.use_multiprocessing, self.max_queue_size = workers, use_multiprocessing, max_queue_size

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__}: subclasses of Sequence must define __getitem__(index)")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__}: subclasses of Sequence must define __len__()")

    @property
    def num_batches(self):
        """Batches per epoch, ``len(self)``."""
        return len(self)

    def on_epoch_end(self):
        """Called after each epoch; does nothing unless a subclass overrides it."""

    def __iter__(self):
        """One pass over the batches, in order."""
        for index in range(len(self)):
            yield self[index]
