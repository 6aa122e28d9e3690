"""Flatten and Reshape: the same values per sample in another shape (the batch axis stays);
UpSampling2D: each image larger by a whole factor per axis."""
import math

from minidl import functional as F
from minidl.keras.layers.base import Layer, check_rank
from minidl.keras.layers.layout import (
    check_data_format, from_channels_first, image_axes, layout_name, pair, to_channels_first,
)


class Flatten(Layer):
    """(batch, d1, d2, ...) -> (batch, d1 * d2 * ...), in the stored order: for channels-last
    images (H, W, C) the channels vary fastest, as in Keras."""

    def __init__(self, **kwargs):
        super().__init__(None, **kwargs)

    def call(self, x):
        return F.flatten(x, 1)

    def get_config(self):
        return self.base_config()


class Reshape(Layer):
    """Each sample to ``target_shape`` (one entry may be -1: worked out from the sample's size),
    e.g. ``Reshape((28, 28, 1))`` turns (batch, 784) into (batch, 28, 28, 1)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(None, **kwargs)
        self.target_shape = tuple(target_shape)
        if self.target_shape.count(-1) > 1 or any(n == 0 or n < -1 for n in self.target_shape):
            raise ValueError(
                f"{self.name}: target_shape must hold positive sizes and at most one -1, got {self.target_shape}"
            )

    def build(self, input_shape):
        self.sample_shape = self.resolve(input_shape)

    def resolve(self, input_shape):
        """``target_shape`` with its -1 worked out for inputs of ``input_shape``, or a ValueError."""
        size, known = math.prod(input_shape[1:]), math.prod(n for n in self.target_shape if n != -1)
        if -1 in self.target_shape and size % known == 0:
            return tuple(size // known if n == -1 else n for n in self.target_shape)
        if size != known or -1 in self.target_shape:
            raise ValueError(
                f"{self.name}: cannot reshape samples of shape {tuple(input_shape[1:])} ({size} values) "
                f"into target_shape {self.target_shape}"
                + ("" if -1 in self.target_shape else f" ({known} values)")
            )
        return self.target_shape

    def accepts(self, shape):
        return math.prod(shape[1:]) == math.prod(self.built_input_shape[1:])

    def call(self, x):
        return F.reshape(x, (x.shape[0],) + self.sample_shape)

    def get_config(self):
        return self.base_config(target_shape=self.target_shape)


class UpSampling2D(Layer):
    """Images (batch, H, W, C) to (batch, H * size[0], W * size[1], C): ``interpolation="nearest"``
    repeats each pixel, ``"bilinear"`` interpolates between pixel centres (``F.interpolate``'s
    "bilinear" with ``align_corners=False``, as Keras's image resize)."""

    INTERPOLATIONS = ("nearest", "bilinear")

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(None, **kwargs)
        self.size = pair(size)
        if len(self.size) != 2 or not all(isinstance(n, int) and n >= 1 for n in self.size):
            raise ValueError(f"{self.name}: size must be a positive int or a pair of them, got {size!r}")
        if interpolation not in self.INTERPOLATIONS:
            raise ValueError(
                f"{self.name}: interpolation must be one of {', '.join(map(repr, self.INTERPOLATIONS))}, "
                f"got {interpolation!r}"
            )
        self.data_format = check_data_format(type(self).__name__, data_format)
        self.interpolation = interpolation

    def build(self, input_shape):
        check_rank(self, input_shape, 4, layout_name(self.data_format))

    def accepts(self, shape):
        return len(shape) == 4

    def call(self, x):
        height, width, _ = image_axes(self.data_format)
        size = (x.shape[height] * self.size[0], x.shape[width] * self.size[1])
        images = to_channels_first(x, self.data_format)
        return from_channels_first(F.interpolate(images, size=size, mode=self.interpolation), self.data_format)

    def get_config(self):
        return self.base_config(size=self.size, data_format=self.data_format, interpolation=self.interpolation)
