"""The source documents' Keras code, run verbatim with ``tensorflow`` standing for md.keras.

The documents' blocks live in ``../shared/documents/`` (read at test time, never copied here).
Their imports (``import tensorflow as tf``, ``from tensorflow import keras``,
``from tensorflow.keras import layers``) find a stand-in module whose ``keras`` is ``md.keras``;
the data the documents load elsewhere (MNIST) is given as a few small arrays of the same shapes.
``keras.datasets`` finds its files in a temporary ``KERAS_HOME``, written in Keras's formats
(real MNIST images from ``../shared/data/mnist`` where present), so nothing is downloaded.
"""
import hashlib
import io
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import minidl as md
from minidl import keras

DOCUMENTS = Path(__file__).resolve().parents[2] / "shared" / "documents"
MNIST_DIR = DOCUMENTS.parent / "data" / "mnist"


@pytest.fixture
def tensorflow(monkeypatch):
    """``tensorflow``, ``tensorflow.keras`` and its submodules resolve to md.keras."""
    if not DOCUMENTS.is_dir():
        pytest.skip(f"the documents are not at {DOCUMENTS}")
    keras.backend.clear_session()
    md.manual_seed(0)
    tf = types.ModuleType("tensorflow")
    tf.keras = keras
    monkeypatch.setitem(sys.modules, "tensorflow", tf)
    monkeypatch.setitem(sys.modules, "tensorflow.keras", keras)
    for name in ("layers", "models", "optimizers", "regularizers", "callbacks", "losses", "metrics",
                 "preprocessing", "datasets", "utils"):
        monkeypatch.setitem(sys.modules, f"tensorflow.keras.{name}", getattr(keras, name))
    monkeypatch.setitem(sys.modules, "tensorflow.keras.preprocessing.image", keras.preprocessing.image)


def run(block, **data):
    """Execute a document block with ``data`` defined; returns its variables."""
    namespace = dict(data)
    exec(compile((DOCUMENTS / block).read_text(encoding="utf-8"), block, "exec"), namespace)
    return namespace


def mnist_like(n, seed):
    """n images (n, 28, 28, 1) in [0, 1] and labels 0..9, the shapes of the documents' MNIST."""
    rng = np.random.default_rng(seed)
    return rng.random((n, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, n)


def test_document_000_cnn_with_validation_data(tensorflow, capsys):
    (train_images, train_labels), (test_images, test_labels) = mnist_like(32, 0), mnist_like(16, 1)
    namespace = run("doc000_block1.py", train_images=train_images, train_labels=train_labels,
                    test_images=test_images, test_labels=test_labels)
    assert "Test accuracy:" in capsys.readouterr().out
    assert 0 <= namespace["test_acc"] <= 1 and [layer.name for layer in namespace["model"].layers] == [
        "conv2d", "max_pooling2d", "flatten", "dense"]


def test_document_000_reaches_mnist_accuracy_on_real_digits(tensorflow, small_mnist):
    """On 2,000 real MNIST digits (the document's MNIST, channels-last, scaled to [0, 1])."""
    as_images = lambda x: x[..., None].astype(np.float32) / 255  # noqa: E731
    namespace = run("doc000_block1.py", train_images=as_images(small_mnist["x_train"]),
                    train_labels=small_mnist["y_train"], test_images=as_images(small_mnist["x_test"]),
                    test_labels=small_mnist["y_test"])
    assert namespace["test_acc"] > 0.85


def test_document_004_decay_loop_is_pseudo_code(tensorflow):
    """Block 004/1 calls ``model.train(X_train, y_train)``, which no Keras model has: it fails at
    that line (Keras: AttributeError; md.keras models are also md.nn Modules, whose ``train(mode)``
    takes no data: TypeError) before any training."""
    model = keras.Sequential([keras.layers.Dense(10, input_shape=(4,))])
    with pytest.raises((AttributeError, TypeError), match="train"):
        run("doc004_block1.py", model=model, X_train=np.zeros((2, 4)), y_train=np.zeros(2), X_test=None, y_test=None)


def test_document_004_dense_with_l2_and_validation_split(tensorflow):
    rng = np.random.default_rng(2)
    namespace = run("doc004_block2.py", X_train=rng.random((40, 20), dtype=np.float32), y_train=rng.integers(0, 10, 40))
    model = namespace["model"]
    assert model.layers[0].get_weights()[0].shape == (20, 128)
    assert model.layers[0].kernel_regularizer.l2 == 0.01


def cache_dataset(monkeypatch, tmp_path, module, file_name, **arrays):
    """Write ``arrays`` as Keras's ``file_name`` (.npz) into a temporary KERAS_HOME's cache, with
    ``module``'s published hash replaced by the file's own, so ``load_data()`` reads it there."""
    home = tmp_path / "keras_home"
    (home / "datasets").mkdir(parents=True)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    (home / "datasets" / file_name).write_bytes(buffer.getvalue())
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setattr(module, "SHA256", hashlib.sha256(buffer.getvalue()).hexdigest())


@pytest.fixture
def small_mnist(monkeypatch, tmp_path):
    """2,000 training and 500 test images of the real MNIST as Keras's mnist.npz (uint8, 28x28)."""
    if not MNIST_DIR.is_dir():
        pytest.skip(f"real MNIST is not at {MNIST_DIR}")
    x_train, y_train = md.data.load_mnist(MNIST_DIR, "train")
    x_test, y_test = md.data.load_mnist(MNIST_DIR, "test")
    as_keras = lambda x: np.round(x[:, 0] * 255).astype(np.uint8)  # noqa: E731  (back to Keras's bytes)
    arrays = dict(x_train=as_keras(x_train[:2000]), y_train=y_train[:2000].astype(np.uint8),
                  x_test=as_keras(x_test[:500]), y_test=y_test[:500].astype(np.uint8))
    cache_dataset(monkeypatch, tmp_path, keras.datasets.mnist, "mnist.npz", **arrays)
    return arrays


def test_document_001_cnn_on_keras_datasets_mnist(tensorflow, small_mnist, capsys):
    """Block 001/1: load_data() from the cache.  As printed it feeds (N, 28, 28) images to a model
    built for (28, 28, 1), which Keras refuses at the first layer; so does md.keras, saying how to
    fix it.  With that one fix (the channels axis) it trains five epochs and evaluates."""
    with pytest.raises(ValueError, match=r"conv2d: expected input of shape \(None, 28, 28, 1\), got \(32, 28, 28\)"):
        run("doc001_block1.py")
    source = (DOCUMENTS / "doc001_block1.py").read_text(encoding="utf-8")
    fixed = source.replace("model.fit(", "x_train, x_test = x_train[..., None], x_test[..., None]\nmodel.fit(", 1)
    namespace = {}
    exec(compile(fixed, "doc001_block1.py (channels axis added)", "exec"), namespace)
    assert namespace["x_train"].shape == (2000, 28, 28, 1) and namespace["x_train"].dtype == np.float32
    assert "Test accuracy:" in capsys.readouterr().out
    assert namespace["test_acc"] > 0.85  # a small CNN on 2,000 MNIST digits (the documents imply ~0.99 on 60,000)


def test_document_001_lstm_on_keras_datasets_imdb(tensorflow, monkeypatch, tmp_path, capsys):
    """Block 001/2 verbatim on a small IMDB-format file whose label is carried by sentiment words."""
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 2, 240)
    reviews = [[1] + [int(w) for w in rng.integers(40, 400, rng.integers(4, 12))] + [10 + 10 * int(label)] * 3
               for label in labels]  # start char 1, neutral words, then "good" (20) or "bad" (10) words
    as_objects = lambda lists: np.array(lists + [None], dtype=object)[:-1]  # noqa: E731  (a 1-D array of lists)
    cache_dataset(monkeypatch, tmp_path, keras.datasets.imdb, "imdb.npz", x_train=as_objects(reviews[:160]),
                  y_train=labels[:160], x_test=as_objects(reviews[160:]), y_test=labels[160:])
    namespace = run("doc001_block2.py")
    assert namespace["x_train"].shape == (160, 256)
    assert "Test accuracy:" in capsys.readouterr().out
    assert namespace["test_acc"] > 0.9


def write_digit_tree(directory, images, labels):
    """Keras's class-folder layout: ``directory/<label>/<i>.png``, grayscale PNGs."""
    from PIL import Image

    for i, (image, label) in enumerate(zip(images, labels)):
        folder = directory / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{i}.png")


def test_document_003_generator_pipeline_fails_where_keras_fails(tensorflow, small_mnist, tmp_path, monkeypatch):
    """Blocks 003/1-4 in order, in a folder with ``train_dir`` of MNIST PNGs.  As printed, block 4
    reshapes the ``(x_test, y_test)`` tuple, which fails in Python whatever the engine; and the
    generator's default ``color_mode='rgb'`` gives 3 channels to a model built for 1, which Keras
    reports at the first layer: both are reported the same way here."""
    write_digit_tree(tmp_path / "train_dir", small_mnist["x_train"][:200], small_mnist["y_train"][:200])
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for block in ("doc003_block1.py", "doc003_block2.py", "doc003_block3.py"):
        namespace = run(block, **namespace)
    batch, labels = namespace["train_generator"][0]
    assert batch.shape == (32, 28, 28, 3) and labels.shape == (32, 10) and batch.max() <= 1.0
    with pytest.raises(AttributeError, match="'tuple' object has no attribute 'reshape'"):
        run("doc003_block4.py", **namespace)
    x_test = small_mnist["x_test"].reshape(-1, 28, 28, 1) / 255.0
    with pytest.raises(ValueError, match=r"conv2d.*\(None, 28, 28, 1\).*3"):
        y_test = keras.utils.to_categorical(small_mnist["y_test"], 10)
        namespace["train"](namespace["model"], namespace["train_generator"], (x_test, y_test), 1)
