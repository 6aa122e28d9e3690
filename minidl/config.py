"""Switches a learner may flip to compare implementations or to debug: ``md.config.conv_algorithm =
"direct"`` or, for a block of code, ``with md.config.override(conv_algorithm="direct"): ...``.

Like grad mode, these settings belong to the thread that sets them (every new thread starts
from the defaults), so two trainings in one process can compare algorithms side by side.
What stays process-wide, as in PyTorch: the default dtype (``md.set_default_dtype``), the
random generator (``md.manual_seed``) and the tuning of BLAS threads and malloc
(``minidl.parallel``, ``minidl.heap``).
"""
import contextlib
import threading

CONV_ALGORITHMS = ("im2col", "direct")
RECURRENT_ALGORITHMS = ("fused", "unfused")


class _ThreadSettings(threading.local):
    """The settings of one thread; ``__init__`` gives each new thread the defaults."""

    def __init__(self):
        self.conv_algorithm = "im2col"
        self.recurrent_algorithm = "fused"
        self.check_device_values = False


class Config:
    """minidl's settings (per thread).

    ``conv_algorithm``: ``"im2col"`` (unfold the windows into a matrix, then one BLAS/cuBLAS
    matrix product; the fast default; on the CPU, convolutions with at most 9 taps C kh kw, a
    network's first layer, take compiled per-sample loops instead, ``Conv2dFewTaps``) or
    ``"direct"`` (a loop over every output and tap; slower, kept to read and compare).

    ``recurrent_algorithm``: ``"fused"`` (each LSTM/GRU step, or a whole LSTM layer direction, one op
    with a hand-written backward; the fast default) or ``"unfused"`` (the same steps as a graph of
    small ops, ``minidl.ops.recurrent``'s ``*_reference`` functions: slower, and differentiable
    twice, for gradients of gradients through recurrent layers).

    ``check_device_values``: also run the checks that read a tensor's values (class indices and
    embedding indices in range, probabilities in [0, 1]) on CUDA tensors.  Reading a GPU value
    makes the host wait for the device and copy the value over at every call, so on CUDA these
    checks are off by default: an out-of-range index then gives a wrong result instead of an error
    (PyTorch's CUDA kernels assert on the device instead).  Turn them on while debugging.  On the
    CPU reading values costs no wait, so there they always run.
    """

    def __init__(self):
        self._settings = _ThreadSettings()

    @property
    def conv_algorithm(self):
        return self._settings.conv_algorithm

    @conv_algorithm.setter
    def conv_algorithm(self, name):
        if name not in CONV_ALGORITHMS:
            raise ValueError(f"config.conv_algorithm must be one of {CONV_ALGORITHMS}, got {name!r}")
        self._settings.conv_algorithm = name

    @property
    def recurrent_algorithm(self):
        return self._settings.recurrent_algorithm

    @recurrent_algorithm.setter
    def recurrent_algorithm(self, name):
        if name not in RECURRENT_ALGORITHMS:
            raise ValueError(f"config.recurrent_algorithm must be one of {RECURRENT_ALGORITHMS}, got {name!r}")
        self._settings.recurrent_algorithm = name

    @property
    def check_device_values(self):
        return self._settings.check_device_values

    @check_device_values.setter
    def check_device_values(self, flag):
        if not isinstance(flag, bool):
            raise TypeError(f"config.check_device_values must be True or False, got {flag!r}")
        self._settings.check_device_values = flag

    @contextlib.contextmanager
    def override(self, **settings):
        """Change settings inside a ``with`` block, restoring them afterwards."""
        previous = {name: getattr(self, name) for name in settings}
        try:
            for name, value in settings.items():
                setattr(self, name, value)
            yield self
        finally:
            for name, value in previous.items():
                setattr(self, name, value)


config = Config()
