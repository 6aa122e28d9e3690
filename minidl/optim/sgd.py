"""Stochastic gradient descent, with PyTorch's momentum, dampening, Nesterov and weight decay options."""
from minidl.optim.momentum import update_velocity
from minidl.optim.optimizer import Optimizer, with_weight_decay


class SGD(Optimizer):
    """Stochastic gradient descent, as ``torch.optim.SGD``:

        w <- w - lr * g

    Options, applied to g in this order before the update:

        weight_decay lambda:  g <- g + lambda * w                   (L2 regularization)
        momentum mu:          b <- mu * b + (1 - dampening) * g     (b starts at g on the first step)
                              g <- g + mu * b  if nesterov,  else  g <- b

    With ``dampening=0`` the momentum is the classical one of ``md.optim.Momentum``.
    """

    def __init__(
        self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *, maximize=False
    ):
        defaults = dict(
            lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
            maximize=maximize,
        )  # fmt: skip
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group):
        super()._check_hyperparameters(group)
        if group.get("nesterov") and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"{self._name}: Nesterov momentum requires a momentum and zero dampening")

    def update(self, w, g, state, group):
        mu = group["momentum"]
        g = with_weight_decay(g, w, group["weight_decay"])
        if mu != 0:
            b = update_velocity(state, g, mu, group["dampening"])
            g = g + mu * b if group["nesterov"] else b
        w -= group["lr"] * g
