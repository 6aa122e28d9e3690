"""Switches a learner may flip to compare implementations: ``md.config.conv_algorithm = "direct"``
or, for a block of code, ``with md.config.override(conv_algorithm="direct"): ...``."""
import contextlib

CONV_ALGORITHMS = ("im2col", "direct")


class Config:
    """minidl's settings.

    ``conv_algorithm``: ``"im2col"`` (unfold the windows into a matrix, then one BLAS/cuBLAS
    matrix product; the fast default) or ``"direct"`` (a loop over every output and tap; slower,
    kept to read and compare).
    """

    def __init__(self):
        self._conv_algorithm = "im2col"

    @property
    def conv_algorithm(self):
        return self._conv_algorithm

    @conv_algorithm.setter
    def conv_algorithm(self, name):
        if name not in CONV_ALGORITHMS:
            raise ValueError(f"config.conv_algorithm must be one of {CONV_ALGORITHMS}, got {name!r}")
        self._conv_algorithm = name

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
