"""Reading Keras's dataset files without ever running code from them.

Keras stores IMDB's reviews (lists of different lengths) as NumPy object arrays and CIFAR's
batches as Python pickles.  Unpickling can call any function a file names, so a tampered download
could run code; ``np.load(allow_pickle=True)``, which Keras itself used for years, trusts it.
Here a pickle may only rebuild NumPy arrays: plain data (dicts, lists, bytes, strings, numbers)
needs no functions at all, and the only functions allowed are the three NumPy uses to rebuild an
array.  Any other (``os.system``, ``builtins.eval``...) raises ``DataError`` naming the file.
"""
import io
import pickle
import zipfile

import numpy as np

from minidl.data.datasets import DataError

KERAS_DATASETS = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"  # where Keras keeps its files

_reconstruct = np.empty(0).__reduce__()[0]  # NumPy's array rebuilder, wherever this NumPy version keeps it
ALLOWED = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,  # as written by NumPy 1.x
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,  # as written by NumPy 2.x
}


class ArraysOnlyUnpickler(pickle.Unpickler):
    """An unpickler that builds plain data and NumPy arrays and refuses every other global."""

    def find_class(self, module, name):
        if (module, name) not in ALLOWED:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which is not a NumPy array part")
        return ALLOWED[(module, name)]


def load_pickle(file, where, encoding="ASCII"):
    """The object pickled in the open binary ``file``; DataError naming ``where`` if it asks for
    anything but plain data and NumPy arrays (``encoding="bytes"`` reads Python 2 pickles)."""
    try:
        return ArraysOnlyUnpickler(file, encoding=encoding).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as err:
        raise DataError(f"{where}: refusing to unpickle it ({err}); the file is corrupt or was tampered with") from err


def load_npz(path, names):
    """The arrays ``names`` of the ``.npz`` file ``path``, as a dict.  Number arrays are read with
    pickling off; object arrays (IMDB's lists) through ``ArraysOnlyUnpickler``."""
    try:
        with zipfile.ZipFile(path) as archive:
            missing = [name for name in names if f"{name}.npy" not in archive.namelist()]
            if missing:
                raise DataError(f"{path}: expected arrays {', '.join(names)}; missing {', '.join(missing)}")
            return {name: _read_npy(io.BytesIO(archive.read(f"{name}.npy")), f"{path}:{name}") for name in names}
    except zipfile.BadZipFile as err:
        raise DataError(f"{path}: not a valid .npz (zip) file ({err})") from err


def _read_npy(file, where):
    """One ``.npy`` member: its header (format version, shape, dtype), then the data."""
    version = np.lib.format.read_magic(file)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read_header(file)
    if not dtype.hasobject:
        file.seek(0)
        return np.lib.format.read_array(file, allow_pickle=False)
    array = load_pickle(file, where)
    if not isinstance(array, np.ndarray) or array.shape != shape:
        raise DataError(f"{where}: its header promises an array of shape {shape}; the data is {type(array).__name__}")
    return array
