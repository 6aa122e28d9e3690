"""RMSprop: divide each gradient by a running root-mean-square of its recent values."""
from minidl import backend
from minidl.optim.optimizer import Optimizer, with_weight_decay


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e), as ``torch.optim.RMSprop``:

        s <- alpha * s + (1 - alpha) * g^2          (s starts at 0)
        w <- w - lr * g / (sqrt(s) + eps)

    Options:

        centered:     also track the mean gradient  gbar <- alpha * gbar + (1 - alpha) * g  and use
                      the variance instead of the raw second moment: sqrt(s - gbar^2) + eps
        momentum mu:  b <- mu * b + g / (sqrt(s) + eps),   w <- w - lr * b    (b starts at 0)
        weight_decay lambda:  g <- g + lambda * w first (L2 regularization)

    PyTorch computes gbar as ``gbar.lerp_(g, 1 - alpha)``, i.e. gbar + (1 - alpha) * (g - gbar):
    the same number up to rounding (about 1e-16 relative per step).
    """

    def __init__(
        self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, *, maximize=False
    ):
        defaults = dict(
            lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered,
            maximize=maximize,
        )  # fmt: skip
        super().__init__(params, defaults)

    def update(self, w, g, state, group):
        lr, alpha, eps, mu = group["lr"], group["alpha"], group["eps"], group["momentum"]
        xp = backend.get_array_module(w)
        g = with_weight_decay(g, w, group["weight_decay"])
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(w)
            if mu > 0:
                state["momentum_buffer"] = xp.zeros_like(w)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(w)
        state["step"] += 1  # not in the formula: counted as PyTorch does, for its state_dict layout
        s = state["square_avg"]
        s *= alpha
        s += (1 - alpha) * g * g
        if group["centered"]:
            gbar = state["grad_avg"]
            gbar *= alpha
            gbar += (1 - alpha) * g
            denominator = xp.sqrt(s - gbar * gbar) + eps
        else:
            denominator = xp.sqrt(s) + eps
        if mu > 0:
            b = state["momentum_buffer"]
            b *= mu
            b += g / denominator
            w -= lr * b
        else:
            w -= lr * g / denominator
