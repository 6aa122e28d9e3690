"""Every attribute minidl reads from its array module exists in CuPy.

The code is written once against ``xp`` (numpy or cupy), so a NumPy-only name (``xp.errstate``)
passes every CPU test and fails at once on a GPU.  We parse ``minidl/`` and ``kernels/`` and
collect the attribute chains read from ``xp``, ``cupy``, ``cupyx``, ``<tensor>.xp`` and from the
array module functions (``backend.get_array_module(...).abs``); each chain must be one of
CuPy's public names (the installed CuPy's, else the list kept in ``minidl/fake_cupy``).
Names reached only through ``getattr(xp, name)`` are not seen here; the stand-in's own
process (tests/test_fake_cuda_process.py) catches those at run time.
"""
import ast
import collections
import functools
from pathlib import Path

import pytest

from minidl.fake_cupy import names

ROOT = Path(__file__).resolve().parents[1]
ARRAY_MODULE_NAMES = {"xp": "cupy", "cupy": "cupy", "cupyx": "cupyx"}
ARRAY_MODULE_FUNCTIONS = {"get_array_module", "array_module_for", "_import_cupy"}


def chain_root(node):
    """``cupy`` or ``cupyx`` when ``node`` stands for that module, else None."""
    if isinstance(node, ast.Name):
        return ARRAY_MODULE_NAMES.get(node.id)
    if isinstance(node, ast.Attribute) and node.attr == "xp":
        return "cupy"
    if isinstance(node, ast.Call):
        function = node.func
        name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
        return "cupy" if name in ARRAY_MODULE_FUNCTIONS else None
    return None


def attribute_chains(tree):
    """(dotted name, line) of each outermost attribute chain read from an array module."""
    inner = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or id(node) in inner:
            continue
        parts, base = [], node
        while isinstance(base, ast.Attribute) and chain_root(base) is None:
            parts.append(base.attr)
            base = base.value
        root = chain_root(base)
        if root is not None and parts:
            yield ".".join([root, *reversed(parts)]), node.lineno


def names_read_by_minidl():
    """{dotted CuPy name: ["file:line", ...]} over minidl/ and kernels/."""
    uses = collections.defaultdict(list)
    for path in sorted([*ROOT.glob("minidl/**/*.py"), *ROOT.glob("kernels/**/*.py")]):
        if "fake_cupy" in path.parts:  # the stand-in itself, not a reader of CuPy
            continue
        for name, line in attribute_chains(ast.parse(path.read_text(), str(path))):
            uses[name].append(f"{path.relative_to(ROOT)}:{line}")
    return dict(uses)


USES = names_read_by_minidl()


def test_the_scan_finds_the_array_module_reads():
    """The parser sees the three ways code reaches the array module (guards against a scan that
    finds nothing and so passes)."""
    assert {"cupy.where", "cupy.add.at", "cupy.cuda.Device", "cupyx.scipy.special.erf"} <= set(USES)


@functools.cache
def cupy_names_and_namespaces():
    """CuPy's names and the namespaces that hold them ("cupyx.scipy" for "cupyx.scipy.special.erf")."""
    listed = names.cupy_names()
    return listed | {name.rsplit(".", k)[0] for name in listed for k in range(1, name.count("."))}


@pytest.mark.parametrize("name", sorted(USES))
def test_cupy_has(name):
    if name not in cupy_names_and_namespaces():
        where = ", ".join(USES[name])
        pytest.fail(f"{name} does not exist in CuPy; read at {where}")


def test_the_kept_list_matches_the_installed_cupy():
    """The list used where CuPy is not installed is the installed CuPy's (regenerate it with
    ``names.write_list_file()`` after an upgrade)."""
    try:
        installed = names.names_from_installed_cupy()
    except ImportError:
        pytest.skip("CuPy is not installed here: the kept list is used as it is")
    assert names.names_from_list_file() == installed
