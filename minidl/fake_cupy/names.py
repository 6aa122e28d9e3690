"""The public names of CuPy that the stand-in may expose, as dotted paths ("cupy.abs",
"cupy.ndarray.sum", "cupyx.scipy.special.erf").

They are read from the installed ``cupy`` where it imports (it does on machines without a GPU),
else from ``cupy_names.txt`` beside this file, written from CuPy 14.2 by ``write_list_file()``.
"""
import functools
import importlib
from pathlib import Path

LIST_FILE = Path(__file__).with_name("cupy_names.txt")

# (module, attribute path inside it): the namespaces whose names are listed
NAMESPACES = (
    ("cupy", ""),
    ("cupy", "ndarray"),
    ("cupy", "ufunc"),
    ("cupy", "random"),
    ("cupy", "linalg"),
    ("cupy", "cuda"),
    ("cupy", "cuda.Device"),
    ("cupy", "cuda.Stream"),
    ("cupy", "cuda.runtime"),
    ("cupyx", ""),
    ("cupyx", "scipy.special"),
)


def _names_in(root, path):
    """Dotted names of the public attributes of ``root.path`` (dunders of classes included:
    they are the operators)."""
    namespace = functools.reduce(getattr, filter(None, path.split(".")), importlib.import_module(root))
    prefix = ".".join(filter(None, (root, path)))
    keep_dunders = isinstance(namespace, type)
    return {
        f"{prefix}.{name}" for name in dir(namespace)
        if not name.startswith("_") or (keep_dunders and name.startswith("__"))
    }


def _ufunc_methods(cupy):
    """``cupy.add.at``, ``cupy.add.reduce``, ...: the methods of every top-level ufunc."""
    methods = [m for m in dir(cupy.ufunc) if not m.startswith("_") and callable(getattr(cupy.ufunc, m))]
    ufuncs = [name for name in dir(cupy) if isinstance(getattr(cupy, name), cupy.ufunc)]
    return {f"cupy.{name}.{method}" for name in ufuncs for method in methods}


def names_from_installed_cupy():
    """The names read from the installed CuPy (ImportError when it is not installed)."""
    importlib.import_module("cupyx.scipy.special")
    listed = (_names_in(root, path) for root, path in NAMESPACES)
    return frozenset().union(*listed, _ufunc_methods(importlib.import_module("cupy")))


def names_from_list_file():
    return frozenset(LIST_FILE.read_text().split())


@functools.cache
def cupy_names():
    """CuPy's public names: from the installed CuPy, else from the kept list."""
    try:
        return names_from_installed_cupy()
    except ImportError:
        return names_from_list_file()


def write_list_file():
    """Write the installed CuPy's names to ``cupy_names.txt`` (after a CuPy upgrade)."""
    LIST_FILE.write_text("\n".join(sorted(names_from_installed_cupy())) + "\n")
