"""md.viz.backprop_page, Python side: the recorded steps are the engine's, the gradients are
torch's, the page is one file that loads nothing, and bad input is refused before anything changes.
(tests/test_backprop_browser.py opens the pages in a real browser.)"""
import base64
import json
import re
import sys
import threading

import numpy as np
import pytest

import minidl as md
import minidl.functional as F
from minidl import nn
from minidl.viz import backprop_trace
from minidl.viz.backprop_numbers import describe_array
from minidl.viz.backprop_page import backprop_page
from minidl.viz.backprop_record import record_forward


def page_data(page):
    """The data the page's script replays, read back from the HTML."""
    literal = re.search(r"const BACKPROP_DATA = (.*?);\n</script>", page.html, re.S).group(1)
    return json.loads(literal)


VALUES = (2.0, -0.75, 10.0)


def scalar_expression():
    """micrograd's kind of expression, with ``a`` feeding two ops: L = tanh(a * b + a) * c."""
    a, b, c = (md.tensor(v, requires_grad=True) for v in VALUES)
    return (((a * b) + a).tanh() * c), {"a": a, "b": b, "c": c}


class UnrolledLSTM(nn.Module):
    """An LSTMCell run over three steps, then a Linear head."""

    def __init__(self):
        super().__init__()
        self.cell = nn.LSTMCell(3, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, xs):
        h = c = md.zeros(1, 4)
        for x in xs:
            h, c = self.cell(x, (h, c))
        return self.head(h)


def lstm_loss(record=True):
    md.manual_seed(0)
    model = UnrolledLSTM()
    xs = [md.randn(1, 3) for _ in range(3)]
    if not record:
        return F.cross_entropy(model(xs), md.tensor([1])), model
    with record_forward():
        loss = F.cross_entropy(model(xs), md.tensor([1]))
    return loss, model


def tensor_named(data, name):
    return next(t for t in data["tensors"] if t["name"] == name)


# ------------------------------------------------------------------ the steps are the engine's
def test_the_backward_steps_are_step_throughs_in_its_order():
    loss, _ = scalar_expression()
    twin, _ = scalar_expression()
    data = page_data(backprop_page(loss))
    ops = {op["id"]: op["op"] for op in data["ops"]}
    assert [ops[step["node"]] for step in data["backward"]] == [s.op for s in md.autograd.step_through(twin)]
    assert data["forward"] == [step["node"] for step in data["backward"]][::-1]


@pytest.mark.torch
def test_the_page_shows_torchs_gradients_and_leaves_them_in_grad(float64):
    torch = pytest.importorskip("torch")
    loss, leaves = scalar_expression()
    data = page_data(backprop_page(loss, names=leaves))
    a, b, c = (torch.tensor(v, requires_grad=True, dtype=torch.float64) for v in VALUES)
    (((a * b) + a).tanh() * c).backward()
    final = {}
    for step in data["backward"]:
        final.update(step["shows"])
    for name, theirs in {"a": a, "b": b, "c": c}.items():
        shown = final[data["names"][name]]["values"]
        np.testing.assert_allclose(shown, [theirs.grad.item()], rtol=1e-12)
        np.testing.assert_allclose(leaves[name].grad.numpy(), theirs.grad.numpy(), rtol=1e-12)


def test_the_grads_equal_those_of_backward_and_accumulate_like_it():
    loss, model = lstm_loss()
    backprop_page(loss, model=model)
    twin_loss, twin = lstm_loss(record=False)
    twin_loss.backward()
    for (name, mine), theirs in zip(model.named_parameters(), twin.parameters()):
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-6, err_msg=name)
    loss, leaves = scalar_expression()
    leaves["a"].grad = md.tensor(100.0)
    data = page_data(backprop_page(loss, names=leaves))
    twin, twin_leaves = scalar_expression()
    twin.backward()
    np.testing.assert_allclose(leaves["a"].grad.item(), 100.0 + twin_leaves["a"].grad.item(), rtol=1e-6)
    last = [s for step in data["backward"] for s in step["sends"] if s and s["tensor"] == data["names"]["a"]][-1]
    assert last["total"]["values"] == pytest.approx([leaves["a"].grad.item()])


@pytest.mark.torch
def test_accumulation_shows_each_contribution_and_their_sum(float64):
    torch = pytest.importorskip("torch")
    loss, leaves = scalar_expression()
    data = page_data(backprop_page(loss, names=leaves))
    into_a = [s for step in data["backward"] for s in step["sends"] if s and s["tensor"] == data["names"]["a"]]
    assert [(s["k"], s["of"]) for s in into_a] == [(1, 2), (2, 2)]
    a, b, c = (torch.tensor(v, requires_grad=True, dtype=torch.float64) for v in VALUES)
    via_add = torch.autograd.grad(((a * b) + a.detach()).tanh() * c, a)[0].item()  # the path through a * b
    via_mul = torch.autograd.grad(((a.detach() * b) + a).tanh() * c, a)[0].item()  # the direct path into +
    assert sorted(s["grad"]["values"][0] for s in into_a) == pytest.approx(sorted([via_add, via_mul]), rel=1e-6)
    assert into_a[1]["total"]["values"][0] == pytest.approx(via_add + via_mul, rel=1e-6)


def test_scalar_nodes_show_the_local_derivative_with_their_numbers():
    loss, leaves = scalar_expression()
    data = page_data(backprop_page(loss, names=leaves))
    mul = next(op for op in data["ops"] if op["op"] == "Mul" and tensor_named(data, "b")["id"] in op["inputs"])
    assert (mul["forward"], mul["backward"]) == ("out = a * b", "da = g * b,  db = g * a.")
    step = next(s for s in data["backward"] if s["node"] == mul["id"])
    g = step["arrive"][0]["values"][0]
    assert step["local"][0] == f"da = g * b = {g:.4g} * (-0.75) = {-0.75 * g:.4g}"
    assert step["local"][1] == f"db = g * a = {g:.4g} * 2 = {2 * g:.4g}"


# ------------------------------------------------------------------ values, names, boxes
def test_recorded_forward_values_and_module_boxes():
    loss, model = lstm_loss()
    data = page_data(backprop_page(loss, model=model))
    assert data["recorded"]
    labels = sorted(box["label"] for box in data["boxes"])
    assert labels == [f"cell (LSTMCell) call {k} of 3" for k in (1, 2, 3)]
    assert tensor_named(data, "cell.weight_hh")["box"] is None  # shared by the three calls: outside
    assert all(t["value"] is not None for t in data["tensors"])
    inside = [op for op in data["ops"] if op["box"] is not None]
    assert {op["op"] for op in inside} >= {"LSTMStep", "Linear"} and all(op["module"] == "cell (LSTMCell)" for op in inside)


def test_a_model_called_at_every_step_gets_a_box_per_call():
    md.manual_seed(0)
    cell = nn.LSTMCell(3, 4)
    with record_forward():
        h = c = md.zeros(1, 4)
        for x in md.eye(3)[:, None, :]:
            h, c = cell(x, (h, c))
    data = page_data(backprop_page(h.sum(), model=cell))
    assert [box["label"] for box in data["boxes"]] == [f"LSTMCell call {k} of 3" for k in (1, 2, 3)]
    assert set(data["names"]) == {"weight_ih", "weight_hh", "bias_ih", "bias_hh"}


def test_without_a_recording_the_page_shows_what_the_graph_keeps():
    loss, model = lstm_loss(record=False)
    page = backprop_page(loss, model=model)
    data = page_data(page)
    assert not data["recorded"] and data["boxes"] == []
    assert tensor_named(data, "cell.weight_ih")["value"]["values"] == pytest.approx(model.cell.weight_ih.numpy().ravel().tolist())
    lstm_outputs = [t for t in data["tensors"] if t["kind"] == "op" and t["shape"] == [1, 4]]
    assert lstm_outputs and all(t["value"] is None for t in lstm_outputs)
    assert "run the forward pass inside md.viz.record_forward()" in page.html


def test_recorded_values_are_the_forward_values():
    x = md.tensor([[1.0, -2.0], [3.0, -4.0]], requires_grad=True)
    with record_forward():
        hidden = F.relu(x * 2)
        loss = hidden.sum()
    data = page_data(backprop_page(loss, names={"x": x, "hidden": hidden}))
    assert tensor_named(data, "hidden")["value"]["values"] == hidden.numpy().ravel().tolist()


def test_record_forward_is_for_this_thread_and_puts_the_profiler_back():
    def profiler(frame, event, arg):
        return None

    sys.setprofile(profiler)
    try:
        with record_forward():
            seen_elsewhere = []
            thread = threading.Thread(target=lambda: seen_elsewhere.append(sys.getprofile()))
            thread.start()
            thread.join()
            assert sys.getprofile() is not profiler
        assert sys.getprofile() is profiler and seen_elsewhere == [None]
    finally:
        sys.setprofile(None)


def test_big_arrays_get_statistics_and_a_heat_map_per_channel():
    rng = np.random.default_rng(0)
    images = rng.standard_normal((2, 3, 48, 10))
    described = describe_array(images)
    assert "values" not in described and described["shape"] == [2, 3, 48, 10]
    assert described["stats"]["max"] == pytest.approx(images.max()) and described["stats"]["norm"] == pytest.approx(np.linalg.norm(images))
    assert [m["label"] for m in described["maps"]] == ["[0, 0]", "[0, 1]", "[0, 2]", "[1, 0]", "[1, 1]", "[1, 2]"]
    first = described["maps"][0]
    blocks = images[0, 0].reshape(24, 2, 10).mean(axis=1)  # 48 rows averaged in pairs down to 24
    cells = np.frombuffer(base64.b64decode(first["cells"]), np.int8).reshape(24, 10)
    np.testing.assert_array_equal(cells, np.round(127 * blocks / np.abs(blocks).max()).astype(np.int8))
    assert describe_array(np.arange(64.0))["values"] == list(range(64))


# ------------------------------------------------------------------ one file, nothing loaded
def test_the_page_is_one_file_that_loads_nothing(tmp_path):
    loss, leaves = scalar_expression()
    page = backprop_page(loss, tmp_path / "page.html", names=leaves)
    text = (tmp_path / "page.html").read_text()
    assert text == page.html and page.path == tmp_path / "page.html"
    assert "default-src 'none'" in text  # the browser refuses any request the page might make
    assert not re.search(r"<(script|img|iframe|link)[^>]*\s(src|href)=", text)
    assert "@import" not in text and "sourceMappingURL" not in text
    assert [name.name for name in tmp_path.iterdir()] == ["page.html"]  # no temporary file left


def test_labels_cannot_end_the_script_early():
    x = md.tensor([1.0], requires_grad=True)
    page = backprop_page((x * 2).sum(), names={"</script><b>x": x})
    assert "</script><b>" not in page.html and tensor_named(page_data(page), "</script><b>x")


def test_notebooks_show_the_page_in_an_isolated_frame():
    loss, _ = scalar_expression()
    shown = backprop_page(loss)._repr_html_()
    assert shown.startswith("<iframe srcdoc=") and 'sandbox="allow-scripts"' in shown
    assert "&lt;!DOCTYPE html&gt;" in shown and "<script" not in shown


def test_a_small_cnn_page_is_under_two_megabytes(tmp_path):
    md.manual_seed(0)
    model = md.models.cnn(image_size=8)  # Conv(32)-ReLU-Pool-Conv(64)-ReLU-Pool-Linear, the documents' CNN
    with record_forward():
        loss = F.cross_entropy(model(md.rand(8, 1, 8, 8)), md.tensor([0, 1, 2, 3, 4, 5, 6, 7]))
    page = backprop_page(loss, tmp_path / "cnn.html", model=model)
    size = (tmp_path / "cnn.html").stat().st_size
    assert 100_000 < size < 2_000_000, size
    conv = tensor_named(page_data(page), "0.weight")
    assert [m["label"] for m in conv["value"]["maps"]] == [f"[{o}, 0]" for o in range(8)]  # filters 0-7
    assert conv["value"]["maps_note"] == "the first 8 of 32 slices [., ., :, :]"


# ------------------------------------------------------------------ bad input
def leaves_untouched(leaves):
    return all(leaf.grad is None for leaf in leaves.values())


def test_an_output_that_does_not_require_grad(tmp_path):
    with pytest.raises(RuntimeError, match=r"backprop_page: the tensor of shape \(2,\) does not require grad"):
        backprop_page(md.tensor([1.0, 2.0]) * 2, tmp_path / "page.html")
    assert not (tmp_path / "page.html").exists()


def test_a_non_scalar_output_needs_a_gradient(tmp_path):
    x = md.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"backprop_page: grad can be implicitly created only for scalar outputs, got shape \(2,\)"):
        backprop_page(x * 3, tmp_path / "page.html")
    with pytest.raises(ValueError, match=r"backprop_page: gradient must have the tensor's shape \(2,\), got \(3,\)"):
        backprop_page(x * 3, tmp_path / "page.html", gradient=np.ones(3))
    assert x.grad is None and not (tmp_path / "page.html").exists()
    backprop_page(x * 3, gradient=np.array([1.0, 2.0]))
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 6.0])


def test_a_leaf_output_has_nothing_to_show():
    x = md.tensor(1.0, requires_grad=True)
    with pytest.raises(ValueError, match=r"backprop_page: the output \(shape \(\)\) is a leaf"):
        backprop_page(x)
    assert x.grad is None


def test_a_path_in_a_missing_folder(tmp_path):
    loss, leaves = scalar_expression()
    with pytest.raises(FileNotFoundError, match="backprop_page: the folder .*missing for page.html does not exist"):
        backprop_page(loss, tmp_path / "missing" / "page.html", names=leaves)
    assert leaves_untouched(leaves) and not (tmp_path / "missing").exists()


def test_a_name_for_a_tensor_outside_the_graph():
    loss, leaves = scalar_expression()
    with pytest.raises(ValueError, match=r"backprop_page: names\['d'\] \(shape \(\)\) is not in the graph"):
        backprop_page(loss, names={**leaves, "d": md.tensor(1.0, requires_grad=True)})
    assert leaves_untouched(leaves)


def test_a_graph_too_large_says_what_was_folded(monkeypatch, tmp_path):
    monkeypatch.setattr(backprop_trace, "MAX_BOXES", 5)
    loss, model = lstm_loss()
    with pytest.raises(backprop_trace.GraphTooLarge, match=r"has \d+ ops, 6 leaves and \d+ constants; folding 3 Module calls \(\d+ ops\) into boxes leaves \d+, more than the 5"):
        backprop_page(loss, tmp_path / "page.html", model=model)
    unrecorded, _ = lstm_loss(record=False)
    with pytest.raises(backprop_trace.GraphTooLarge, match=r"nothing was folded .*run it inside md.viz.record_forward\(\)"):
        backprop_page(unrecorded, model=model)
    assert all(p.grad is None for p in model.parameters()) and not (tmp_path / "page.html").exists()


def test_a_failed_write_keeps_the_old_file(monkeypatch, tmp_path):
    target = tmp_path / "page.html"
    target.write_text("the previous page")
    loss, _ = scalar_expression()

    def disk_full(*args):
        raise OSError("No space left on device")

    page_module = sys.modules["minidl.viz.backprop_page"]  # md.viz.backprop_page is the function
    monkeypatch.setattr(page_module.os, "replace", disk_full)
    with pytest.raises(OSError, match="No space left"):
        backprop_page(loss, target)
    assert target.read_text() == "the previous page" and [p.name for p in tmp_path.iterdir()] == ["page.html"]


# ------------------------------------------------------------------ the command line
def test_python_m_minidl_explain_writes_the_first_steps_page(tmp_path, capsys):
    from minidl.__main__ import main

    assert main(["explain", "--out", str(tmp_path / "mlp.html")]) == 0
    assert "wrote" in capsys.readouterr().out
    data = json.loads(re.search(r"const BACKPROP_DATA = (.*?);\n</script>", (tmp_path / "mlp.html").read_text(), re.S).group(1))
    assert set(data["names"]) == {"1.weight", "1.bias", "3.weight", "3.bias"}
    assert data["recorded"] and {op["module"] for op in data["ops"]} >= {"1 (Linear)", "2 (ReLU)", "3 (Linear)"}
    assert main(["explain", "--out", str(tmp_path / "missing" / "mlp.html")]) == 1
    assert "error: backprop_page: the folder" in capsys.readouterr().err
