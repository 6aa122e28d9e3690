"""History: what ``fit`` measured, one value per epoch for every quantity."""


class History:
    """The record of a training run, as Keras's: ``history.history["val_loss"][e]`` is the
    validation loss after epoch ``history.epoch[e]`` (epochs count from 1).

    Keys: ``loss`` and each metric on the training data (averaged over the epoch's batches,
    measured while the weights were changing), the same with a ``val_`` prefix on the
    validation data (measured after the epoch), ``lr`` (the learning rate the epoch used) and
    ``time`` (seconds).  ``stop_reason`` says why training ended before ``epochs`` (None if it
    did not).
    """

    def __init__(self):
        self.epoch = []
        self.history = {}
        self.stop_reason = None

    def append(self, epoch, logs):
        """Record the ``logs`` dict (name -> number) of ``epoch``."""
        self.epoch.append(epoch)
        for name, value in logs.items():
            self.history.setdefault(name, []).append(value)

    def __getitem__(self, name):
        return self.history[name]

    def __contains__(self, name):
        return name in self.history

    def __len__(self):
        return len(self.epoch)

    def best(self, monitor="val_loss", mode="min"):
        """``(epoch, value)`` of the best epoch for ``monitor``: the smallest value (``mode="min"``)
        or the largest (``"max"``)."""
        values = self.history[monitor]
        pick = min if mode == "min" else max
        index = pick(range(len(values)), key=values.__getitem__)
        return self.epoch[index], values[index]

    def __repr__(self):
        return f"History(epochs={len(self)}, keys={list(self.history)})"
