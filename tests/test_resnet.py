"""md.models.BasicBlock and resnet against the same network written in torch.nn the way torchvision
writes it: forward, input and parameter gradients, running statistics, train and eval, state_dict
keys; the paper's parameter counts; errors."""
import numpy as np
import pytest

import minidl as md
from minidl.testing import assert_close

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

TOL = (1e-10, 1e-10)


class TorchBasicBlock(torch.nn.Module):
    """torchvision.models.resnet.BasicBlock, written out (torchvision is not a test dependency)."""

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(planes)
        self.relu = torch.nn.ReLU()
        self.conv2 = torch.nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class TorchResNet(torch.nn.Module):
    """He et al.'s CIFAR ResNet with projection shortcuts, torchvision's names."""

    def __init__(self, in_channels, num_classes, blocks_per_stage, width=16):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(width)
        self.relu = torch.nn.ReLU()
        inplanes = width
        for number, (planes, stride) in enumerate(zip([width, 2 * width, 4 * width], [1, 2, 2]), 1):
            blocks = []
            for index in range(blocks_per_stage):
                s = stride if index == 0 else 1
                downsample = None
                if s != 1 or inplanes != planes:
                    downsample = torch.nn.Sequential(torch.nn.Conv2d(inplanes, planes, 1, s, bias=False),
                                                     torch.nn.BatchNorm2d(planes))  # fmt: skip
                blocks.append(TorchBasicBlock(inplanes, planes, s, downsample))
                inplanes = planes
            setattr(self, f"layer{number}", torch.nn.Sequential(*blocks))
        self.fc = torch.nn.Linear(inplanes, num_classes)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.relu(self.bn1(self.conv1(x))))))
        return self.fc(x.mean(dim=(2, 3)))


def same_weights(ours, theirs, seed=0):
    """Random weights and running statistics in torch's network, loaded into ours."""
    rng = np.random.default_rng(seed)
    theirs.double()
    with torch.no_grad():
        for name, value in theirs.state_dict().items():
            if value.dtype == torch.float64:
                low = 0.5 if "running_var" in name or "bn" in name and name.endswith("weight") else -0.5
                value.copy_(torch.tensor(rng.uniform(low, low + 1, value.shape)))
    ours.double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})


def assert_same_pass(ours, theirs, x):
    """Outputs, input gradients, parameter gradients and the state (running stats) agree."""
    x_ours, x_theirs = md.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_ours, out_theirs = ours(x_ours), theirs(x_theirs)
    assert_close(out_ours.numpy(), out_theirs.detach().numpy(), *TOL, "output")
    upstream = np.random.default_rng(1).standard_normal(out_ours.shape)
    (out_ours * md.tensor(upstream)).sum().backward()
    (out_theirs * torch.tensor(upstream)).sum().backward()
    assert_close(x_ours.grad.numpy(), x_theirs.grad.numpy(), *TOL, "input grad")
    theirs_params = dict(theirs.named_parameters())
    assert list(dict(ours.named_parameters())) == list(theirs_params)
    for name, p in ours.named_parameters():
        assert_close(p.grad.numpy(), theirs_params[name].grad.numpy(), *TOL, f"grad of {name}")
    theirs_state = theirs.state_dict()
    assert list(ours.state_dict()) == list(theirs_state)
    for name, value in ours.state_dict().items():
        assert_close(np.asarray(value.numpy()), theirs_state[name].numpy(), *TOL, name)


@pytest.mark.parametrize("inplanes, planes, stride", [(4, 4, 1), (3, 5, 2), (4, 6, 1)])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_basic_block_matches_torchvisions(inplanes, planes, stride, training):
    needs_projection = stride != 1 or inplanes != planes
    theirs = TorchBasicBlock(inplanes, planes, stride, torch.nn.Sequential(
        torch.nn.Conv2d(inplanes, planes, 1, stride, bias=False), torch.nn.BatchNorm2d(planes)) if needs_projection else None)
    ours = md.models.BasicBlock(inplanes, planes, stride, md.models.resnet_projection(inplanes, planes, stride)
                                if needs_projection else None)  # fmt: skip
    same_weights(ours, theirs)
    ours.train(training), theirs.train(training)
    assert_same_pass(ours, theirs, np.random.default_rng(2).standard_normal((3, inplanes, 6, 5)))


@pytest.mark.parametrize("image_size", [8, 28])
def test_resnet_matches_the_same_network_in_torch_in_train_and_eval(image_size):
    ours, theirs = md.models.resnet(in_channels=1, num_classes=10, depth=8), TorchResNet(1, 10, 1)
    same_weights(ours, theirs, seed=3)
    x = np.random.default_rng(4).standard_normal((2, 1, image_size, image_size))
    assert_same_pass(ours, theirs, x)
    ours.eval(), theirs.eval()
    ours.zero_grad(), theirs.zero_grad()
    assert_same_pass(ours, theirs, x)


@pytest.mark.parametrize("depth, parameters", [(20, 0.27e6), (32, 0.46e6), (56, 0.85e6)])
def test_parameter_counts_are_the_papers(depth, parameters):
    """He et al. 2016, table 6: ResNet-20/32/56 have 0.27M/0.46M/0.85M parameters."""
    count = sum(p.numel() for p in md.models.resnet(3, 10, depth).parameters())
    assert abs(count - parameters) / parameters < 0.02


def test_the_plain_network_has_no_shortcuts_and_the_same_layers():
    plain = md.models.resnet(1, 10, depth=14, shortcut=False)
    residual = md.models.resnet(1, 10, depth=14)
    assert not any(isinstance(m, md.models.BasicBlock) and m.shortcut for m in plain.modules())
    weighted = lambda model: [n for n, _ in model.named_parameters() if "downsample" not in n]  # noqa: E731
    assert weighted(plain) == weighted(residual)
    x = md.randn(2, 1, 8, 8)
    assert plain(x).shape == residual(x).shape == (2, 10)


def conv_gradient_norms(model, x):
    """The gradient norm of every 3x3 convolution's weight, input side first, after one backward."""
    md.nn.functional.cross_entropy(model(x), md.tensor(np.arange(len(x)) % 10)).backward()
    return np.array([float((m.weight.grad ** 2).sum() ** 0.5) for name, m in model.named_modules()
                     if isinstance(m, md.nn.Conv2d) and "downsample" not in name])  # fmt: skip


def test_the_shortcut_keeps_gradient_norms_even_across_depth():
    """The reason for residual networks: at depth 56 (He initialisation, batch norm) the plain net's
    gradient grows geometrically from layer to layer towards the input, so early and late layers
    learn at wildly different rates; with shortcuts the norms stay within a narrow band."""
    x = md.tensor(np.random.default_rng(5).standard_normal((8, 1, 8, 8)).astype(np.float32))
    spread = {}
    for shortcut in (True, False):
        md.manual_seed(0)
        norms = conv_gradient_norms(md.models.resnet(1, 10, depth=56, shortcut=shortcut), x)
        spread[shortcut] = norms.max() / norms.min()
    assert spread[False] > 20 * spread[True], spread


def test_bad_depth_and_bad_shortcut_are_named():
    with pytest.raises(ValueError, match=r"resnet: depth must be 6n \+ 2 .* got 18"):
        md.models.resnet(depth=18)
    with pytest.raises(ValueError, match="BasicBlock: an identity shortcut needs inplanes == planes and stride 1, "
                                         "got inplanes 4, planes 8, stride 1"):
        md.models.BasicBlock(4, 8)


def test_wrong_channel_count_is_named():
    with pytest.raises(Exception, match=r"(?i)conv2d.*channel"):
        md.models.resnet(in_channels=3, depth=8)(md.randn(1, 1, 8, 8))
