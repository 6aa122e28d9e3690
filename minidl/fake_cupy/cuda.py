"""``cupy.cuda`` stand-in: one device (id 0) and its default stream; work is done at once, so
synchronising does nothing (it counts as a host sync, as on a GPU)."""
import types

from minidl.fake_cupy.transfers import record_to_host


class Device:
    """``cupy.cuda.Device(id=None)``: the current device (always 0 here)."""

    def __init__(self, device=None):
        if device not in (None, 0):
            raise ValueError(f"the CuPy stand-in has one device (0), got device {device!r}")
        self.id = 0

    def synchronize(self):
        record_to_host()

    def use(self):
        pass

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return hash(self.id)

    def __repr__(self):
        return "<CUDA Device 0>"


class Stream:
    """``cupy.cuda.Stream``: ``ptr`` 0 is the default (null) stream."""

    null = None

    def __init__(self, null=False, non_blocking=False, ptds=False):
        self.ptr = 0 if null else id(self)

    def synchronize(self):
        record_to_host()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


Stream.null = Stream(null=True)


def get_current_stream(device_id=-1):
    return Stream.null


runtime = types.SimpleNamespace(getDeviceCount=lambda: 1)
