"""Adagrad: each weight's step shrinks with the sum of all its squared gradients so far."""
from minidl import backend
from minidl.optim.optimizer import Optimizer, with_weight_decay


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), as ``torch.optim.Adagrad``.  With t the step count (from 1):

        s <- s + g^2                              (s starts at initial_accumulator_value)
        w <- w - lr_t * g / (sqrt(s) + eps),      lr_t = lr / (1 + (t - 1) * lr_decay)

    ``weight_decay`` lambda first turns g into g + lambda * w.  Since s only grows, the steps only
    shrink: good for sparse features, but training can stall (what RMSprop and Adadelta fix).
    As in PyTorch, the state of every parameter is created with the optimizer.
    """

    def __init__(
        self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, *, maximize=False
    ):
        defaults = dict(
            lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, initial_accumulator_value=initial_accumulator_value,
            eps=eps, maximize=maximize,
        )  # fmt: skip
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                with self._state_arrays(p) as state:
                    self._init_state(state, p.array, group)

    def _init_state(self, state, w, group):
        if not state:
            state["step"] = 0
            state["sum"] = backend.get_array_module(w).full_like(w, group["initial_accumulator_value"])

    def update(self, w, g, state, group):
        self._init_state(state, w, group)  # for a parameter added later by add_param_group
        state["step"] += 1
        t, s = state["step"], state["sum"]
        g = with_weight_decay(g, w, group["weight_decay"])
        lr_t = group["lr"] / (1 + (t - 1) * group["lr_decay"])
        s += g * g
        w -= lr_t * g / (backend.get_array_module(w).sqrt(s) + group["eps"])
