"""Adam: momentum on the gradient and RMSprop's scaling, both corrected for starting at zero."""
import numpy as np

from minidl import backend
from minidl.optim.optimizer import Optimizer, with_weight_decay


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), as ``torch.optim.Adam``.  With t the parameter's step count (from 1):

        m <- b1 * m + (1 - b1) * g               first moment: a running mean of g
        v <- b2 * v + (1 - b2) * g^2             second moment: a running mean of g^2
        m_hat = m / (1 - b1^t)                   m and v start at 0 and so are biased towards 0
        v_hat = v / (1 - b2^t)                   early on; dividing corrects the bias
        w <- w - lr * m_hat / (sqrt(v_hat) + eps)

    Options:

        amsgrad:  v_max <- max(v_max, v), and v_hat = v_max / (1 - b2^t): the step size never grows
        weight_decay lambda:  g <- g + lambda * w first (L2 regularization, coupled: it then goes
                  through m and v); with ``decoupled_weight_decay=True`` it is AdamW's
                  w <- w - lr * lambda * w instead, applied before the update (see ``AdamW``)

    PyTorch computes the same numbers in another order: m as ``m.lerp_(g, 1 - b1)`` (that is
    m + (1 - b1) * (g - m)) and the update as w - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps),
    which folds the bias corrections into scalars.  The results differ by rounding only, about
    1e-16 relative per step.

    ``update`` below is the formula on whole arrays.  On contiguous NumPy arrays (float32 or float64)
    without amsgrad, the same operations run as one compiled loop, ``kernels.optim.adam_update``,
    which gives the same bits in one pass over memory instead of a dozen (``compiled_update``).
    """

    def __init__(
        self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *, maximize=False,
        decoupled_weight_decay=False,
    ):  # fmt: skip
        defaults = dict(
            lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )  # fmt: skip
        super().__init__(params, defaults)

    def update(self, w, g, state, group):
        lr, (b1, b2), eps, weight_decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        xp = backend.get_array_module(w)
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(w)
            state["exp_avg_sq"] = xp.zeros_like(w)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(w)
        state["step"] += 1
        t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
        kernel = None if group["amsgrad"] else compiled_update(w, g, m, v)
        if kernel is not None:
            decoupled = group["decoupled_weight_decay"]
            scalars = (lr, b1, 1 - b1, b2, 1 - b2, eps, 0 if decoupled else weight_decay,
                       1 - lr * weight_decay if decoupled else 1, 1 - b1**t, 1 - b2**t)
            kernel(*(a.reshape(-1) for a in (w, g, m, v)), *(w.dtype.type(s) for s in scalars))
            return
        if group["decoupled_weight_decay"]:
            w *= 1 - lr * weight_decay
        else:
            g = with_weight_decay(g, w, weight_decay)
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        if group["amsgrad"]:
            v_max = state["max_exp_avg_sq"]
            xp.maximum(v_max, v, out=v_max)
            v = v_max
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        w -= lr * m_hat / (xp.sqrt(v_hat) + eps)


def compiled_update(*arrays):
    """``kernels.optim.adam_update`` where it runs on ``arrays`` (the parameter, its gradient and
    moments): contiguous NumPy arrays, all float32 or all float64; None otherwise (CuPy arrays,
    other dtypes, strided gradients), where the array code of ``Adam.update`` runs."""
    dtype = arrays[0].dtype
    if dtype not in (np.float32, np.float64) or backend.is_cupy_array(arrays[0]):
        return None
    if any(a.dtype != dtype or not a.flags.c_contiguous for a in arrays):
        return None
    from kernels import optim

    return optim.adam_update
