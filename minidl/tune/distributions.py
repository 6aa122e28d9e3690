"""What a random search draws each hyperparameter from.

    {"lr": LogUniform(1e-4, 1e-1), "dropout": Uniform(0.0, 0.5),
     "hidden": IntUniform(16, 128), "optimizer": Choice(["sgd", "adam"])}

Each distribution has ``sample(rng)`` taking a ``numpy.random.Generator`` and ``log_scale``, which
tells ``plot_results`` to draw its axis logarithmically.
"""
import math


class Uniform:
    """x ~ U(low, high): every value in [low, high) equally likely."""

    log_scale = False

    def __init__(self, low, high):
        if not low < high:
            raise ValueError(f"{type(self).__name__}: expected low < high, got low={low!r}, high={high!r}")
        self.low, self.high = low, high

    def sample(self, rng):
        return float(rng.uniform(self.low, self.high))

    def __repr__(self):
        return f"{type(self).__name__}({self.low!r}, {self.high!r})"


class LogUniform(Uniform):
    """x = exp(u), u ~ U(log low, log high): every decade between low and high equally likely,
    the usual prior for learning rates and weight decays.  Needs 0 < low < high."""

    log_scale = True

    def __init__(self, low, high):
        if low <= 0:
            raise ValueError(f"LogUniform: expected 0 < low < high, got low={low!r}, high={high!r}")
        super().__init__(low, high)

    def sample(self, rng):
        return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))


class IntUniform(Uniform):
    """An integer drawn uniformly from low, low + 1, ..., high (both ends included)."""

    def sample(self, rng):
        return int(rng.integers(self.low, self.high, endpoint=True))


class Choice:
    """One of ``options``, each equally likely."""

    log_scale = False

    def __init__(self, options):
        self.options = list(options)
        if not self.options:
            raise ValueError("Choice: expected at least one option, got none")

    def sample(self, rng):
        return self.options[int(rng.integers(len(self.options)))]

    def __repr__(self):
        return f"Choice({self.options!r})"
