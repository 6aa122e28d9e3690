"""md.viz.show: a figure appears inline in a notebook (once) and is saved anywhere else; minidl
never chooses matplotlib's backend."""
import subprocess
import sys

import pytest
from matplotlib.figure import Figure

import minidl as md

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def small_figure():
    fig = Figure(figsize=(2, 2))
    fig.subplots().plot([0, 1], [1, 0])
    return fig


def test_outside_a_notebook_show_saves_into_the_given_directory(tmp_path, capsys):
    path = md.viz.show(small_figure(), "line.png", directory=tmp_path / "made")
    assert path == tmp_path / "made" / "line.png" and path.read_bytes()[:8] == PNG_SIGNATURE
    assert capsys.readouterr().out == f"saved {path}\n"


def test_show_saves_into_minidl_figures_and_takes_png_bytes(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDL_FIGURES", str(tmp_path))
    x = md.tensor(2.0, requires_grad=True)
    path = md.viz.show(md.viz.draw_graph(md.tanh(x * x)), "graph.png")
    assert path == tmp_path / "graph.png" and path.read_bytes()[:8] == PNG_SIGNATURE


def test_every_plot_function_returns_its_figure_without_a_path():
    history = md.train.History()
    history.append(1, {"loss": 1.0, "lr": 0.1})
    assert isinstance(md.viz.plot_history(history), Figure)
    assert isinstance(md.viz.plot_lr(history), Figure)
    assert isinstance(md.viz.plot_confusion_matrix([[3, 1], [0, 4]]), Figure)
    assert isinstance(md.viz.plot_filters(md.nn.Conv2d(1, 4, 3).weight), Figure)
    assert isinstance(md.viz.plot_feature_maps(md.zeros(3, 5, 5)), Figure)


def test_importing_minidl_leaves_matplotlibs_backend_alone(repo_env):
    code = "import minidl, minidl.viz, matplotlib; print(matplotlib.get_backend())"
    result = subprocess.run([sys.executable, "-c", code], env=dict(repo_env, MPLBACKEND="svg"),
                            capture_output=True, text=True, check=True)  # fmt: skip
    assert result.stdout.strip() == "svg"


@pytest.mark.slow
def test_in_a_notebook_show_displays_the_figure_inline_once(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="nbformat comes with nbclient, a test dependency")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is a test dependency (pip install -e '.[test]')")
    pytest.importorskip("ipykernel", reason="ipykernel is a test dependency (pip install -e '.[test]')")
    monkeypatch.delenv("MPLBACKEND", raising=False)
    monkeypatch.setenv("MINIDL_FIGURES", str(tmp_path))
    code = ("import matplotlib.pyplot as plt\nimport minidl as md\n"
            "fig, ax = plt.subplots()\nax.plot([0, 1])\nmd.viz.show(fig, 'inline.png')")  # fmt: skip
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    outputs = notebook.cells[0].outputs
    images = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(images) == 1, f"expected one inline figure, got outputs {outputs}"
    assert not list(tmp_path.iterdir()), "in a notebook nothing is written"
