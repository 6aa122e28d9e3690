"""IMDB movie reviews as Keras serves them: 25000 training and 25000 test reviews, each a list of
word indices (1 for the most frequent word in the training reviews, 2 the next...), labelled
1 (positive) or 0 (negative).

    (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=10000)
    word_index = imdb.get_word_index()       # {"the": 1, "and": 2, ...}, before index_from
"""
import json

import numpy as np

from minidl.data.datasets import DataError
from minidl.keras.datasets.files import KERAS_DATASETS, load_npz
from minidl.keras.downloads import get_file

SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
WORD_INDEX_MD5 = "bfafd718b763782e994055a2d397834f"


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1, oov_char=2,
              index_from=3):
    """The reviews of Keras's ``imdb.npz`` (downloaded once into ``~/.keras/datasets/path``),
    in Keras's order and encoding:

    1. each split is shuffled by ``np.random.RandomState(seed)`` (training set first);
    2. every index is shifted up by ``index_from`` (0, 1, 2 stay free for padding, start and
       out-of-vocabulary) and ``start_char`` (unless None) put in front of each review;
    3. with ``maxlen``, reviews whose encoded length is ``maxlen`` or more are dropped (not cut);
    4. an index below ``skip_top`` or not below ``num_words`` becomes ``oov_char``, or is removed
       if ``oov_char`` is None.  Without ``num_words`` the bound is the largest index present,
       which, as in Keras, turns that one index into ``oov_char`` too.

    The file's reviews are NumPy object arrays, read without running pickled code (``files.py``).
    Returns ``(x_train, y_train), (x_test, y_test)``: 1-D object arrays of lists of ints and
    the file's integer label arrays.
    """
    arrays = load_npz(get_file(path, origin=KERAS_DATASETS + "imdb.npz", file_hash=SHA256),
                      ("x_train", "y_train", "x_test", "y_test"))
    rng = np.random.RandomState(seed)
    train = _shuffled(arrays["x_train"], arrays["y_train"], rng)
    test = _shuffled(arrays["x_test"], arrays["y_test"], rng)
    train, test = (_encoded(*split, start_char, index_from, maxlen) for split in (train, test))
    if maxlen and not (train[0] and test[0]):
        raise ValueError(f"imdb.load_data: no review is shorter than maxlen={maxlen}; increase maxlen")
    if not num_words:
        num_words = max(max(review) for review in train[0] + test[0])
    return tuple((_limited(reviews, skip_top, num_words, oov_char), labels) for reviews, labels in (train, test))


def _shuffled(reviews, labels, rng):
    order = np.arange(len(reviews))
    rng.shuffle(order)
    return reviews[order], labels[order]


def _encoded(reviews, labels, start_char, index_from, maxlen):
    """Steps 2 and 3: ``([start_char, w + index_from, ...] per review, labels)``, long ones dropped."""
    start = [] if start_char is None else [start_char]
    encoded = [start + [w + index_from for w in review] for review in reviews]
    kept = [i for i, review in enumerate(encoded) if not maxlen or len(review) < maxlen]
    return [encoded[i] for i in kept], np.asarray(labels)[kept]


def _limited(reviews, skip_top, num_words, oov_char):
    """Step 4, as a 1-D object array of lists (filled one by one: ``np.array`` would make a 2-D
    array of reviews that happen to have equal lengths)."""
    if oov_char is None:
        reviews = [[w for w in review if skip_top <= w < num_words] for review in reviews]
    else:
        reviews = [[w if skip_top <= w < num_words else oov_char for w in review] for review in reviews]
    out = np.empty(len(reviews), dtype=object)
    for i, review in enumerate(reviews):
        out[i] = review
    return out


def get_word_index(path="imdb_word_index.json"):
    """Keras's ``{word: index}`` for the reviews (downloaded once into ``~/.keras/datasets/path``);
    add ``index_from`` to an index to find the word in ``load_data``'s lists."""
    path = get_file(path, origin=KERAS_DATASETS + "imdb_word_index.json", file_hash=WORD_INDEX_MD5)
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"imdb.get_word_index: {path} is not valid JSON ({err})") from err
