"""What a convolutional network looks at: its filters, and the feature maps they produce."""
import math

import numpy as np

from minidl.data.utils import as_numpy
from minidl.viz.figure import save, subplots


def plot_filters(weight, path=None, channel=0, max_filters=64):
    """A grid of the first ``max_filters`` filters of a conv weight ``(out, in, kh, kw)`` (a
    Tensor, Parameter or array), input channel ``channel`` of each; saved as PNG at ``path`` (or
    returned as a Figure when ``path`` is None).
    Grey levels are scaled per filter: light = large weight."""
    weight = as_numpy(weight.detach() if hasattr(weight, "detach") else weight)
    if weight.ndim != 4:
        raise ValueError(f"plot_filters: weight must be 4-D (out, in, kh, kw), got shape {weight.shape}")
    return _image_grid(weight[:max_filters, channel], path, "filter")


def plot_feature_maps(maps, path=None, max_maps=64):
    """A grid of the feature maps ``(C, H, W)`` of one image (or ``(1, C, H, W)``: a batch of one),
    the output of a layer for that image; saved as PNG at ``path`` (or returned as a Figure when ``path`` is None)."""
    maps = as_numpy(maps.detach() if hasattr(maps, "detach") else maps)
    if maps.ndim == 4 and len(maps) == 1:
        maps = maps[0]
    if maps.ndim != 3:
        raise ValueError(f"plot_feature_maps: maps must be (C, H, W) or (1, C, H, W), got shape {maps.shape}")
    return _image_grid(maps[:max_maps], path, "map")


def _image_grid(images, path, label):
    """Draw the 2-D ``images`` in a near-square grid, each titled ``label i``."""
    columns = math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / columns)
    fig, axes = subplots(rows, columns, figsize=(1.2 * columns, 1.3 * rows), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index < len(images):
            ax.imshow(np.asarray(images[index], dtype=np.float64), cmap="gray")
            ax.set_title(f"{label} {index}", fontsize=6)
    return save(fig, path)
