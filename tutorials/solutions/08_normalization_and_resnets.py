"""Solutions to the exercises of tutorial 08, normalization and residual networks.

Run from the repository root, ``python tutorials/solutions/08_normalization_and_resnets.py``
checks exercises 1 and 2 with ``md.testing.check_exercise`` and runs exercises 3 and 4.
``CHECKED`` maps each checkable exercise's name to its solution.
"""
import numpy as np

import minidl as md


def _channel_statistics(x, eps):
    """The axes batch norm averages over (all but the channels), x_hat, and 1 / sqrt(var + eps)."""
    axes = (0,) + tuple(range(2, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    inv_std = 1 / np.sqrt(x.var(axis=axes, keepdims=True) + eps)  # the biased variance
    return axes, (x - mean) * inv_std, inv_std


def _per_channel(values, x):
    """A (C,) vector shaped to broadcast along the channel axis of x."""
    return values.reshape((1, -1) + (1,) * (x.ndim - 2))


def batch_norm_forward(x, gamma, beta, eps):
    """Exercise 1.  Standardize per channel over every other axis, then y = gamma x_hat + beta."""
    _, x_hat, _ = _channel_statistics(x, eps)
    return _per_channel(gamma, x) * x_hat + _per_channel(beta, x)


def batch_norm_backward(x, gamma, grad, eps):
    """Exercise 2.  With g_hat = gamma g and m values per channel:
    dx = inv_std / m (m g_hat - sum(g_hat) - x_hat sum(g_hat x_hat)), dgamma = sum(g x_hat), dbeta = sum(g)."""
    axes, x_hat, inv_std = _channel_statistics(x, eps)
    m = x.size // x.shape[1]
    g_hat = _per_channel(gamma, x) * grad
    dx = inv_std / m * (m * g_hat - g_hat.sum(axis=axes, keepdims=True)
                        - x_hat * (g_hat * x_hat).sum(axis=axes, keepdims=True))  # fmt: skip
    return dx, (grad * x_hat).sum(axis=axes), grad.sum(axis=axes)


CHECKED = {"batch_norm_forward": batch_norm_forward, "batch_norm_backward": batch_norm_backward}


def train_mode_on_one_image():
    """Exercise 3: one value per channel has no variance (ValueError, as in PyTorch); 25 values do."""
    layer = md.nn.BatchNorm2d(4)
    try:
        layer(md.randn(1, 4, 1, 1))
    except ValueError as error:
        print("1x1 image:", error)
    print("5x5 image: output shape", layer(md.randn(1, 4, 5, 5)).shape)


def gradient_spread(depth):
    """Exercise 4: the max / min gradient norm over the 3x3 convolutions, plain and residual."""
    images = md.tensor(np.random.default_rng(0).standard_normal((16, 1, 8, 8)).astype(np.float32))
    labels = md.tensor(np.arange(16) % 10)
    spreads = {}
    for shortcut in (False, True):
        md.manual_seed(0)
        model = md.models.resnet(1, 10, depth=depth, shortcut=shortcut)
        md.nn.functional.cross_entropy(model(images), labels).backward()
        norms = [(m.weight.grad ** 2).sum().item() ** 0.5 for name, m in model.named_modules()
                 if isinstance(m, md.nn.Conv2d) and "downsample" not in name]  # fmt: skip
        spreads["residual" if shortcut else "plain"] = max(norms) / min(norms)
    return spreads


if __name__ == "__main__":
    for name, solution in CHECKED.items():
        assert md.testing.check_exercise(name, solution)
    train_mode_on_one_image()
    for depth in (56, 110):
        print(f"depth {depth}: gradient norm spread", {k: f"{v:.0f}x" for k, v in gradient_spread(depth).items()})
