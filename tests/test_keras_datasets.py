"""md.keras.utils.get_file and md.keras.datasets, against files served from 127.0.0.1.

Every file is written here in Keras's format and served by a local HTTP server; the loaders'
origins and hashes are pointed at it, and any attempt to reach another host fails the test.
"""
import gzip
import hashlib
import io
import json
import os
import pickle
import socket
import tarfile
import threading
import urllib.parse
import urllib.request
import zipfile
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

import minidl as md
from minidl.data import DataError
from minidl.keras.datasets import cifar10, fashion_mnist, imdb, mnist
from minidl.keras.downloads import DownloadError

MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.files[path]``, counting requests; ``server.claimed[path]`` overrides the
    Content-Length, so a larger number makes a transfer that stops early."""

    def do_GET(self):
        self.server.hits[self.path] += 1
        body = self.server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(self.server.claimed.get(self.path, len(body))))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.hits, httpd.claimed = {}, Counter(), {}
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}/"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def serve(server, name, body):
    server.files[f"/{name}"] = body
    return server.base + name


@pytest.fixture(autouse=True)
def keras_home(tmp_path, monkeypatch):
    """A fresh KERAS_HOME per test, and no host but 127.0.0.1 reachable."""
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    real_urlopen = urllib.request.urlopen

    def local_urlopen(url, *args, **kwargs):
        assert urllib.parse.urlsplit(url).hostname == "127.0.0.1", f"a test tried to reach {url}"
        return real_urlopen(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", local_urlopen)
    return home


def cache_listing(home):
    """Every file and folder under the cache, hidden ones (temporary files) included."""
    return sorted(str(p.relative_to(home)) for p in home.rglob("*")) if home.exists() else []


# get_file ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["sha256", "md5"])
def test_get_file_downloads_once_into_keras_home(server, keras_home, algorithm):
    body = os.urandom(200_000)
    url = serve(server, "data.bin", body)
    file_hash = hashlib.new(algorithm, body).hexdigest()
    path = md.keras.utils.get_file("data.bin", url, file_hash=file_hash)
    assert path == str(keras_home / "datasets" / "data.bin")
    assert Path(path).read_bytes() == body
    assert md.keras.utils.get_file("data.bin", url, file_hash=file_hash) == path
    assert server.hits["/data.bin"] == 1  # the second call found it in the cache
    md.keras.utils.get_file("data.bin", url, file_hash=file_hash, force_download=True)
    assert server.hits["/data.bin"] == 2
    assert cache_listing(keras_home) == ["datasets", "datasets/data.bin"]


def test_get_file_cache_dir_subdir_and_name_from_url(server, tmp_path):
    url = serve(server, "notes.txt", b"hello")
    path = md.keras.utils.get_file(origin=url, cache_dir=str(tmp_path / "elsewhere"), cache_subdir="texts")
    assert path == str(tmp_path / "elsewhere" / "texts" / "notes.txt")
    assert Path(path).read_bytes() == b"hello"


def test_get_file_hash_mismatch_raises_and_leaves_nothing(server, keras_home):
    url = serve(server, "data.bin", b"corrupted bytes")
    with pytest.raises(ValueError, match=r"get_file: .*data\.bin.*sha256 hash is .*expected " + "0" * 64):
        md.keras.utils.get_file("data.bin", url, file_hash="0" * 64)
    assert cache_listing(keras_home) == ["datasets"]


def test_get_file_downloads_again_a_cached_file_that_fails_its_hash(server, keras_home):
    url = serve(server, "data.bin", b"the real content")
    (keras_home / "datasets").mkdir(parents=True)
    (keras_home / "datasets" / "data.bin").write_bytes(b"half a file")
    path = md.keras.utils.get_file("data.bin", url, file_hash=sha256(b"the real content"))
    assert Path(path).read_bytes() == b"the real content" and server.hits["/data.bin"] == 1


def test_get_file_interrupted_transfer_leaves_nothing(server, keras_home):
    url = serve(server, "data.bin", b"x" * 1000)
    server.claimed["/data.bin"] = 5000  # the server promises 5000 bytes and closes after 1000
    with pytest.raises(DownloadError, match=r"data\.bin.*stopped after 1000 of 5000 bytes"):
        md.keras.utils.get_file("data.bin", url)
    assert cache_listing(keras_home) == ["datasets"]


def test_get_file_http_error_leaves_nothing(server, keras_home):
    with pytest.raises(DownloadError, match="404"):
        md.keras.utils.get_file("missing.bin", server.base + "missing.bin")
    assert cache_listing(keras_home) == ["datasets"]


def test_get_file_offline_names_file_url_and_where_to_put_it(keras_home):
    with socket.socket() as probe:  # a port nobody listens on: the connection is refused
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/mnist.npz"
    with pytest.raises(DownloadError) as info:
        md.keras.utils.get_file("mnist.npz", url)
    message = str(info.value)
    assert "mnist.npz" in message and url in message and "offline" in message
    assert str(keras_home / "datasets" / "mnist.npz") in message
    assert cache_listing(keras_home) == ["datasets"]


@pytest.mark.parametrize("kwargs, message", [
    ({"file_hash": "xyz"}, "file_hash must be a hex digest"),
    ({"file_hash": "a" * 40}, r"received 'a{40}' \(40 characters\)"),  # a sha1: neither sha256 nor md5
    ({"file_hash": "g" * 64}, "file_hash must be a hex digest"),
    ({"file_hash": "a" * 32, "hash_algorithm": "sha256"}, "file_hash must be a hex digest"),
    ({"file_hash": "a" * 64, "hash_algorithm": "sha1"}, "hash_algorithm must be 'auto', 'sha256' or 'md5'"),
    ({"fname": "sub/data.bin"}, "fname must be a file name, not a path"),
    ({"origin": None}, "expected origin"),
    ({"extract": True, "archive_format": "rar"}, "archive_format must be"),
])
def test_get_file_bad_arguments(server, kwargs, message):
    arguments = {"fname": "data.bin", "origin": serve(server, "data.bin", b"abc"), **kwargs}
    with pytest.raises(ValueError, match=message):
        md.keras.utils.get_file(**arguments)


def tar_gz(members):
    """The bytes of a .tar.gz holding ``{name: bytes}``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def zip_bytes(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize("pack, name", [(tar_gz, "bundle.tar.gz"), (zip_bytes, "bundle.zip")])
def test_get_file_extracts_tar_gz_and_zip_with_keras_names(server, keras_home, pack, name):
    url = serve(server, name, pack({"top/a.txt": b"alpha", "top/sub/b.txt": b"beta"}))
    datasets = keras_home / "datasets"
    folder = md.keras.utils.get_file(name, url, extract=True)
    assert folder == str(datasets / "bundle_extracted")  # a name with a dot: "<stem>_extracted"
    assert (datasets / "bundle_extracted/top/a.txt").read_bytes() == b"alpha"
    assert (datasets / "bundle_extracted/top/sub/b.txt").read_bytes() == b"beta"
    assert (datasets / name).is_file()
    assert md.keras.utils.get_file(name, url, extract=True) == folder and server.hits[f"/{name}"] == 1
    folder = md.keras.utils.get_file("bundle", url, extract=True)  # no dot: "<name>", archive "<name>_archive"
    assert folder == str(datasets / "bundle") and (datasets / "bundle_archive").is_file()
    assert (datasets / "bundle/top/a.txt").read_bytes() == b"alpha"
    assert not [p for p in datasets.iterdir() if p.name.startswith(".")]  # no temporary left


def test_get_file_refuses_what_it_cannot_extract(server, keras_home):
    url = serve(server, "plain.tar.gz", b"not an archive at all")
    with pytest.raises(ValueError, match=r"cannot extract .*plain\.tar\.gz.*not a tar or zip archive"):
        md.keras.utils.get_file("plain.tar.gz", url, extract=True)
    assert not (keras_home / "datasets" / "plain_extracted").exists()
    url = serve(server, "evil.tar.gz", tar_gz({"../outside.txt": b"x"}))
    with pytest.raises(ValueError, match=r"'\.\./outside\.txt', a path outside its folder"):
        md.keras.utils.get_file("evil.tar.gz", url, extract=True)
    assert not (keras_home / "datasets" / "outside.txt").exists()
    assert not (keras_home / "datasets" / "evil_extracted").exists()
    assert not [p for p in (keras_home / "datasets").iterdir() if p.name.startswith(".")]


# datasets -----------------------------------------------------------------------------------------------


def point_at(monkeypatch, server, module, files, hashes="SHA256"):
    """Serve ``files`` ({name: bytes}) and make ``module`` download them from ``server`` with their
    true sha256s (``hashes``: its constant, one hash or a dict by name)."""
    for name, body in files.items():
        serve(server, name, body)
    monkeypatch.setattr(module, "KERAS_DATASETS", server.base, raising=False)
    current = getattr(module, hashes)
    new = {name: sha256(body) for name, body in files.items()} if isinstance(current, dict) else \
        sha256(next(iter(files.values())))
    monkeypatch.setattr(module, hashes, new)


def npz_bytes(**arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_mnist_load_data_from_keras_npz(server, monkeypatch):
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (7, 28, 28), dtype=np.uint8), "y_train": np.arange(7, dtype=np.uint8),
              "x_test": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8), "y_test": np.array([9, 0, 4], np.uint8)}
    point_at(monkeypatch, server, mnist, {"mnist.npz": npz_bytes(**arrays)})
    (x_train, y_train), (x_test, y_test) = md.keras.datasets.mnist.load_data()
    for got, name in [(x_train, "x_train"), (y_train, "y_train"), (x_test, "x_test"), (y_test, "y_test")]:
        assert got.dtype == np.uint8 and got.shape == arrays[name].shape
        np.testing.assert_array_equal(got, arrays[name])
    # md.data.load_mnist() reads the same cached file: NCHW float32 in [0, 1] and int64 labels
    x, y = md.data.load_mnist(split="test")
    assert x.dtype == np.float32 and x.shape == (3, 1, 28, 28) and y.dtype == np.int64
    np.testing.assert_allclose(x[:, 0], arrays["x_test"] / 255.0, rtol=1e-6)
    assert y.tolist() == [9, 0, 4] and server.hits["/mnist.npz"] == 1


def read_idx_gz(path):
    """The array of a gzipped IDX file, read here independently of minidl (16- or 8-byte header)."""
    raw = gzip.decompress(path.read_bytes())
    ndim = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason=f"real MNIST not at {MNIST_DIR} (../shared is for developers only)")
def test_mnist_real_data_repacked_as_keras_npz(server, monkeypatch):
    arrays = {f"{x}_{split}": read_idx_gz(MNIST_DIR / f"{prefix}-{kind}-idx{n}-ubyte.gz")
              for split, prefix in [("train", "train"), ("test", "t10k")]
              for x, kind, n in [("x", "images", 3), ("y", "labels", 1)]}
    point_at(monkeypatch, server, mnist, {"mnist.npz": npz_bytes(**arrays)})
    (x_train, y_train), (x_test, y_test) = md.keras.datasets.mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,) and x_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,) and y_test.dtype == np.uint8
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9] and y_test[:5].tolist() == [7, 2, 1, 0, 4]
    np.testing.assert_array_equal(x_test, arrays["x_test"])
    x, y = md.data.load_mnist(split="test")
    x_idx, y_idx = md.data.load_mnist(MNIST_DIR, "test")
    np.testing.assert_array_equal(x, x_idx)
    np.testing.assert_array_equal(y, y_idx)


def idx_gz(array):
    """A gzipped IDX file: magic 0x0000 08 ndim, the sizes, the bytes (big-endian)."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_load_data_from_four_idx_files(server, keras_home, monkeypatch):
    rng = np.random.default_rng(1)
    x_train, y_train = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8), np.array([0, 9, 3, 3, 1], np.uint8)
    x_test, y_test = rng.integers(0, 256, (2, 28, 28), dtype=np.uint8), np.array([8, 2], np.uint8)
    files = {"train-images-idx3-ubyte.gz": idx_gz(x_train), "train-labels-idx1-ubyte.gz": idx_gz(y_train),
             "t10k-images-idx3-ubyte.gz": idx_gz(x_test), "t10k-labels-idx1-ubyte.gz": idx_gz(y_test)}
    point_at(monkeypatch, server, fashion_mnist, files)
    got = md.keras.datasets.fashion_mnist.load_data()
    for array, expected in zip([*got[0], *got[1]], [x_train, y_train, x_test, y_test]):
        assert array.dtype == np.uint8 and array.shape == expected.shape
        np.testing.assert_array_equal(array, expected)
    assert (keras_home / "datasets" / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").is_file()


def cifar_batch(images, labels):
    """A pickled CIFAR batch with bytes keys, as the Python 2 originals load with
    encoding="bytes": ``data`` (n, 3072) uint8 holding each image's red, green and blue 32x32
    planes in turn, ``labels`` a list of ints."""
    data = np.stack([np.concatenate([img[:, :, c].ravel() for c in range(3)]) for img in images])
    return pickle.dumps({b"batch_label": b"a batch", b"labels": list(labels), b"data": data,
                         b"filenames": [b"img.png"] * len(labels)})


def test_cifar10_load_data_from_the_python_tarball(server, keras_home, monkeypatch):
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, 10, 12)]
    batches = [(images[i: i + 2], labels[i: i + 2]) for i in range(0, 10, 2)]  # two images per batch
    members = {f"cifar-10-batches-py/data_batch_{i}": cifar_batch(*batch) for i, batch in enumerate(batches, 1)}
    members["cifar-10-batches-py/test_batch"] = cifar_batch(images[10:], labels[10:])
    serve(server, "cifar-10-python.tar.gz", tar_gz(members))
    monkeypatch.setattr(cifar10, "ORIGIN", server.base + "cifar-10-python.tar.gz")
    monkeypatch.setattr(cifar10, "SHA256", sha256(server.files["/cifar-10-python.tar.gz"]))
    (x_train, y_train), (x_test, y_test) = md.keras.datasets.cifar10.load_data()
    assert x_train.shape == (10, 32, 32, 3) and x_test.shape == (2, 32, 32, 3) and x_train.dtype == np.uint8
    assert y_train.shape == (10, 1) and y_test.shape == (2, 1) and y_test.dtype == np.uint8
    np.testing.assert_array_equal(x_train, images[:10])
    np.testing.assert_array_equal(x_test, images[10:])
    assert y_train.ravel().tolist() == labels[:10] and y_test.ravel().tolist() == labels[10:]
    assert (keras_home / "datasets" / "cifar-10-batches-py-target" / "cifar-10-batches-py").is_dir()


class RunsCode:
    """Unpickling this would call os.system; the loaders must refuse it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_cifar10_refuses_a_pickle_that_runs_code(server, tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    members = {f"cifar-10-batches-py/data_batch_{i}": pickle.dumps(RunsCode(marker)) for i in range(1, 6)}
    serve(server, "cifar.tar.gz", tar_gz(members))
    monkeypatch.setattr(cifar10, "ORIGIN", server.base + "cifar.tar.gz")
    monkeypatch.setattr(cifar10, "SHA256", sha256(server.files["/cifar.tar.gz"]))
    with pytest.raises(DataError, match=r"data_batch_1: refusing to unpickle it \(it names posix\.system"):
        md.keras.datasets.cifar10.load_data()
    assert not marker.exists()


def object_array(lists):
    out = np.empty(len(lists), dtype=object)
    for i, item in enumerate(lists):
        out[i] = item
    return out


def imdb_reference(x_train, y_train, x_test, y_test, num_words=None, skip_top=0, maxlen=None, seed=113,
                   start_char=1, oov_char=2, index_from=3):
    """Keras's imdb rules, written out independently: shuffle each split with one RandomState
    (train first), shift by index_from after start_char, drop encoded reviews of length >= maxlen,
    bound by num_words (default: the largest index, exclusive) and skip_top."""
    rng = np.random.RandomState(seed)
    splits = []
    for xs, ys in [(x_train, y_train), (x_test, y_test)]:
        order = rng.permutation(len(xs))  # the same draw as shuffling np.arange(len(xs))
        kept = []
        for i in order:
            review = ([] if start_char is None else [start_char]) + [w + index_from for w in xs[i]]
            if maxlen is None or len(review) < maxlen:
                kept.append((review, ys[i]))
        splits.append(kept)
    top = num_words or max(w for split in splits for review, _ in split for w in review)
    result = []
    for split in splits:
        reviews = []
        for review, _ in split:
            inside = [skip_top <= w < top for w in review]
            reviews.append([w if ok else oov_char for w, ok in zip(review, inside)] if oov_char is not None
                           else [w for w, ok in zip(review, inside) if ok])
        result.append((reviews, [y for _, y in split]))
    return result


@pytest.fixture
def imdb_files(server, monkeypatch):
    rng = np.random.default_rng(3)
    lists = [[int(w) for w in rng.integers(1, 30, rng.integers(1, 9))] for _ in range(14)]
    arrays = {"x_train": object_array(lists[:8]), "y_train": rng.integers(0, 2, 8),
              "x_test": object_array(lists[8:]), "y_test": rng.integers(0, 2, 6)}
    point_at(monkeypatch, server, imdb, {"imdb.npz": npz_bytes(**arrays)})
    return arrays


@pytest.mark.parametrize("options", [
    {}, {"num_words": 20}, {"num_words": 20, "skip_top": 6}, {"maxlen": 6}, {"oov_char": None, "num_words": 15},
    {"start_char": None, "index_from": 0}, {"seed": 7, "start_char": 5, "oov_char": 4, "index_from": 10},
])
def test_imdb_load_data_follows_keras_rules(imdb_files, options):
    (x_train, y_train), (x_test, y_test) = md.keras.datasets.imdb.load_data(**options)
    expected = imdb_reference(*(imdb_files[k] for k in ("x_train", "y_train", "x_test", "y_test")), **options)
    for xs, ys, (reviews, labels) in [(x_train, y_train, expected[0]), (x_test, y_test, expected[1])]:
        assert xs.dtype == object and xs.shape == (len(reviews),)
        assert [list(x) for x in xs] == reviews
        assert ys.dtype == imdb_files["y_train"].dtype and ys.tolist() == labels


def test_imdb_load_data_by_hand(server, monkeypatch):
    """One review each, worked out by hand: [1, 2, 3, 4] -> start 1, shifted [4, 5, 6, 7]."""
    arrays = {"x_train": object_array([[1, 2, 3, 4]]), "y_train": np.array([1]),
              "x_test": object_array([[2, 3]]), "y_test": np.array([0])}
    point_at(monkeypatch, server, imdb, {"imdb.npz": npz_bytes(**arrays)})
    (x_train, y_train), (x_test, _) = md.keras.datasets.imdb.load_data(num_words=7, skip_top=5)
    assert list(x_train[0]) == [2, 2, 5, 6, 2] and list(x_test[0]) == [2, 5, 6] and y_train.tolist() == [1]
    (x_train, _), (x_test, _) = md.keras.datasets.imdb.load_data()  # bound: the largest index, 7
    assert list(x_train[0]) == [1, 4, 5, 6, 2] and list(x_test[0]) == [1, 5, 6]
    with pytest.raises(ValueError, match="no review is shorter than maxlen=3"):
        md.keras.datasets.imdb.load_data(maxlen=3)


def test_imdb_refuses_an_object_array_that_runs_code(server, tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    npy = io.BytesIO()
    np.lib.format.write_array_header_1_0(npy, {"descr": "|O", "fortran_order": False, "shape": (1,)})
    pickle.dump(RunsCode(marker), npy)
    arrays = {"y_train": np.array([1]), "x_test": object_array([[1]]), "y_test": np.array([0])}
    buffer = io.BytesIO(npz_bytes(**arrays))
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("x_train.npy", npy.getvalue())
    point_at(monkeypatch, server, imdb, {"imdb.npz": buffer.getvalue()})
    with pytest.raises(DataError, match=r"imdb\.npz:x_train: refusing to unpickle it \(it names posix\.system"):
        md.keras.datasets.imdb.load_data()
    assert not marker.exists()


def test_imdb_get_word_index(server, monkeypatch):
    words = {"the": 1, "and": 2, "film": 19}
    body = json.dumps(words).encode()
    serve(server, "imdb_word_index.json", body)
    monkeypatch.setattr(imdb, "KERAS_DATASETS", server.base)
    monkeypatch.setattr(imdb, "WORD_INDEX_MD5", hashlib.md5(body).hexdigest())
    assert md.keras.datasets.imdb.get_word_index() == words


def test_npz_without_the_expected_arrays(server, monkeypatch):
    point_at(monkeypatch, server, mnist, {"mnist.npz": npz_bytes(x_train=np.zeros((1, 28, 28), np.uint8))})
    with pytest.raises(DataError, match="mnist.npz: expected arrays x_train, y_train, x_test, y_test; missing y_train"):
        md.keras.datasets.mnist.load_data()
