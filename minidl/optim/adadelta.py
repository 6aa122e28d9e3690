"""Adadelta: RMSprop whose step size comes from a running mean of past steps, not from lr alone."""
from minidl import backend
from minidl.optim.optimizer import Optimizer, with_weight_decay


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012), as ``torch.optim.Adadelta``:

        s <- rho * s + (1 - rho) * g^2                      running mean of g^2 (starts at 0)
        delta = sqrt(u + eps) / sqrt(s + eps) * g           the step, in the units of w
        u <- rho * u + (1 - rho) * delta^2                  running mean of delta^2 (starts at 0)
        w <- w - lr * delta

    ``weight_decay`` lambda first turns g into g + lambda * w.  The paper has no lr (lr = 1, the
    default); eps, not lr, sets the size of the first steps: about sqrt(eps) per weight.
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *, maximize=False):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def update(self, w, g, state, group):
        lr, rho, eps = group["lr"], group["rho"], group["eps"]
        xp = backend.get_array_module(w)
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(w)
            state["acc_delta"] = xp.zeros_like(w)
        state["step"] += 1  # not in the formula: counted as PyTorch does, for its state_dict layout
        s, u = state["square_avg"], state["acc_delta"]
        g = with_weight_decay(g, w, group["weight_decay"])
        s *= rho
        s += (1 - rho) * g * g
        delta = xp.sqrt(u + eps) / xp.sqrt(s + eps) * g
        u *= rho
        u += (1 - rho) * delta * delta
        w -= lr * delta
