"""Every numbered tutorial runs in fast mode as a script and as a notebook, ships as an .ipynb that
matches its script, and shows what it claims by its numbers.

A tutorial promises a figure (or a backprop page) by naming its file as a string literal ending in
``.png`` (``.html``); as a script it saves them into ``MINIDL_FIGURES`` (through ``md.viz.show``),
as a notebook it shows them inline.  The claims a tutorial prints are read back from its output by ``CLAIMS`` below.
"""
import math
import re
from pathlib import Path

import pytest
from conftest import tutorial_env

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = sorted((ROOT / "tutorials").glob("[0-9][0-9]_*.py"))
FIGURE_NAME = re.compile(r"""["']([\w.-]+\.(?:png|html))["']""")


def test_tutorials_exist():
    assert TUTORIALS, "no tutorials/NN_topic.py found"


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_is_jupytext_percent(path):
    lines = path.read_text().splitlines()
    assert any(line == "# %% [markdown]" for line in lines), f"{path.name}: no markdown cell"
    assert any(line == "# %%" for line in lines), f"{path.name}: no code cell"


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_runs_as_a_script(path, tutorial_runs):
    result, figures = tutorial_runs(path)
    assert result.returncode == 0, f"{path.name} failed:\n{result.stderr}"
    for name in FIGURE_NAME.findall(path.read_text()):
        assert (figures / name).is_file(), f"{path.name} did not write the figure {name}"


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_reads_its_device_from_minidl_device(path):
    """``MINIDL_DEVICE=cuda`` runs a tutorial on a GPU; the GPU self-check (benchmarks/gpu_selfcheck.py,
    run on the CuPy stand-in by tests/test_fake_cuda_process.py) runs every tutorial that way."""
    assert 'os.environ.get("MINIDL_DEVICE", "cpu")' in path.read_text(), f"{path.name}: no MINIDL_DEVICE"


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_does_not_read_its_script_path_or_choose_a_backend(path):
    """A Jupyter kernel has no ``__file__``, and ``matplotlib.use("Agg")`` would hide every inline figure."""
    text = path.read_text()
    assert "__file__" not in text, f"{path.name} reads __file__"
    assert "matplotlib.use(" not in text, f"{path.name} sets matplotlib's backend"


# ---------------------------------------------------------------- the notebooks
@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_the_shipped_notebook_matches_its_script(path):
    jupytext = pytest.importorskip("jupytext", reason="jupytext is a test dependency (pip install -e '.[test]')")
    notebook_path = path.with_suffix(".ipynb")
    regenerate = f"regenerate it with `jupytext --to ipynb {path.relative_to(ROOT)}`"
    assert notebook_path.is_file(), f"{notebook_path.name} is missing: {regenerate}"
    cells = lambda notebook: [(cell.cell_type, cell.source) for cell in notebook.cells]  # noqa: E731
    shipped = jupytext.read(notebook_path)
    assert cells(shipped) == cells(jupytext.read(path)), f"{notebook_path.name} is out of date: {regenerate}"
    assert not any(cell.get("outputs") for cell in shipped.cells), f"{notebook_path.name} ships outputs: {regenerate}"


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_runs_as_a_notebook_with_inline_figures(path, tmp_path, monkeypatch, repo_env):
    """What a teacher sees in Jupyter: every cell runs, and the figures appear inline (image/png)."""
    jupytext = pytest.importorskip("jupytext", reason="jupytext is a test dependency (pip install -e '.[test]')")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is a test dependency (pip install -e '.[test]')")
    pytest.importorskip("ipykernel", reason="ipykernel is a test dependency (pip install -e '.[test]')")
    for name, value in dict(tutorial_env(tmp_path), PYTHONPATH=repo_env["PYTHONPATH"]).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MPLBACKEND")  # the kernel's own inline backend, as in Jupyter
    notebook = jupytext.read(path.with_suffix(".ipynb"))
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})  # fmt: skip
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on any error
    images = [output for cell in notebook.cells for output in cell.get("outputs", [])
              if "image/png" in output.get("data", {})]  # fmt: skip
    if FIGURE_NAME.search(path.read_text()):
        assert images, f"{path.name} draws figures but showed none inline"
    saved = list(tmp_path.glob("*.png")) + list(tmp_path.glob("*.html"))
    assert not saved, f"{path.name} saved {saved} instead of showing them inline"


# ---------------------------------------------------------------- what the tutorials claim, by their numbers
def _number(pattern, output, what):
    match = re.search(pattern, output)
    assert match, f"{what}: the tutorial did not print a line matching {pattern!r}"
    return [float(group) for group in match.groups()]


CLAIMS = {  # tutorial: [(what is claimed, pattern of the printed line, test of its numbers)]
    "01_autograd": [
        ("the central-difference error falls like eps^2 until rounding takes over",
         r"finite-difference error slope: ([-+\d.eE]+)", lambda slope: 1.8 <= slope <= 2.2),
    ],
    "02_neuron_to_classifier": [
        ("the hand-derived gradient of the mean squared error is backward()'s",
         r"dL/dw: by hand ([-+\d.eE]+)\s+backward\(\) ([-+\d.eE]+)", lambda hand, auto: abs(hand - auto) < 1e-5),
        ("(softmax - onehot) / N is the gradient of F.cross_entropy",
         r"\(softmax - onehot\) / N differs from backward\(\) by ([-+\d.eE]+)", lambda difference: difference < 1e-6),
        ("the naive softmax overflows on logits near 1000, log-softmax does not",
         r"cross-entropy with target 2: naive (inf|nan), log-softmax ([-+\d.eE]+)",
         lambda naive, stable: not math.isfinite(naive) and abs(stable - 1000.3133) < 1e-3),
        ("the initial loss is about ln 10",
         r"initial loss: ([-+\d.eE]+) \(ln 10 = ([-+\d.eE]+)\)", lambda loss, ln10: abs(loss - ln10) < 0.15),
        ("20 examples are learned by heart",
         r"overfitting 20 examples: training accuracy ([-+\d.eE]+)%", lambda accuracy: accuracy == 100),
        ("the MLP classifies the digits",
         r"test accuracy after ([-+\d.eE]+) epochs: ([-+\d.eE]+)%", lambda epochs, accuracy: accuracy > 85),
    ],
    "03_optimizers": [
        ("SGD converges just below the stability limit lr = 2/L and diverges just above it",
         r"distance to the minimum x ([-+\d.eE]+) at 0\.9x the stability limit, x ([-+\d.eE]+) at 1\.1x",
         lambda below, above: below < 1 < above),
        ("momentum's terminal velocity on a constant slope is lr*g/(1-beta)",
         r"terminal velocity: measured ([-+\d.eE]+), predicted ([-+\d.eE]+)", lambda measured, predicted: abs(measured / predicted - 1) < 0.01),
    ],
    "05_lstm": [
        ("the gradient through a tanh RNN vanishes with distance, through an LSTM much less",
         r"gradient norm at distance ([-+\d.eE]+): tanh RNN ([-+\d.eE]+), LSTM ([-+\d.eE]+)", lambda distance, rnn, lstm: distance >= 10 and lstm > 10 * rnn),
        ("the fused LSTM step passes gradcheck in float64",
         r"gradcheck of the fused LSTM step \(float64\): max error ([-+\d.eE]+)", lambda error: error < 1e-6),
    ],
    "06_training_and_tuning": [
        ("early stopping fires and restores an epoch before the last",
         r"early stopping restored epoch ([-+\d.eE]+) of ([-+\d.eE]+)", lambda best, last: best < last),
        ("the validation set separates the search's trials (no ties)",
         r"search: ([-+\d.eE]+) trials, ([-+\d.eE]+) distinct validation scores", lambda trials, distinct: trials >= 4 and distinct == trials),
    ],
    "07_compression": [
        ("fewer bits, larger quantization error",
         r"quantization error \(mean \|w - dequantized\|\): 8 bits ([-+\d.eE]+), 4 bits ([-+\d.eE]+)", lambda eight, four: four > eight > 0),
    ],
    "08_normalization_and_resnets": [
        ("batch norm makes the deep MLP trainable",
         r"after ([-+\d.eE]+) epochs: training loss without BatchNorm ([-+\d.eE]+), with BatchNorm ([-+\d.eE]+)",
         lambda epochs, without, with_bn: without > 2.2 and with_bn < 0.5 * without),
        ("with shortcuts the gradient keeps its size across depth",
         r"gradient norm spread over the layers at depth 56: plain ([-+\d.eE]+)x, residual ([-+\d.eE]+)x",
         lambda plain, residual: plain > 20 * residual),
        ("the residual network trains faster than its plain twin",
         r"after ([-+\d.eE]+) epochs at depth 20: training loss plain ([-+\d.eE]+), residual ([-+\d.eE]+)", lambda epochs, plain, residual: residual < plain),
    ],
    "09_attention": [
        ("a two-layer Transformer learns to reverse digit sequences in a few hundred steps",
         r"reversal: sequence accuracy ([-+\d.eE]+) after ([-+\d.eE]+) steps", lambda accuracy, steps: accuracy >= 0.95 and steps <= 600),
    ],
    "10_initialization": [
        ("He keeps the ReLU net's activation std near layer 1's (about 0.84) over 10 layers; naive N(0, 0.01^2) "
         "collapses it by 100x or more; Xavier loses sqrt(2) per layer",
         r"activation std at layer 10: naive ([-+\d.eE]+), xavier ([-+\d.eE]+), he ([-+\d.eE]+)",
         lambda naive, xavier, he: 0.28 < he < 2.5 and naive < he / 100 and naive < xavier < he),
    ],
    "11_transfer_learning": [
        ("with the fewest labels, the frozen pre-trained CNN with a new head beats the same CNN trained from scratch",
         r"with (\d+) labels per class: fine-tuned ([-+\d.eE]+), from scratch ([-+\d.eE]+)", lambda n, tuned, scratch: tuned > scratch),
    ],
    "12_higher_order": [
        ("f'' by a recorded backward pass agrees with central differences of f'",
         r"f'' against central differences of f': max error ([-+\d.eE]+)", lambda error: error < 1e-6),
        ("Newton's method, on second derivatives from autograd, converges to machine precision",
         r"Newton's method: \|f'\(x\)\| after 6 steps ([-+\d.eE]+)", lambda slope: slope < 1e-12),
        ("a Hessian-vector product equals the full Hessian times the vector",
         r"hvp against hessian @ v: max difference ([-+\d.eE]+)", lambda difference: difference < 1e-12),
    ],
}  # fmt: skip


@pytest.mark.parametrize("path", [p for p in TUTORIALS if p.stem in CLAIMS], ids=lambda p: p.name)
def test_tutorial_shows_what_it_claims(path, tutorial_runs):
    result, _ = tutorial_runs(path)
    assert result.returncode == 0, f"{path.name} failed:\n{result.stderr}"
    for what, pattern, holds in CLAIMS[path.stem]:
        numbers = _number(pattern, result.stdout, what)
        assert holds(*numbers), f"{path.name}: {what} does not hold: printed {numbers}"
