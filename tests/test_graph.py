"""md.viz.to_dot and md.viz.draw_graph: DOT text, PNG and SVG files, with or without Graphviz."""
import math
import shutil

import pytest

import minidl as md
import minidl.functional as F
from minidl.viz import graph, graph_layout

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def loss():
    model = md.nn.Sequential(md.nn.Linear(4, 6), md.nn.ReLU(), md.nn.Linear(6, 3))
    return F.cross_entropy(model(md.randn(5, 4)), md.tensor([0, 1, 2, 0, 1]))


@pytest.fixture
def no_graphviz(monkeypatch):
    real_which = shutil.which
    monkeypatch.setattr(graph.shutil, "which", lambda name: None if name == "dot" else real_which(name))


def test_dot_text_names_every_op_and_shape(loss):
    dot = md.viz.to_dot(loss)
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    for op in ["Linear", "ReLU", "LogSoftmax", "NLLLoss", "Sum", "Div"]:
        assert f'label="{op}\\n' in dot, op
    for shape in ["(5, 4)", "(6, 4)", "(6,)", "(5, 6)", "(3, 6)", "(3,)", "(5, 3)", "(5,)"]:
        assert shape in dot, shape
    assert f"output = {loss.item():.4g}" in dot
    assert dot.count("requires grad") == 4  # two weights, two biases; the input is a constant


def test_leaf_names_and_grad_norms(loss):
    w = md.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    assert "|grad|" not in md.viz.to_dot(y)
    assert "|grad| = none" in md.viz.to_dot(y, show_grad_norms=True)
    y.backward()
    dot = md.viz.to_dot(y, show_grad_norms=True, leaf_names={"w": w})
    assert 'label="w\\n(2,)\\nrequires grad\\n|grad| = 4.47' in dot
    assert dot.count('-> "op1"') == 2 and dot.count('label="w') == 1  # w is read twice, drawn once


def test_a_leaf_alone_is_one_box():
    boxes = graph.describe_graph(md.tensor([1.0], requires_grad=True))
    assert [box.kind for box in boxes] == ["leaf"]


def test_matplotlib_fallback_writes_png_and_svg(loss, no_graphviz, tmp_path):
    loss.backward()
    path = md.viz.draw_graph(loss, tmp_path / "sub" / "graph.png", show_grad_norms=True)
    assert path.read_bytes()[:8] == PNG_SIGNATURE and path.stat().st_size > 1000
    svg = md.viz.draw_graph(loss, tmp_path / "graph.svg")
    assert b"<svg" in svg.read_bytes()[:1000]
    assert md.viz.draw_graph(loss, format="svg").lstrip().startswith(b"<?xml")
    assert md.viz.draw_graph(loss)[:8] == PNG_SIGNATURE


def test_layers_put_each_box_below_its_readers():
    a = md.tensor(1.0, requires_grad=True)
    x = a * 2
    y = (x + a) * x  # diamonds: a and x are each read at two depths
    layers = graph_layout.layers_by_depth(graph.describe_graph(y))
    depth = {box.key: row for row, layer in enumerate(layers) for box in layer}
    for box in graph.describe_graph(y):
        assert all(depth[source] > depth[box.key] for source in box.inputs)


def test_bad_format_is_refused(loss):
    with pytest.raises(ValueError, match="format must be one of"):
        md.viz.draw_graph(loss, format="jpg")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graphviz_writes_png_and_svg(loss, tmp_path):
    assert md.viz.draw_graph(loss, tmp_path / "g.png").read_bytes()[:8] == PNG_SIGNATURE
    assert b"<svg" in md.viz.draw_graph(loss, tmp_path / "g.svg").read_bytes()


def test_scalar_leaves_and_output_show_their_values():
    w, x = md.tensor(2.0, requires_grad=True), md.tensor(0.5, requires_grad=True)
    loss = md.tanh(w * x) * 3.0
    dot = md.viz.to_dot(loss, leaf_names={"w": w, "x": x})
    assert 'label="w\\n= 2\\nrequires grad"' in dot and 'label="x\\n= 0.5\\nrequires grad"' in dot
    assert f"output = {3 * math.tanh(1.0):.4g}" in dot


def test_scalar_constants_and_intermediate_scalar_ops_show_their_values():
    """Tutorial 01's all-scalar graph: every box carries its number, none the empty shape ()."""
    t = md.tensor(2.0, requires_grad=True)
    z = t * 3.0  # 3.0 is a constant: no gradient flows to it
    y = (z + 1.0) ** 2
    dot = md.viz.to_dot(y, leaf_names={"t": t})
    assert 'label="constant\\n= 3"' in dot and 'label="constant\\n= 1"' in dot
    assert 'label="Mul\\n= 6"' in dot and 'label="Add\\n= 7"' in dot
    assert f"output = {49:.4g}" in dot and "()" not in dot
