"""Image files for ``ImageDataGenerator.flow_from_directory``: finding them in class folders and
reading them as Keras does (Pillow, channels-last float32 arrays)."""
import os

import numpy as np

# The extensions Keras reads; Pillow opens each of them.
IMAGE_EXTENSIONS = ("png", "jpg", "jpeg", "bmp", "ppm", "tif", "tiff")
COLOR_MODES = {"grayscale": "L", "rgb": "RGB", "rgba": "RGBA"}
INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos", "box", "hamming")


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest"):
    """The image at ``path`` as a Pillow image in ``color_mode`` ("grayscale", "rgb" or "rgba"),
    resized to ``target_size = (height, width)`` when given; the error names a file Pillow cannot read."""
    from PIL import Image

    if color_mode not in COLOR_MODES:
        raise ValueError(f"load_img: color_mode must be one of {tuple(COLOR_MODES)}, got {color_mode!r}")
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"load_img: interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
    try:
        with Image.open(path) as file:
            img = file.convert(COLOR_MODES[color_mode])
    except OSError as error:  # Pillow's UnidentifiedImageError is an OSError
        raise ValueError(f"load_img: cannot read image file {os.fspath(path)!r}: {error}") from error
    if target_size is not None and img.size != (target_size[1], target_size[0]):
        img = img.resize((target_size[1], target_size[0]), Image.Resampling[interpolation.upper()])
    return img


def img_to_array(img, dtype="float32"):
    """A Pillow image as an array (height, width, channels), grayscale included as 1 channel."""
    array = np.asarray(img, dtype=dtype)
    return array[:, :, None] if array.ndim == 2 else array


def class_files(directory, classes, split, follow_links=False):
    """``(paths, labels)`` of the image files under each class folder ``directory/classes[i]`` (label
    i), searched recursively in sorted order; ``split = (start, stop)`` keeps the fraction of each
    class's files between ``int(start * n)`` and ``int(stop * n)``, as Keras's ``subset`` does."""
    paths, labels = [], []
    for label, name in enumerate(classes):
        folder = os.path.join(directory, name)
        if not os.path.isdir(folder):
            raise ValueError(f"flow_from_directory: class folder {folder!r} does not exist")
        found = [os.path.join(root, file)
                 for root, _, files in sorted(os.walk(folder, followlinks=follow_links))
                 for file in sorted(files) if file.lower().endswith(IMAGE_EXTENSIONS)]
        kept = found[int(split[0] * len(found)):int(split[1] * len(found))]
        paths += kept
        labels += [label] * len(kept)
    return paths, np.array(labels, dtype="int32")
