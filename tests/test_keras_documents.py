"""The source documents' Keras code, run verbatim with ``tensorflow`` standing for md.keras.

The documents' blocks live in ``../shared/documents/`` (read at test time, never copied here).
Their imports (``import tensorflow as tf``, ``from tensorflow import keras``,
``from tensorflow.keras import layers``) find a stand-in module whose ``keras`` is ``md.keras``;
the data the documents load elsewhere (MNIST) is given as a few small arrays of the same shapes.
"""
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import minidl as md
from minidl import keras

DOCUMENTS = Path(__file__).resolve().parents[2] / "shared" / "documents"


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
    for name in ("layers", "models", "optimizers", "regularizers", "callbacks", "losses", "metrics"):
        monkeypatch.setitem(sys.modules, f"tensorflow.keras.{name}", getattr(keras, name))


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


def test_document_004_dense_with_l2_and_validation_split(tensorflow):
    rng = np.random.default_rng(2)
    namespace = run("doc004_block2.py", X_train=rng.random((40, 20), dtype=np.float32), y_train=rng.integers(0, 10, 40))
    model = namespace["model"]
    assert model.layers[0].get_weights()[0].shape == (20, 128)
    assert model.layers[0].kernel_regularizer.l2 == 0.01
