"""``pad_sequences``: lists of token ids to one rectangular array, with Keras's defaults."""
import numpy as np

SIDES = ("pre", "post")


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0):
    """An array (len(sequences), maxlen): each sequence cut to ``maxlen`` and padded with
    ``value``.  As in Keras, both happen at the start by default (``"pre"``): a long sequence
    keeps its last ``maxlen`` items, and a short one ends where the array ends, next to the
    last step a recurrent layer reads.  ``maxlen`` defaults to the longest sequence."""
    for name, side in (("padding", padding), ("truncating", truncating)):
        if side not in SIDES:
            raise ValueError(f"pad_sequences: {name} must be 'pre' or 'post', got {side!r}")
    sequences = [list(sequence) for sequence in sequences]
    if maxlen is None:
        maxlen = max((len(sequence) for sequence in sequences), default=0)
    result = np.full((len(sequences), maxlen), value, dtype=dtype)
    for row, sequence in zip(result, sequences):
        kept = sequence[-maxlen:] if truncating == "pre" else sequence[:maxlen]
        if maxlen == 0 or not kept:
            continue
        if padding == "pre":
            row[-len(kept):] = kept
        else:
            row[: len(kept)] = kept
    return result
