"""The documents' small CNN and the demo's MLP."""
from minidl import nn

SMALL_IMAGE = 16  # below this size the convolutions pad by 1, so two conv+pool stages still fit


def cnn(in_channels=1, image_size=28, num_classes=10):
    """Conv(32, 3x3) - ReLU - MaxPool(2) - Conv(64, 3x3) - ReLU - MaxPool(2) - Flatten - Linear(10).

    For ``image_size`` >= 16 the convolutions have no padding, as in the Keras MNIST example:
    28 -> 26 -> 13 -> 11 -> 5, so Linear(64 * 5 * 5, 10).  Smaller images would shrink to
    nothing, so there each convolution pads by 1 and keeps the size: 8 -> 8 -> 4 -> 4 -> 2,
    so Linear(64 * 2 * 2, 10).  Returns logits (no softmax: ``CrossEntropyLoss`` applies it).
    """
    padding = 1 if image_size < SMALL_IMAGE else 0
    size = image_size
    for _ in range(2):  # each stage: a 3x3 convolution, then pooling halves the size
        size = (size + 2 * padding - 2) // 2
    if size < 1:
        raise ValueError(f"cnn: images of size {image_size} are too small for two conv + pool stages")
    return nn.Sequential(
        nn.Conv2d(in_channels, 32, 3, padding=padding), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=padding), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * size * size, num_classes),
    )  # fmt: skip


def mlp(in_features=64, hidden=64, num_classes=10):
    """Flatten - Linear(in_features, hidden) - ReLU - Linear(hidden, num_classes): the demo's MLP,
    with a Flatten first so that it takes images ``(N, C, H, W)`` as well as vectors."""
    return nn.Sequential(nn.Flatten(), nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))
