"""Sentiment from text: the text tools of ``minidl.data.text``, and an integration test where an
Embedding -> LSTM -> Linear -> sigmoid classifier trained with Adam on the sentence-polarity movie
reviews (Pang & Lee 2005) reaches a meaningful validation accuracy.

The reviews sit beside the repository on developer and CI machines (``../shared/data/text/mr``);
elsewhere the integration test is skipped, with the reason shown.  Published 10-fold results on this set are
about 76-81%; this small model, trained for three epochs from scratch, reaches about 75%.
"""
from pathlib import Path

import numpy as np
import pytest

import minidl as md
import minidl.functional as F
from minidl import nn
from minidl.data import DataError, Vocabulary, batches_by_length, load_sentence_polarity, pad_sequences, tokenize

MR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "text" / "mr"


# ----------------------------------------------------------------------------- text tools
def test_tokenize_keeps_inner_apostrophes_and_hyphens():
    assert tokenize("The co-writer's film WASN'T dull, was it?") == [
        "the", "co-writer's", "film", "wasn't", "dull", ",", "was", "it", "?"
    ]  # fmt: skip


def test_vocabulary_caps_its_size_by_frequency_and_maps_unknowns_to_one():
    vocab = Vocabulary.build([["b", "a", "b"], ["c", "a", "b", "d"]], max_size=4)
    assert vocab.itos == ["<pad>", "<unk>", "b", "a"] and len(vocab) == 4
    assert vocab.encode(["a", "b", "zebra"]) == [3, 2, 1]
    assert vocab.decode([2, 3, 0]) == ["b", "a", "<pad>"]
    assert len(Vocabulary.build([["x", "y", "x"]], min_freq=2)) == 3
    with pytest.raises(ValueError, match="max_size must be at least 2"):
        Vocabulary.build([["a"]], max_size=1)


def test_pad_sequences_cuts_pads_and_reports_lengths():
    ids, lengths = pad_sequences([[5, 6, 7], [8], []], max_len=2)
    np.testing.assert_array_equal(ids, [[5, 6], [8, 0], [0, 0]])
    np.testing.assert_array_equal(lengths, [2, 1, 1])
    ids, lengths = pad_sequences([[1, 2, 3], [4]])
    assert ids.shape == (2, 3) and ids.dtype == np.int64 and lengths.tolist() == [3, 1]


def test_batches_by_length_group_similar_lengths_and_cover_every_row():
    lengths = np.array([5, 1, 4, 2, 3, 1])
    batches = batches_by_length(np.arange(6), lengths, 2)
    assert [lengths[b].tolist() for b in batches] == [[1, 1], [2, 3], [4, 5]]
    shuffled = batches_by_length(np.arange(6), lengths, 4, np.random.default_rng(0))
    assert sorted(np.concatenate(shuffled).tolist()) == list(range(6))


def test_sentence_polarity_reader_needs_both_files(tmp_path):
    (tmp_path / "rt-polarity.pos").write_bytes("good \xe9clat\n\nfine\n".encode("latin-1"))
    with pytest.raises(DataError, match="rt-polarity.neg not found"):
        load_sentence_polarity(tmp_path)
    (tmp_path / "rt-polarity.neg").write_bytes(b"bad\x85 news\n")  # \x85: not a line break here
    sentences, labels = load_sentence_polarity(tmp_path)
    assert sentences == ["good \xe9clat", "fine", "bad\x85 news"] and labels.tolist() == [1, 1, 0]


# ----------------------------------------------------------------------------- integration


class ReviewClassifier(nn.Module):
    """P(positive) = sigmoid(w . h_last + b), h_last the LSTM state after a review's last word."""

    def __init__(self, vocab_size, embedding_dim=64, hidden_size=64):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, 1)

    def forward(self, ids, lengths):
        _, (h_n, _) = self.lstm(self.embedding(md.tensor(ids)), lengths=lengths)
        return F.sigmoid(self.out(h_n[-1])).reshape(-1)


def accuracy(model, ids, lengths, labels, rows):
    model.eval()
    correct = 0
    with md.no_grad():
        for batch in batches_by_length(rows, lengths, 512):
            cut = lengths[batch].max()
            correct += int(((model(ids[batch, :cut], lengths[batch]).numpy() > 0.5) == labels[batch]).sum())
    model.train()
    return correct / len(rows)


@pytest.mark.slow
@pytest.mark.skipif(not (MR / "rt-polarity.pos").is_file(), reason=f"sentence-polarity data not found at {MR}")
def test_lstm_classifies_movie_reviews(record_property):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    md.manual_seed(0)
    rng = np.random.default_rng(0)
    sentences, labels = load_sentence_polarity(MR)
    order = rng.permutation(len(sentences))
    val_rows, train_rows = order[: len(order) // 10], order[len(order) // 10 :]
    tokens = [tokenize(s) for s in sentences]
    vocab = Vocabulary.build([tokens[i] for i in train_rows], max_size=8000)
    ids, lengths = pad_sequences([vocab.encode(t) for t in tokens], max_len=50)
    model = ReviewClassifier(len(vocab))
    optimizer = md.optim.Adam(model.parameters(), lr=3e-3)
    # These matrices are small: one BLAS thread is fastest, and immune to a busy machine.
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        for _ in range(3):
            for batch in batches_by_length(train_rows, lengths, 64, rng):
                cut = lengths[batch].max()
                probability = model(ids[batch, :cut], lengths[batch])
                loss = F.binary_cross_entropy(probability, md.tensor(labels[batch], dtype=md.float32))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        val_accuracy = accuracy(model, ids, lengths, labels, val_rows)
    record_property("validation_accuracy", val_accuracy)
    print(f"sentence polarity: validation accuracy {val_accuracy:.3f} on {len(val_rows)} reviews")
    assert val_accuracy > 0.70
