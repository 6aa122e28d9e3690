"""Ready-made models: the documents' small CNN, the demo's MLP, and residual networks.

    model = md.models.cnn(image_size=28)     # MNIST: exactly the Keras example's layers
    model = md.models.cnn(image_size=8)      # 8x8 digits: the same layers with padding 1
    model = md.models.resnet(in_channels=1, num_classes=10, depth=20)   # He et al.'s CIFAR ResNet-20
"""
from minidl.models.resnet import BasicBlock, ResNet, resnet, resnet_projection
from minidl.models.small import cnn, mlp
