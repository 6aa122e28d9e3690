"""Keras's initializers: what a layer's weights start as (``kernel_initializer=``,
``bias_initializer=``), by name (``"he_normal"``) or as an object (``HeNormal(seed=0)``).

An initializer is called with a shape in Keras's layout (a Dense kernel is (in, units), a
Conv2D kernel (kh, kw, in, filters)) and returns a NumPy array of that shape.  The fans are
Keras's: for a kernel (..., in, out) with receptive field r = the product of the leading axes,
fan_in = in * r and fan_out = out * r.  ``VarianceScaling`` gives the family:

    n = fan_in, fan_out or (fan_in + fan_out) / 2        (mode)
    "uniform":             U(-limit, limit), limit = sqrt(3 * scale / n)
    "truncated_normal":    N(0, std^2) cut at 2 std, std = sqrt(scale / n) / 0.8796...
                           (the cut removes variance; dividing by 0.8796 puts it back)
    "untruncated_normal":  N(0, scale / n)

    GlorotUniform = (scale 1, fan_avg, uniform)     GlorotNormal = (1, fan_avg, truncated_normal)
    HeUniform     = (2, fan_in, uniform)            HeNormal     = (2, fan_in, truncated_normal)
    LecunUniform  = (1, fan_in, uniform)            LecunNormal  = (1, fan_in, truncated_normal)

Random numbers: with ``seed=`` an initializer gives the same values at every call (as Keras 3);
without, it draws from minidl's generator, so ``md.manual_seed`` repeats a whole model.
"""
import math

import numpy as np

from minidl import backend
from minidl.keras.backend import to_snake_case
from minidl.keras.config import deserialize

TRUNCATION_STD = 0.87962566103423978  # the std of N(0, 1) cut to [-2, 2]


class Initializer:
    """``initializer(shape, dtype=None)`` -> an array; ``get_config()`` -> its settings."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError

    def get_config(self):
        return {}

    def __repr__(self):
        settings = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({settings})"


def _as_dtype(dtype):
    return np.dtype(dtype or backend.get_default_dtype())


class Constant(Initializer):
    """Every value ``value``."""

    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        return np.full(shape, self.value, dtype=_as_dtype(dtype))

    def get_config(self):
        return {"value": self.value}


class Zeros(Constant):
    def __init__(self):
        super().__init__(0.0)

    def get_config(self):
        return {}


class Ones(Constant):
    def __init__(self):
        super().__init__(1.0)

    def get_config(self):
        return {}


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only)."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        if len(shape) != 2:
            raise ValueError(f"Identity: expected a 2-D shape, got {tuple(shape)}")
        return (self.gain * np.eye(*shape)).astype(_as_dtype(dtype))

    def get_config(self):
        return {"gain": self.gain}


class RandomInitializer(Initializer):
    """The shared part of the random initializers: where the numbers come from."""

    def __init__(self, seed=None):
        if seed is not None and not isinstance(seed, int):
            raise ValueError(f"{type(self).__name__}: seed must be None or an int, got {seed!r}")
        self.seed = seed

    def generator(self):
        """A fresh generator of ``seed`` (same values every call), else minidl's generator."""
        return backend.get_rng() if self.seed is None else np.random.default_rng(self.seed)

    def get_config(self):
        return {"seed": self.seed}


def truncated_normal(rng, shape, mean, stddev):
    """N(mean, stddev^2) samples, each redrawn until it lies within 2 stddev of the mean."""
    z = rng.standard_normal(shape)
    outside = np.abs(z) > 2
    while outside.any():
        z[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(z) > 2
    return mean + stddev * z


class RandomNormal(RandomInitializer):
    """N(mean, stddev^2)."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=None):
        return self.generator().normal(self.mean, self.stddev, shape).astype(_as_dtype(dtype))

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class TruncatedNormal(RandomNormal):
    """N(mean, stddev^2) cut at 2 stddev (values outside are drawn again)."""

    def __call__(self, shape, dtype=None):
        return truncated_normal(self.generator(), shape, self.mean, self.stddev).astype(_as_dtype(dtype))


class RandomUniform(RandomInitializer):
    """U(minval, maxval)."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype=None):
        return self.generator().uniform(self.minval, self.maxval, shape).astype(_as_dtype(dtype))

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


def compute_fans(shape):
    """Keras's (fan_in, fan_out) for a weight of ``shape`` in Keras's layout (..., in, out)."""
    shape = tuple(shape)
    if len(shape) < 2:
        fan = shape[0] if shape else 1
        return fan, fan
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


class VarianceScaling(RandomInitializer):
    """Values of variance ``scale / n``, n chosen by ``mode`` (see the module docstring)."""

    MODES = ("fan_in", "fan_out", "fan_avg")
    DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__(seed)
        if scale <= 0:
            raise ValueError(f"VarianceScaling: scale must be positive, got {scale}")
        if mode not in self.MODES:
            raise ValueError(f"VarianceScaling: mode must be one of {', '.join(self.MODES)}, got {mode!r}")
        if distribution not in self.DISTRIBUTIONS:
            raise ValueError(
                f"VarianceScaling: distribution must be one of {', '.join(self.DISTRIBUTIONS)}, got {distribution!r}"
            )
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        rng = self.generator()
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            values = rng.uniform(-limit, limit, shape)
        elif self.distribution == "truncated_normal":
            values = truncated_normal(rng, shape, 0.0, math.sqrt(variance) / TRUNCATION_STD)
        else:
            values = rng.normal(0.0, math.sqrt(variance), shape)
        return values.astype(_as_dtype(dtype))

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, **super().get_config()}


def _variance_scaling(name, scale, mode, distribution):
    """A ``VarianceScaling`` with fixed settings, under its own name (``GlorotUniform`` ...)."""

    class Fixed(VarianceScaling):
        def __init__(self, seed=None):
            super().__init__(scale, mode, distribution, seed)

        def get_config(self):
            return {"seed": self.seed}

    Fixed.__name__ = Fixed.__qualname__ = name
    Fixed.__doc__ = f"``VarianceScaling(scale={scale}, mode={mode!r}, distribution={distribution!r})``."
    return Fixed


GlorotUniform = _variance_scaling("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _variance_scaling("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _variance_scaling("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _variance_scaling("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _variance_scaling("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _variance_scaling("LecunNormal", 1.0, "fan_in", "truncated_normal")


class Orthogonal(RandomInitializer):
    """``gain`` times a random orthogonal matrix (rows or columns orthonormal), reshaped to
    ``shape``: the Q of the QR decomposition of a Gaussian matrix, signs fixed by diag(R)."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape, dtype=None):
        rows, columns = math.prod(shape[:-1]), shape[-1]
        a = self.generator().standard_normal((max(rows, columns), min(rows, columns)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if rows < columns:
            q = q.T
        return (self.gain * q.reshape(shape)).astype(_as_dtype(dtype))

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}


CLASSES = (Constant, Zeros, Ones, Identity, RandomNormal, TruncatedNormal, RandomUniform, VarianceScaling,
           GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, Orthogonal)
KNOWN = {
    **{cls.__name__: cls for cls in CLASSES},
    **{to_snake_case(cls.__name__): cls for cls in CLASSES},
    "uniform": RandomUniform, "normal": RandomNormal, "zero": Zeros, "one": Ones,
}


def get(identifier):
    """An initializer for a name (``"glorot_uniform"``, ``"HeNormal"``, ``"zeros"`` ...), a saved
    config, an initializer object or a function ``f(shape, dtype=None)``."""
    initializer = deserialize(identifier, KNOWN, "keras initializer")
    if not callable(initializer):
        raise TypeError(
            f"keras initializer: expected a name such as 'he_normal' or an initializer, got {identifier!r}"
        )
    return initializer
