"""Channels-last images (batch, H, W, C), as Keras reads them, and ``md.nn``'s channels-first
(batch, C, H, W): each image layer moves the channels in front, runs the ``md.nn`` layer and moves
them back.  ``data_format="channels_first"`` (Keras's other setting) skips both moves."""
from minidl import functional as F

DATA_FORMATS = ("channels_last", "channels_first")


def check_data_format(layer_class, data_format):
    """``data_format`` (None means ``"channels_last"``, Keras's default) or a ValueError."""
    data_format = data_format or "channels_last"
    if data_format not in DATA_FORMATS:
        raise ValueError(f"{layer_class}: data_format must be one of {', '.join(DATA_FORMATS)}, got {data_format!r}")
    return data_format


def to_channels_first(x, data_format):
    return F.permute(x, (0, 3, 1, 2)) if data_format == "channels_last" else x


def from_channels_first(x, data_format):
    return F.permute(x, (0, 2, 3, 1)) if data_format == "channels_last" else x


def image_axes(data_format):
    """(height axis, width axis, channels axis) of a batch (batch axis 0)."""
    return (1, 2, 3) if data_format == "channels_last" else (2, 3, 1)


def layout_name(data_format):
    return "batch, height, width, channels" if data_format == "channels_last" else "batch, channels, height, width"


def pair(value):
    """An int ``k`` as ``(k, k)``; a pair unchanged (as a tuple)."""
    return (value, value) if isinstance(value, int) else tuple(value)
