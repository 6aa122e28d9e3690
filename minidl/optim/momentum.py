"""Classical momentum (Polyak's heavy ball), the form found in textbooks."""
from minidl import backend
from minidl.optim.optimizer import Optimizer, with_weight_decay


def update_velocity(state, g, momentum, dampening=0):
    """v <- momentum * v + (1 - dampening) * g, kept in ``state["momentum_buffer"]``.

    On a parameter's first step there is no v yet, and v starts as (a copy of) g.
    """
    if "momentum_buffer" not in state:
        state["momentum_buffer"] = backend.get_array_module(g).array(g, copy=True)  # an array even for 0-d g
    else:
        v = state["momentum_buffer"]
        v *= momentum
        v += (1 - dampening) * g
    return state["momentum_buffer"]


class Momentum(Optimizer):
    """Gradient descent with momentum: v remembers past gradients, and w moves along v.

        v <- mu * v + g          (v starts at g on the first step)
        w <- w - lr * v

    ``nesterov=True`` steps along the look-ahead gradient instead:  w <- w - lr * (g + mu * v).
    ``weight_decay`` lambda first turns g into g + lambda * w (L2 regularization).

    Relation to PyTorch: this is exactly ``torch.optim.SGD(params, lr, momentum=mu, dampening=0,
    nesterov=...)``, same arithmetic and the same state ("momentum_buffer"), so state dicts load
    either way.  The other textbook form, v <- mu v - lr g, w <- w + v, gives the same steps
    while lr is constant (its v is -lr times ours), but not once a scheduler changes lr.
    """

    def __init__(self, params, lr=1e-3, momentum=0.9, weight_decay=0, nesterov=False, *, maximize=False):
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def update(self, w, g, state, group):
        lr, mu = group["lr"], group["momentum"]
        g = with_weight_decay(g, w, group["weight_decay"])
        v = update_velocity(state, g, mu)
        if group["nesterov"]:
            w -= lr * (g + mu * v)
        else:
            w -= lr * v
