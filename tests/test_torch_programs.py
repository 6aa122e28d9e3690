"""Course programs run twice: with PyTorch, then with minidl in its place.

Each file in ``tests/torch_programs/`` is a short PyTorch program of the kind a course teaches,
written against ``torch`` and nothing else. It makes its data and initial weights with NumPy, so
both runs start from the same numbers, and leaves what it computed in a dict named ``RESULTS``.

This test runs each program's text twice: as written, then with its import lines, and only those,
rewritten from torch to minidl:

    import torch                          ->  import minidl as torch
    import torch.nn as nn                 ->  import minidl.nn as nn
    from torch.utils.data import X        ->  from minidl.utils.data import X

Every other byte of the program is the same. The two ``RESULTS`` must hold the same keys, types,
shapes and dtypes and the same numbers: relative 1e-5 in float32 and 1e-10 in float64, relative to
the largest magnitude of each result (so that a value that is ~0 in both is not held to 1e-5 of
itself). Integers and booleans must be equal. When they agree, a learner's torch code runs on
minidl unchanged and gives torch's numbers.
"""
import re
from pathlib import Path

import numpy as np
import pytest

import minidl

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

PROGRAMS = sorted((Path(__file__).parent / "torch_programs").glob("*.py"))
TORCH_IMPORT_LINE = re.compile(r"^(?:import|from) torch\b.*$", re.MULTILINE)
RTOL = {np.dtype("float32"): 1e-5, np.dtype("float64"): 1e-10}


def import_minidl_instead(line):
    """``import torch`` -> ``import minidl as torch``; otherwise the package name ``torch`` -> ``minidl``."""
    if line == "import torch":
        return "import minidl as torch"
    return line.replace("torch", "minidl", 1)


def with_minidl_imports(source):
    """The program with each line that imports from torch rewritten, the other lines untouched."""
    return TORCH_IMPORT_LINE.sub(lambda match: import_minidl_instead(match.group(0)), source)


def run_program(source, path):
    """Execute a program in a fresh namespace and return its RESULTS.
    Compiled under the file's own name, so a traceback points at the program's line."""
    namespace = {"__name__": "__main__", "__file__": str(path)}
    exec(compile(source, str(path), "exec"), namespace)
    return namespace["RESULTS"]


@pytest.fixture
def restore_default_dtypes():
    """A program may call ``torch.set_default_dtype``: put both libraries' defaults back after it."""
    torch_default, minidl_default = torch.get_default_dtype(), minidl.get_default_dtype()
    yield
    torch.set_default_dtype(torch_default)
    minidl.set_default_dtype(minidl_default)


def assert_same_result(name, mine, theirs, default_rtol):
    """One entry of RESULTS: same type, shape and dtype, and the same numbers within tolerance."""
    assert type(mine) is type(theirs), f"{name}: minidl gives {type(mine).__name__}, torch {type(theirs).__name__}"
    actual, expected = np.asarray(mine), np.asarray(theirs)
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape}, torch {expected.shape}"
    if isinstance(theirs, np.ndarray):
        assert actual.dtype == expected.dtype, f"{name}: dtype {actual.dtype}, torch {expected.dtype}"
    if expected.dtype.kind != "f":
        np.testing.assert_array_equal(actual, expected, err_msg=name)
        return
    rtol = RTOL[expected.dtype] if isinstance(theirs, np.ndarray) else default_rtol
    scale = np.abs(expected).max(initial=0.0)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, err_msg=name)


@pytest.mark.parametrize("path", PROGRAMS, ids=[path.name for path in PROGRAMS])
def test_program_gives_torchs_numbers_on_minidl(path, restore_default_dtypes):
    source = path.read_text()
    minidl_source = with_minidl_imports(source)
    assert not TORCH_IMPORT_LINE.search(minidl_source), "an import line still names torch"

    theirs = run_program(source, path)
    # Python numbers (from .item(), in lists) are held to the tolerance of the dtype torch computed in
    default_rtol = RTOL[np.dtype(str(torch.get_default_dtype()).removeprefix("torch."))]
    mine = run_program(minidl_source, path)

    assert mine.keys() == theirs.keys()
    for name in theirs:
        assert_same_result(name, mine[name], theirs[name], default_rtol)


def test_only_the_import_lines_change():
    source = (
        "import numpy as np\nimport torch\nimport torch.nn as nn\n"
        "from torch.utils.data import DataLoader\nx = torch.ones(2)\n"
    )
    assert with_minidl_imports(source) == (
        "import numpy as np\nimport minidl as torch\nimport minidl.nn as nn\n"
        "from minidl.utils.data import DataLoader\nx = torch.ones(2)\n"
    )
    assert len(PROGRAMS) >= 15


def test_the_comparison_catches_a_wrong_number_dtype_or_type():
    expected = np.array([1.0, 2.0], dtype=np.float32)
    assert_same_result("same", expected * (1 + 1e-6), expected, 1e-5)
    with pytest.raises(AssertionError, match="wrong_number"):
        assert_same_result("wrong_number", expected * (1 + 1e-4), expected, 1e-5)
    with pytest.raises(AssertionError, match="dtype float64, torch float32"):
        assert_same_result("wrong_dtype", expected.astype(np.float64), expected, 1e-5)
    with pytest.raises(AssertionError, match="minidl gives float32, torch float"):
        assert_same_result("wrong_type", np.float32(1.0), 1.0, 1e-5)
    with pytest.raises(AssertionError, match="wrong_index"):
        assert_same_result("wrong_index", [0, 2], [0, 1], 1e-5)
