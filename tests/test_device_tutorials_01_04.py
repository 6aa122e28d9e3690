"""The teaching displays of tutorials 01 and 04 (autograd, convolution) on the "cuda" device (the
CuPy stand-in, MINIDL_FAKE_CUDA=1, or a real GPU): a learner who sets MINIDL_DEVICE=cuda sees the same backward walk, graph and filter
plots as on the CPU, although every array behind them lives on the device."""
import pytest

import minidl as md

pytestmark = pytest.mark.fake_cuda

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _neuron_loss(device):
    """sum((tanh(w x) - 0.8)^2) on ``device``, and its leaves by name."""
    x = md.tensor([0.5, -1.0], requires_grad=True, device=device)
    w = md.tensor(2.0, requires_grad=True, device=device)
    loss = ((md.tanh(w * x) - 0.8) ** 2).sum()
    return loss, {"x": x, "w": w}


def test_step_through_prints_the_same_walk_on_the_device_as_on_the_cpu():
    printed = {}
    for device in ("cpu", "cuda"):
        loss, leaves = _neuron_loss(device)
        printed[device] = [(str(step), repr(step)) for step in md.autograd.step_through(loss, leaf_names=leaves)]
    assert printed["cuda"] == printed["cpu"]
    assert "-> leaf w () (into .grad)" in printed["cuda"][-1][0]


def test_the_graph_of_a_device_computation_shows_its_values_and_gradient_norms():
    dots = {}
    for device in ("cpu", "cuda"):
        loss, leaves = _neuron_loss(device)
        loss.backward()
        dots[device] = md.viz.to_dot(loss, show_grad_norms=True, leaf_names=leaves)
    assert dots["cuda"] == dots["cpu"]
    assert "constant\\n= 0.8" in dots["cuda"] and "|grad| = " in dots["cuda"]
    assert md.viz.draw_graph(loss, show_grad_norms=True, leaf_names=leaves).startswith(PNG_SIGNATURE)


def test_filters_and_feature_maps_of_a_device_layer_are_plotted(tmp_path):
    conv = md.nn.Conv2d(1, 4, kernel_size=3).to("cuda")
    with md.no_grad():
        maps = conv(md.randn(1, 1, 6, 6, device="cuda"))
    filters_png = md.viz.plot_filters(conv.weight, tmp_path / "filters.png")
    maps_png = md.viz.plot_feature_maps(maps, tmp_path / "maps.png")
    assert filters_png.read_bytes().startswith(PNG_SIGNATURE) and maps_png.read_bytes().startswith(PNG_SIGNATURE)
