"""Counting copies between host and "device", so tests can assert that a step does not sync."""
import contextlib
import dataclasses

_active_counters = []


@dataclasses.dataclass
class TransferCounter:
    """Copies seen inside one ``count_transfers()`` block.

    ``to_host``: device -> host copies and syncs (``.get()``, ``.item()``, ``float()``/``int()``/
    ``bool()``, ``tolist()``, ``cupy.asnumpy``); ``to_device``: host -> device copies
    (``cupy.asarray``/``cupy.array`` of host data, a host array as an index or a scattered value).
    """

    to_host: int = 0
    to_device: int = 0


@contextlib.contextmanager
def count_transfers():
    """``with count_transfers() as copies: ...`` then read ``copies.to_host`` / ``copies.to_device``."""
    counter = TransferCounter()
    _active_counters.append(counter)
    try:
        yield counter
    finally:
        _active_counters.remove(counter)


def record_to_host():
    for counter in _active_counters:
        counter.to_host += 1


def record_to_device():
    for counter in _active_counters:
        counter.to_device += 1
