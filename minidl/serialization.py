"""``md.save(obj, path)`` and ``md.load(path)``: tensors, arrays and nested containers of them in
one ``.npz`` file, safe to load from anyone because nothing in it is ever executed.

    md.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}, "ckpt.npz")
    checkpoint = md.load("ckpt.npz")
    model.load_state_dict(checkpoint["model"])

What can be saved: Tensors (they come back as CPU Tensors with their dtype and ``requires_grad``),
NumPy (or CuPy) arrays and scalars, Python ``None``/bool/int/float/str, and lists, tuples and dicts
(keys str or int) of these, nested to any depth.  A dict comes back as a plain dict (an
``OrderedDict`` keeps its order, not its type).

The format is an ordinary ``.npz`` archive (what ``np.savez`` writes, readable with ``np.load``):
one array per tensor or array, named after its place in the structure (``obj/model/fc1.weight``),
plus an array ``index``: the UTF-8 bytes of a JSON document describing the structure, the types
and the plain values.  Loading uses ``np.load(..., allow_pickle=False)``, so a file holding
pickled objects is refused instead of run.

Saving writes a temporary file next to ``path``, flushes it to disk and renames it over ``path``
(``os.replace``, atomic): a crash mid-save leaves the previous file as it was.
"""
import json
import os
import re
import zipfile
from pathlib import Path

import numpy as np

from minidl import backend
from minidl.tensor import Tensor

FORMAT, VERSION = "minidl", 1
INDEX = "index"  # the array holding the JSON index
ROOT = "obj"  # the name of the saved object; its arrays are named obj/<key>/<key>...


class SerializationError(ValueError):
    """``md.load`` cannot read a file: truncated, corrupted, or not written by ``md.save``."""


def save(obj, path):
    """Write ``obj`` (see the module docstring for what it may hold) to ``path`` as an ``.npz``
    archive, atomically.  The file is written at ``path`` as given: no suffix is added."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"save: {path} is a directory; give a file name, e.g. {path / 'checkpoint.npz'}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"save: directory {path.parent} does not exist")
    arrays = {}
    index = {"format": FORMAT, "version": VERSION, "root": _pack(obj, ROOT, arrays)}
    arrays[INDEX] = np.frombuffer(json.dumps(index).encode("utf-8"), dtype=np.uint8)
    _write_atomically(path, arrays)


def load(path):
    """Read an object written by ``md.save``.  Raises ``SerializationError`` naming ``path`` when
    the file is not such an archive or is damaged, ``IsADirectoryError`` for a folder (as
    ``torch.load``) and ``FileNotFoundError`` when nothing is there."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"load: {path} is a directory; give the path of a file written by md.save")
    if not path.is_file():
        raise FileNotFoundError(f"load: no file at {path}")
    if not zipfile.is_zipfile(path):
        raise SerializationError(
            f"load: {path} is not an .npz archive written by md.save (truncated, corrupted or another kind of file)"
        )
    try:
        # the file is opened here, not by np.load, so that it is closed even when the zip is unreadable
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as archive:
            return _unpack(_read_index(archive, path), archive)
    except SerializationError:
        raise
    except Exception as err:  # a damaged archive fails in zipfile, numpy or json in many ways: report each the same
        raise SerializationError(f"load: {path} is damaged or not written by md.save: {err}") from err


# ----------------------------------------------------------------------------- save
def _pack(obj, name, arrays):
    """The JSON description of ``obj``; its arrays are added to ``arrays`` under names from ``name``."""
    if isinstance(obj, Tensor):
        return {"type": "tensor", "array": _add_array(arrays, name, obj.numpy()), "requires_grad": obj.requires_grad}
    if isinstance(obj, np.generic):
        return {"type": "scalar", "array": _add_array(arrays, name, np.asarray(obj))}
    if isinstance(obj, np.ndarray) or backend.is_cupy_array(obj):
        return {"type": "ndarray", "array": _add_array(arrays, name, obj if isinstance(obj, np.ndarray) else obj.get())}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"type": "value", "value": obj}
    if isinstance(obj, (list, tuple)):
        items = [_pack(item, f"{name}/{i}", arrays) for i, item in enumerate(obj)]
        return {"type": "tuple" if isinstance(obj, tuple) else "list", "items": items}
    if isinstance(obj, dict):
        for key in obj:
            if not isinstance(key, (str, int)):
                raise TypeError(f"save: dict keys must be str or int, got {type(key).__name__} key {key!r} in {name}")
        return {"type": "dict", "items": [[key, _pack(value, f"{name}/{key}", arrays)] for key, value in obj.items()]}
    raise TypeError(
        f"save: cannot save an object of type {type(obj).__name__} at {name}; expected a Tensor, array, number, "
        "string, None, or a list, tuple or dict of them"
    )


def _add_array(arrays, name, array):
    """Store ``array`` under a unique, file-name-safe version of ``name``; return that name."""
    if array.dtype.hasobject:
        raise TypeError(f"save: {name} is an array of Python objects (dtype {array.dtype}), which only pickle can store")
    safe = re.sub(r"[^\w.\-/]", "_", name)
    unique, copy = safe, 1
    while unique in arrays:
        copy += 1
        unique = f"{safe}~{copy}"
    arrays[unique] = array
    return unique


def _write_atomically(path, arrays):
    """``np.savez`` into a temporary file beside ``path``, then rename it to ``path``."""
    temporary = path.with_name(f".{path.name}.{os.urandom(4).hex()}.tmp")
    try:
        with open(temporary, "xb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())  # the data is on disk before the rename makes it the checkpoint
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


# ----------------------------------------------------------------------------- load
def _read_index(archive, path):
    """The root entry of the JSON index, after checking the archive is one md.save wrote."""
    if INDEX not in archive.files:
        raise SerializationError(
            f"load: {path} is an .npz archive but not one written by md.save (no '{INDEX}' entry); read it with np.load"
        )
    index = json.loads(archive[INDEX].tobytes().decode("utf-8"))
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise SerializationError(f"load: {path} has an '{INDEX}' entry that is not md.save's index")
    if index.get("version") != VERSION:
        raise SerializationError(
            f"load: {path} is in format version {index.get('version')!r}; this minidl reads version {VERSION}"
        )
    return index["root"]


def _unpack(entry, archive):
    """The object described by the index ``entry``, with its arrays read from ``archive``."""
    kind = entry["type"]
    if kind == "value":
        return entry["value"]
    if kind in ("list", "tuple"):
        items = [_unpack(item, archive) for item in entry["items"]]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {key: _unpack(value, archive) for key, value in entry["items"]}
    if kind == "tensor":
        return Tensor(archive[entry["array"]], requires_grad=entry["requires_grad"])
    if kind == "ndarray":
        return archive[entry["array"]]
    if kind == "scalar":
        return archive[entry["array"]][()]
    raise ValueError(f"unknown entry type {kind!r} in the index")
