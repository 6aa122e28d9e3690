"""Text to integer tensors: a tokenizer, a vocabulary with a size cap, padding to one length, and
a reader for the sentence-polarity movie reviews (Pang & Lee, 2005).

    tokens = [tokenize(s) for s in sentences]
    vocab = Vocabulary.build(tokens, max_size=10000)
    ids, lengths = pad_sequences([vocab.encode(t) for t in tokens], max_len=50)
    # ids: (n, 50) int64, 0 = padding;  lengths: (n,) int64, the true lengths (after truncation)
    for rows in batches_by_length(np.arange(len(ids)), lengths, 64, rng):
        batch_ids, batch_lengths = ids[rows, : lengths[rows].max()], lengths[rows]
"""
import collections
import re
from pathlib import Path

import numpy as np

from minidl.data.datasets import DataError

TOKEN = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*|[^\sa-z0-9]")


def tokenize(text):
    """Lower-case words (keeping inner ' and -: "don't", "co-writer") and single punctuation marks."""
    return TOKEN.findall(text.lower())


class Vocabulary:
    """A two-way map between tokens and ids.  Id 0 is ``"<pad>"`` and id 1 ``"<unk>"`` (any token
    not in the vocabulary); the other tokens follow from most to least frequent."""

    PAD, UNK = "<pad>", "<unk>"

    def __init__(self, tokens):
        self.itos = [self.PAD, self.UNK] + [t for t in tokens if t not in (self.PAD, self.UNK)]
        self.stoi = {token: i for i, token in enumerate(self.itos)}

    @classmethod
    def build(cls, token_lists, max_size=None, min_freq=1):
        """The ``max_size`` most frequent tokens (ids included: ``len(vocab) <= max_size``) that occur
        at least ``min_freq`` times; ties in frequency go to the token seen first."""
        if max_size is not None and max_size < 2:
            raise ValueError(f"Vocabulary: max_size must be at least 2 (<pad> and <unk>), got {max_size}")
        counts = collections.Counter(token for tokens in token_lists for token in tokens)
        frequent = [token for token, count in counts.most_common() if count >= min_freq]
        return cls(frequent if max_size is None else frequent[: max_size - 2])

    def __len__(self):
        return len(self.itos)

    def encode(self, tokens):
        """The ids of ``tokens`` (unknown ones become 1)."""
        return [self.stoi.get(token, 1) for token in tokens]

    def decode(self, ids):
        return [self.itos[i] for i in ids]


def pad_sequences(sequences, max_len=None, pad_value=0):
    """Cut each sequence to ``max_len`` (keeping its start) and pad it with ``pad_value`` at the end.

    Returns ``(ids, lengths)``: an int64 array (len(sequences), max_len) and the int64 array of the
    lengths kept, which is what ``md.nn.LSTM(..., lengths=lengths)`` expects.  ``max_len`` defaults
    to the longest sequence.  Empty sequences keep one pad token and length 1 (a recurrent layer
    needs at least one step).
    """
    lengths = np.array([max(1, len(s)) for s in sequences], dtype=np.int64)
    max_len = int(lengths.max(initial=1)) if max_len is None else max_len
    ids = np.full((len(sequences), max_len), pad_value, dtype=np.int64)
    for row, sequence in zip(ids, sequences):
        kept = list(sequence)[:max_len]
        row[: len(kept)] = kept
    return ids, np.minimum(lengths, max_len)


def batches_by_length(rows, lengths, batch_size, rng=None):
    """Split ``rows`` (indices into ``lengths``) into batches of similar lengths, so that little
    time goes into padding: sort by length, cut into batches of ``batch_size``, and shuffle the
    order of the batches with ``rng`` (a NumPy Generator) when one is given."""
    rows = np.asarray(rows)
    rows = rows[np.argsort(lengths[rows], kind="stable")]
    batches = [rows[start : start + batch_size] for start in range(0, len(rows), batch_size)]
    if rng is not None:
        rng.shuffle(batches)
    return batches


def load_sentence_polarity(directory):
    """The sentence-polarity dataset v1.0: ``(sentences, labels)`` read from ``rt-polarity.pos``
    (label 1) and ``rt-polarity.neg`` (label 0) in ``directory`` (latin-1 text, one sentence a line)."""
    directory = Path(directory)
    sentences, labels = [], []
    for name, label in (("rt-polarity.pos", 1), ("rt-polarity.neg", 0)):
        path = directory / name
        if not path.is_file():
            raise DataError(f"load_sentence_polarity: {path} not found (expected rt-polarity.pos and .neg)")
        # split on "\n" only: str.splitlines would also break at latin-1 control characters
        lines = [line.strip() for line in path.read_text(encoding="latin-1").split("\n")]
        sentences += [line for line in lines if line]
        labels += [label] * sum(1 for line in lines if line)
    return sentences, np.array(labels, dtype=np.int64)
