"""The docs quote real code: every line of a code block that names a file (``# path`` on its first
line) must still be a line of that file, so docs/optimizer_formulas.md cannot go stale."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CODE_BLOCK = re.compile(r"```python\n# (\S+\.py)\n(.*?)```", re.DOTALL)
QUOTING_PAGES = [ROOT / "docs" / "optimizer_formulas.md"]


def missing_quotes(page):
    """(file, line) for every quoted line of ``page`` that its named file no longer contains."""
    missing = []
    for path, body in CODE_BLOCK.findall(page.read_text()):
        source = {line.strip() for line in (ROOT / path).read_text().splitlines()}
        missing += [(path, line.strip()) for line in body.splitlines() if line.strip() and line.strip() not in source]
    return missing


@pytest.mark.parametrize("page", QUOTING_PAGES, ids=lambda p: p.name)
def test_every_quoted_line_is_in_the_named_file(page):
    assert len(CODE_BLOCK.findall(page.read_text())) >= 8, f"{page.name}: expected a quoted block per optimizer"
    assert not missing_quotes(page), f"{page.name} quotes lines that are no longer in the code"


def test_every_optimizer_has_a_section():
    import minidl.optim

    page = (ROOT / "docs" / "optimizer_formulas.md").read_text()
    for name in ["SGD", "Momentum", "RMSprop", "Adam", "AdamW", "Adagrad", "Adadelta"]:
        assert hasattr(minidl.optim, name) and f"## {name}\n" in page, name


def test_a_stale_quote_is_caught(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```python\n# minidl/optim/sgd.py\nw -= group[\"lr\"] * g\nw -= 2 * g\n```\n")
    assert missing_quotes(page) == [("minidl/optim/sgd.py", "w -= 2 * g")]


def test_the_course_names_every_tutorial_and_checkable_exercise():
    from minidl.testing import EXERCISES

    course = (ROOT / "tutorials" / "README.md").read_text()
    for tutorial in sorted((ROOT / "tutorials").glob("[0-9][0-9]_*.py")):
        assert f"`{tutorial.name}`" in course, tutorial.name
    for name in EXERCISES:
        assert f'`"{name}"`' in course, name
