"""Tutorial 09's exercise: scaled dot-product attention by hand."""
import minidl as md
import minidl.functional as F
from minidl.exercises.check import Exercise, tensors


def _cases(rng):
    for batch, queries, keys, dim, masked in [(1, 3, 3, 4, False), (2, 4, 5, 3, False), (2, 5, 5, 8, True)]:
        q, k, v = (rng.standard_normal((batch, n, dim)) for n in (queries, keys, keys))
        mask = rng.random((queries, keys)) < 0.7 if masked else None
        if masked:
            mask[:, 0] = True  # every query sees at least one key
        label = f"q ({batch}, {queries}, {dim}), k and v ({batch}, {keys}, {dim})" + (", a boolean mask" if masked else "")
        yield label, (q, k, v, mask)


def _reference(q, k, v, mask):
    attn_mask = None if mask is None else md.tensor(mask)
    return F.scaled_dot_product_attention(*tensors(q, k, v), attn_mask=attn_mask).numpy()


EXERCISES = [
    Exercise("scaled_dot_product_attention", "09 exercise 1",
             "attention(q (N, L, d), k (N, S, d), v (N, S, dv), mask (L, S) bool or None; True = may attend) "
             "-> (N, L, dv) = softmax(q k^T / sqrt(d)) v", _cases, _reference, rtol=1e-9),
]  # fmt: skip
