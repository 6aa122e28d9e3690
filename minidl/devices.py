"""``md.device``: torch's device object, for code such as

    device = md.device("cuda" if md.cuda.is_available() else "cpu")
    model.to(device); x = x.to(device)

Every place that takes a device (``.to``, ``device=``) also takes the plain name; minidl's
tensors report theirs as a string, ``x.device == "cpu"``.
"""
import numbers

from minidl.backend import DEVICES, DeviceError


class device:
    """A device: ``type`` ("cpu" or "cuda") and ``index`` (the GPU's number, or None).

    ``md.device("cuda:0")``, ``md.device("cuda", 0)`` and ``md.device("cpu")``; ``str()`` gives
    the name back ("cuda:0").  minidl computes on CuPy's current GPU;
    an index naming another GPU is refused when used (select it with ``cupy.cuda.Device(N).use()``).
    """

    def __init__(self, type, index=None):
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        name, _, number = str(type).partition(":")
        if name not in DEVICES:
            raise DeviceError(f"device: expected 'cpu' or 'cuda' (optionally 'cuda:N'), got {type!r}")
        if number:
            if index is not None or not number.isdigit():
                raise DeviceError(f"device: invalid device string {type!r}; expected 'cuda' or 'cuda:N'")
            index = int(number)
        if index is not None and (not isinstance(index, numbers.Integral) or index < 0):
            raise DeviceError(f"device: index must be a non-negative int, got {index!r}")
        self.type, self.index = name, index

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"

    def __eq__(self, other):
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))
