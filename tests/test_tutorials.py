"""Every numbered tutorial runs as a script in fast mode, writes the figures it names, and is
in Jupytext "percent" format.

A tutorial promises a figure by naming its file as a string literal ending in ``.png``; it
saves its figures into the directory given by ``MINIDL_FIGURES``.
"""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = sorted((ROOT / "tutorials").glob("[0-9][0-9]_*.py"))
FIGURE_NAME = re.compile(r"""["']([\w.-]+\.png)["']""")


def test_tutorials_exist():
    assert TUTORIALS, "no tutorials/NN_topic.py found"


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_is_jupytext_percent(path):
    lines = path.read_text().splitlines()
    assert any(line == "# %% [markdown]" for line in lines), f"{path.name}: no markdown cell"
    assert any(line == "# %%" for line in lines), f"{path.name}: no code cell"


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_runs(path, tmp_path, repo_env):
    env = dict(repo_env, MINIDL_FAST="1", MPLBACKEND="Agg", MINIDL_FIGURES=str(tmp_path),
               MINIDL_MOVIE_REVIEWS=str(ROOT.parent / "shared" / "data" / "text" / "mr"))
    result = subprocess.run(
        [sys.executable, str(path)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"{path.name} failed:\n{result.stderr}"
    for name in FIGURE_NAME.findall(path.read_text()):
        assert (tmp_path / name).is_file(), f"{path.name} did not write the figure {name}"


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_reads_its_device_from_minidl_device(path):
    """``MINIDL_DEVICE=cuda`` runs a tutorial on a GPU; the GPU self-check (benchmarks/gpu_selfcheck.py,
    run on the CuPy stand-in by tests/test_fake_cuda_process.py) runs every tutorial that way."""
    assert 'os.environ.get("MINIDL_DEVICE", "cpu")' in path.read_text(), f"{path.name}: no MINIDL_DEVICE"


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_does_not_read_its_script_path(path):
    """A Jupyter kernel has no ``__file__``: a tutorial that reads it fails in its first cell."""
    assert "__file__" not in path.read_text(), f"{path.name} reads __file__"
