"""CPU kernel for Adam's update: one pass over a parameter and its two moment arrays.

``minidl.optim.Adam.update`` states the update on whole arrays, about a dozen NumPy passes, each
reading and writing the parameter's size in memory (and some making temporaries); on a small
model those passes are most of an optimizer step.  The loop below does the same operations on
each element, in the same order and in the arrays' dtype, so the two give the same bits (tested).
No ``fastmath``: fusing a * b + c into one instruction would round differently from NumPy.
``error_model="numpy"`` lets a division by zero give inf or NaN, as NumPy does, instead of raising.
"""
import numpy as np
from numba import njit


@njit(cache=True, nogil=True, error_model="numpy")
def adam_update(w, g, m, v, lr, beta1, one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay, shrink,
                correction1, correction2):
    """Adam's step on 1-D arrays of one dtype, with the scalars already in that dtype:

        w <- w shrink                                   (decoupled weight decay: shrink = 1 - lr lambda)
        g' = g + lambda w                               (coupled weight decay, where lambda != 0)
        m <- m b1 + (1 - b1) g'
        v <- v b2 + ((1 - b2) g') g'
        w <- w - (lr (m / c1)) / (sqrt(v / c2) + eps)   c1 = 1 - b1^t, c2 = 1 - b2^t

    ``g`` itself is left as it is."""
    for k in range(w.size):
        w[k] = w[k] * shrink
        grad = g[k] + weight_decay * w[k] if weight_decay != 0 else g[k]
        m[k] = m[k] * beta1 + one_minus_beta1 * grad
        v[k] = v[k] * beta2 + one_minus_beta2 * grad * grad
        w[k] = w[k] - lr * (m[k] / correction1) / (np.sqrt(v[k] / correction2) + eps)
