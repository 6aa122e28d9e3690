"""Residual networks for small images (He et al. 2016, "Deep Residual Learning", section 4.2).

A residual block learns a correction F(x) to its input instead of a whole new mapping:

    out = relu(F(x) + shortcut(x)),    F(x) = bn2(conv2(relu(bn1(conv1(x)))))

The shortcut is the identity, or a 1x1 convolution with batch norm (a projection) where the block
changes the number of channels or the size.  On the backward pass the addition hands the
gradient to the shortcut unchanged, so it reaches early layers without being rescaled by every
layer on the way: in a deep plain network the gradient grows or shrinks geometrically from layer
to layer (at depth 56 with batch norm its norm spreads over three orders of magnitude), in a
residual one it keeps its size, and the network trains.
Names and layout follow torchvision's ``BasicBlock`` and ``ResNet``, so their state_dicts match.
"""
from minidl import nn


def conv3x3(in_planes, out_planes, stride=1):
    """A 3x3 convolution with padding 1 and no bias (the batch norm after it has one)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def resnet_projection(in_planes, out_planes, stride):
    """The shortcut where shapes change: a 1x1 convolution with ``stride``, then batch norm."""
    return nn.Sequential(nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False),
                         nn.BatchNorm2d(out_planes))  # fmt: skip


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, plus the shortcut, then ReLU (torchvision's ``BasicBlock``).

    ``downsample``: the module applied to the input on the shortcut (``None``: the identity, which
    needs ``inplanes == planes`` and ``stride == 1``).  ``shortcut=False`` drops the shortcut,
    leaving the "plain" block He et al. compare against.
    """

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, *, shortcut=True):
        super().__init__()
        if shortcut and downsample is None and (inplanes != planes or stride != 1):
            raise ValueError(
                f"BasicBlock: an identity shortcut needs inplanes == planes and stride 1, got inplanes "
                f"{inplanes}, planes {planes}, stride {stride}; pass downsample= (a 1x1 projection)"
            )
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample if shortcut else None
        self.shortcut = shortcut
        self.stride = stride

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.shortcut:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)

    def extra_repr(self):
        return "" if self.shortcut else "shortcut=False"


class ResNet(nn.Module):
    """A stem (conv3x3 to ``width`` channels, BN, ReLU), three stages of ``blocks_per_stage``
    BasicBlocks with ``width``, 2 ``width`` and 4 ``width`` channels (the second and third halve
    the size with stride 2 and a projection shortcut), global average pooling and a Linear layer.
    Returns logits.  Convolutions start from He initialisation (normal, fan_out, for ReLU), as in
    torchvision and the paper."""

    def __init__(self, in_channels, num_classes, blocks_per_stage, width=16, shortcut=True):
        super().__init__()
        self.conv1 = conv3x3(in_channels, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        planes = [width, 2 * width, 4 * width]
        inplanes = width
        for number, (out_planes, stride) in enumerate(zip(planes, [1, 2, 2]), 1):
            blocks = []
            for index in range(blocks_per_stage):
                block_stride = stride if index == 0 else 1
                changes_shape = block_stride != 1 or inplanes != out_planes
                downsample = resnet_projection(inplanes, out_planes, block_stride) if changes_shape and shortcut else None
                blocks.append(BasicBlock(inplanes, out_planes, block_stride, downsample, shortcut=shortcut))
                inplanes = out_planes
            setattr(self, f"layer{number}", nn.Sequential(*blocks))
        self.fc = nn.Linear(inplanes, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(x.mean(dim=(2, 3)))  # global average pooling: one value per channel


def resnet(in_channels=3, num_classes=10, depth=20, width=16, shortcut=True):
    """He et al.'s ResNet for small images (8x8 digits, 28x28 MNIST, 32x32 CIFAR): ``depth`` = 6n + 2
    layers with weights (20, 32, 44, 56, 110, or 8 and 14 for quick runs), n BasicBlocks per stage.
    ``shortcut=False`` builds the plain network of the same depth, for comparison."""
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"resnet: depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, 110), got {depth}")
    return ResNet(in_channels, num_classes, (depth - 2) // 6, width, shortcut)
