"""The Optimizer base class: parameter groups, per-parameter state, ``step``, ``zero_grad``, saving.

An optimizer holds a list of *param groups*.  A group is a dict: the parameters under ``"params"``
and the hyperparameters (``lr``, ``betas``, ...) that apply to them, so one model can train its
layers with different learning rates.  ``optimizer.state[p]`` is a dict per parameter, created on
the parameter's first step, with PyTorch's keys and types: Tensors of the parameter's shape, dtype
and device (Adam's ``"exp_avg"``, SGD's ``"momentum_buffer"`` ...) and the step count ``"step"``,
which PyTorch keeps as a 0-d float32 tensor on the CPU.

A subclass states its formula once, in ``update(w, g, state, group)``, on arrays: change the
parameter array ``w`` in place, given its gradient array ``g``.  Its ``state`` holds the arrays of
those Tensors (shared: changing them in place changes the Tensors) and ``"step"`` as an int; entries
it adds become Tensors afterwards.  ``step()`` calls it for every parameter that has a gradient;
parameters whose ``.grad`` is None are skipped and their state is left alone, as in PyTorch.
(``Adam`` also runs its formula as one compiled loop on NumPy arrays, ``kernels.optim``: the same
operations, bit for bit, in one pass over memory.)

The arithmetic is PyTorch's (``foreach=False``), operation for operation, except where the formula
reads better in another order that gives the same number: PyTorch keeps running means with
``lerp`` and its CPU kernels fuse multiply-adds (FMA), so the results differ by rounding, about
1e-16 relative per step.  Over 200 steps that stays below 1e-13, unless the trajectory itself is
chaotic (then a difference of one rounding grows whatever the order, as it does between two
PyTorch runs started one rounding apart).
"""
import collections
import contextlib
import copy
import numbers

import numpy as np

from minidl import backend
from minidl.autograd import enable_grad
from minidl.tensor import Tensor
from minidl.versions import bump

# A hyperparameter of a param group -> (its name in the error message, PyTorch's; the valid values).
_VALID_HYPERPARAMETERS = {
    "lr": ("learning rate", lambda value: value >= 0),
    "momentum": ("momentum value", lambda value: value >= 0),
    "weight_decay": ("weight_decay value", lambda value: value >= 0),
    "eps": ("epsilon value", lambda value: value > 0),
    "alpha": ("alpha value", lambda value: value >= 0),
    "rho": ("rho value", lambda value: 0 <= value <= 1),
    "lr_decay": ("lr_decay value", lambda value: value >= 0),
    "initial_accumulator_value": ("initial_accumulator_value value", lambda value: value >= 0),
}


def with_weight_decay(g, w, weight_decay):
    """L2 regularization folded into the gradient: g + weight_decay * w (a new array)."""
    return g + weight_decay * w if weight_decay != 0 else g


def step_tensor(count):
    """The step count as PyTorch keeps it in an optimizer's state: a 0-d float32 tensor on the CPU,
    whatever the parameter's device."""
    return Tensor(float(count), dtype=np.float32)


class Optimizer:
    """Base class of every optimizer: ``Optimizer(params, defaults)``.

    ``params`` is an iterable of Tensors (``model.parameters()``) or of dicts, one per param group,
    each with ``"params"`` and any hyperparameters that differ from ``defaults``:

        md.optim.SGD([{"params": model.body.parameters()},
                      {"params": model.head.parameters(), "lr": 1e-3}], lr=1e-2, momentum=0.9)
    """

    def __init__(self, params, defaults):
        self._check_hyperparameters(defaults)
        self.defaults = defaults
        self.state = collections.defaultdict(dict)
        self.param_groups = []
        self.steps_taken = 0  # lets a learning-rate scheduler see whether step() has run yet
        if isinstance(params, Tensor):
            raise TypeError(
                f"{self._name}: params should be an iterable of Tensors or dicts, but got a single Tensor; "
                "pass [tensor] or model.parameters()"
            )
        groups = list(params)
        if not groups:
            raise ValueError(f"{self._name}: optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    @property
    def _name(self):
        return type(self).__name__

    # ------------------------------------------------------------------ param groups
    def add_param_group(self, param_group):
        """Add a group of parameters, with hyperparameters overriding the defaults (e.g. a layer
        unfrozen during fine-tuning).  Every parameter may appear only once in the optimizer."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{self._name}: a param group must be a dict, but got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{self._name}: a param group needs the key 'params', got keys {sorted(param_group)}")
        params = param_group["params"]
        if isinstance(params, set):
            raise TypeError(
                f"{self._name}: parameters must be in an ordered collection (a list), not a set: the order "
                "of a set changes between runs, and state_dict relies on the order"
            )
        params = [params] if isinstance(params, Tensor) else list(params)
        for param in params:
            self._check_parameter(param)
        group = {**self.defaults, **param_group, "params": params}
        self._check_hyperparameters(group)
        self._check_listed_once(params)
        self.param_groups.append(group)

    def _check_parameter(self, param):
        if not isinstance(param, Tensor):
            hint = " (pass model.parameters(), not named_parameters())" if isinstance(param, tuple) else ""
            raise TypeError(
                f"{self._name}: can only optimize Tensors, but one of the params is {type(param).__name__}{hint}"
            )
        if not param.is_leaf:
            raise ValueError(
                f"{self._name}: can't optimize a non-leaf Tensor (one computed from others); use .detach()"
            )

    def _check_listed_once(self, params):
        new = set()
        for position, param in enumerate(params):
            if id(param) in new:
                raise ValueError(
                    f"{self._name}: parameter {position} of the new param group is listed more than once; "
                    "list each parameter once"
                )
            new.add(id(param))
        for index, group in enumerate(self.param_groups):
            if any(id(p) in new for p in group["params"]):
                raise ValueError(
                    f"{self._name}: some parameters appear in more than one parameter group "
                    f"(the new group and group {index})"
                )

    def _check_hyperparameters(self, group):
        """PyTorch's checks, with PyTorch's messages, for every group (PyTorch checks only the defaults)."""
        for key, value in group.items():
            if key in _VALID_HYPERPARAMETERS:
                description, is_valid = _VALID_HYPERPARAMETERS[key]
                self._require_number(key, value)
                if not is_valid(value):
                    raise ValueError(f"{self._name}: Invalid {description}: {value}")
        if "betas" in group:
            betas = group["betas"]
            if not isinstance(betas, (tuple, list)) or len(betas) != 2:
                raise TypeError(f"{self._name}: betas must be a pair (beta1, beta2), got {betas!r}")
            for index, beta in enumerate(betas):
                self._require_number(f"betas[{index}]", beta)
                if not 0 <= beta < 1:
                    raise ValueError(f"{self._name}: Invalid beta parameter at index {index}: {beta}")

    def _require_number(self, key, value):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{self._name}: {key} must be a real number, got {value!r}")

    # ------------------------------------------------------------------ the update
    def zero_grad(self, set_to_none=True):
        """Forget the gradients: ``p.grad = None`` (or fill them with zeros)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

    def step(self, closure=None):
        """Update every parameter that has a gradient (with ``maximize=True``, climb: g becomes -g).

        ``closure``: an optional function that recomputes the loss and calls backward; it is
        called first, and its loss is returned.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = -p.grad.array if group.get("maximize") else p.grad.array
                with self._state_arrays(p) as state:
                    self.update(p.array, g, state, group)
                bump(p)  # an in-place write: a graph that saved p can no longer backward
        self.steps_taken += 1
        return loss

    def update(self, w, g, state, group):
        """Apply the formula to one parameter: change the array ``w`` in place, given its gradient
        ``g`` (never modify it), its ``state`` dict (arrays, see ``_state_arrays``) and its param
        ``group``."""
        raise NotImplementedError(f"{self._name}: subclasses of Optimizer must define update()")

    @contextlib.contextmanager
    def _state_arrays(self, p):
        """``p``'s state as ``update()`` reads it: the arrays of the Tensors in ``self.state[p]``
        (the same arrays, so in-place changes show in the Tensors) and ``"step"`` as an int.
        On leaving the block, new arrays are wrapped in Tensors and the step count is stored back;
        a parameter gets an entry in ``self.state`` only once it has some state, as in PyTorch."""
        tensors = self.state.get(p, {})
        for key, value in tensors.items():  # state loaded before model.to(device) follows p there
            if key != "step" and value.device != p.device:
                tensors[key] = value.to(p.device)
        state = {key: int(value.item()) if key == "step" else value.array for key, value in tensors.items()}
        yield state
        for key, value in state.items():
            if key == "step":
                tensors[key] = step_tensor(value)
            elif key not in tensors or tensors[key].array is not value:
                tensors[key] = Tensor(value)
        if tensors:
            self.state[p] = tensors

    # ------------------------------------------------------------------ saving and loading
    def state_dict(self):
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}``, PyTorch's
        layout: parameters are numbered in the order of the groups.  The Tensors are copies, so the
        dict is a snapshot (PyTorch's shares them with the optimizer)."""
        index = {}
        groups = []
        for group in self.param_groups:
            packed = copy.deepcopy({key: value for key, value in group.items() if key != "params"})
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: copy.deepcopy(values) for p, values in self.state.items() if values}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyperparameters and state saved by ``state_dict()`` (of minidl or of the same
        ``torch.optim`` class: torch tensors are accepted) into this optimizer's parameters."""
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{self._name}.load_state_dict: loaded state dict has {len(saved_groups)} parameter groups, "
                f"the optimizer has {len(self.param_groups)}"
            )
        sizes, saved_sizes = [len(g["params"]) for g in self.param_groups], [len(g["params"]) for g in saved_groups]
        if sizes != saved_sizes:
            raise ValueError(
                f"{self._name}.load_state_dict: loaded state dict contains parameter groups of sizes {saved_sizes}, "
                f"which don't match the optimizer's {sizes}"
            )
        params = {
            saved: param
            for saved_group, group in zip(saved_groups, self.param_groups)
            for saved, param in zip(saved_group["params"], group["params"])
        }
        state = collections.defaultdict(dict)
        for saved, values in state_dict["state"].items():
            if saved not in params:
                raise ValueError(
                    f"{self._name}.load_state_dict: state for parameter {saved}, which no param group lists"
                )
            state[params[saved]] = {key: self._restore(key, value, params[saved]) for key, value in values.items()}
        new_groups = [{**saved, "params": group["params"]} for saved, group in zip(saved_groups, self.param_groups)]
        for group in new_groups:
            self._check_hyperparameters(group)
        self.param_groups, self.state = new_groups, state

    def _restore(self, key, value, param):
        """A saved state value for ``param`` as a Tensor: the step count as PyTorch keeps it, arrays
        copied onto the parameter's device with its dtype."""
        if key == "step":
            return step_tensor(value)
        if isinstance(value, Tensor):
            value = value.array
        elif hasattr(value, "detach"):  # a torch tensor, converted without importing torch
            value = value.detach().cpu().numpy()
        array = value if backend.is_cupy_array(value) else np.asarray(value)
        if array.shape != param.shape:
            raise ValueError(
                f"{self._name}.load_state_dict: state '{key}' has shape {tuple(array.shape)}, "
                f"its parameter has shape {tuple(param.shape)}"
            )
        return Tensor(backend.to_device(array, param.device).astype(param.dtype))

    def __repr__(self):
        lines = [f"{self._name} ("]
        for index, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {index}")
            lines += [f"    {key}: {group[key]}" for key in sorted(group) if key != "params"]
        return "\n".join(lines) + "\n)"
