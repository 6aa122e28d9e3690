"""Learning-rate schedules, as ``torch.optim.lr_scheduler``: call ``scheduler.step()`` once per
epoch (or per batch), after ``optimizer.step()``, and it sets each param group's ``lr``.

    optimizer = md.optim.SGD(model.parameters(), lr=0.1)
    scheduler = md.optim.lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(model, optimizer)
        scheduler.step()

Each docstring gives the schedule in closed form, lr as a function of the epoch e (``last_epoch``,
0 when the scheduler is created).  Like PyTorch, ``step()`` computes the new lr from the *current*
one (multiplying by a factor, for most schedules): so several schedulers can drive one optimizer
together (their factors multiply, see ``ChainedScheduler``), and an lr changed by hand carries on.
"""
import math
import numbers
import types
import warnings

from minidl.optim.optimizer import Optimizer


class LRScheduler:
    """Base class: subclasses define ``get_lr()``, the new lr of every param group for epoch
    ``self.last_epoch``.  Creating a scheduler records each group's ``initial_lr`` (kept in
    ``self.base_lrs``) and applies epoch 0."""

    def __init__(self, optimizer, last_epoch=-1):
        _check_optimizer(type(self).__name__, optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for index, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"{type(self).__name__}: param 'initial_lr' is not specified in param_groups[{index}] "
                        f"when resuming at last_epoch={last_epoch}; load the optimizer's state_dict first"
                    )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True  # during the constructor's step(): a schedule's first value, not a change
        self.step()
        self._is_initial = False

    def _current_lrs(self):
        return [group["lr"] for group in self.optimizer.param_groups]

    def get_lr(self):
        raise NotImplementedError(f"{type(self).__name__}: subclasses of LRScheduler must define get_lr()")

    def step(self):
        """Move to the next epoch and set every group's lr.  (PyTorch's deprecated ``step(epoch)``
        is not supported: to jump to an epoch, create the scheduler with ``last_epoch``.)"""
        if self._step_count == 1 and self.optimizer.steps_taken == 0:
            warnings.warn(
                f"{type(self).__name__}.step() was called before optimizer.step(): call the optimizer first, "
                "or the first value of the schedule is skipped",
                UserWarning,
                stacklevel=2,
            )
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = self._current_lrs()

    def get_last_lr(self):
        """The lrs set by the last ``step()``, one per param group."""
        return list(self._last_lr)

    def state_dict(self):
        """Everything but the optimizer: the epoch, base_lrs and the schedule's settings."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)


def _check_optimizer(scheduler, optimizer):
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{scheduler}: {type(optimizer).__name__} is not an Optimizer")


def _check_positive_int(scheduler, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{scheduler}: {name} must be a positive integer, got {value!r}")


def _one_per_group(scheduler, name, optimizer, value):
    """``value`` for each param group: a list or tuple gives one per group, anything else is shared."""
    groups = len(optimizer.param_groups)
    values = list(value) if isinstance(value, (list, tuple)) else [value] * groups
    if len(values) != groups:
        raise ValueError(f"{scheduler}: expected {groups} {name}s, one per param group, got {len(values)}")
    return values


class LambdaLR(LRScheduler):
    """lr = base_lr * lr_lambda(e), with one function, or one per param group.

    A warm-up over 100 steps:  ``LambdaLR(optimizer, lambda e: min(1.0, (e + 1) / 100))``.
    ``state_dict`` keeps the attributes of callable objects, not plain functions (as PyTorch).
    """

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        _check_optimizer("LambdaLR", optimizer)
        groups = len(optimizer.param_groups)
        lambdas = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * groups
        if len(lambdas) != groups:
            raise ValueError(f"LambdaLR: expected {groups} lr_lambdas, one per param group, but got {len(lambdas)}")
        if not all(callable(fn) for fn in lambdas):
            raise TypeError("LambdaLR: lr_lambda should be a function (of the epoch), or a list of them")
        self.lr_lambdas = lambdas
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base_lr * fn(self.last_epoch) for fn, base_lr in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self):
        state = {key: value for key, value in super().state_dict().items() if key != "lr_lambdas"}
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else dict(vars(fn)) for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict):
        state = dict(state_dict)
        for fn, saved in zip(self.lr_lambdas, state.pop("lr_lambdas")):
            if saved is not None:
                fn.__dict__.update(saved)
        super().load_state_dict(state)


class StepLR(LRScheduler):
    """lr = base_lr * gamma^(e // step_size): multiplied by gamma every ``step_size`` epochs."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        _check_positive_int("StepLR", "step_size", step_size)
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


class MultiStepLR(LRScheduler):
    """lr = base_lr * gamma^(number of milestones <= e): multiplied by gamma at each milestone
    epoch (twice at a milestone listed twice)."""

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones = {}
        for milestone in milestones:
            self.milestones[milestone] = self.milestones.get(milestone, 0) + 1
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        times = self.milestones.get(self.last_epoch, 0)
        if times == 0:
            return self._current_lrs()
        return [lr * self.gamma**times for lr in self._current_lrs()]


class ExponentialLR(LRScheduler):
    """lr = base_lr * gamma^e: multiplied by gamma every epoch."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


class LinearLR(LRScheduler):
    """lr = base_lr * factor(e), the factor going linearly from ``start_factor`` to ``end_factor``
    over ``total_iters`` epochs and then staying there: a linear warm-up with the defaults
    (start at base_lr / 3, reach base_lr after 5 epochs).

    Each step multiplies the lr by factor(e) / factor(e - 1).
    """

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5, last_epoch=-1):
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor}")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._current_lrs()]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        change = self.end_factor - self.start_factor
        previous_factor_times_total = self.total_iters * self.start_factor + (self.last_epoch - 1) * change
        return [lr * (1.0 + change / previous_factor_times_total) for lr in self._current_lrs()]


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * e / T_max)) / 2: half a cosine from
    base_lr down to eta_min over T_max epochs (then back up, periodically, if training goes on).

    Each step applies the ratio of two consecutive values of the closed form to (lr - eta_min);
    at the bottom of the cosine, where that ratio would be 0/0, it adds the closed form's increment.
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        _check_positive_int("CosineAnnealingLR", "T_max", T_max)
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        e, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current_lrs()
        if (e - 1 - T) % (2 * T) == 0:
            return [
                lr + (base_lr - eta_min) * (1 - math.cos(math.pi / T)) / 2
                for lr, base_lr in zip(self._current_lrs(), self.base_lrs)
            ]
        ratio = (1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T))
        return [ratio * (lr - eta_min) + eta_min for lr in self._current_lrs()]


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith's super-convergence, in fastai's two phases), stepped after every
    batch, not every epoch.  The lr rises from initial_lr = max_lr / div_factor to max_lr over the
    first ``pct_start`` of the ``total_steps``, then anneals down to min_lr = initial_lr /
    final_div_factor at the last step.  In a phase that goes from a at step s0 to b at step s1:

        pct = (e - s0) / (s1 - s0)
        "cos":     lr = b + (a - b) / 2 * (cos(pi * pct) + 1)
        "linear":  lr = (b - a) * pct + a

    The first phase ends at step pct_start * total_steps - 1, the last at total_steps - 1.  With
    ``three_phase=True`` (the original paper) the second phase goes back down to initial_lr by step
    2 * pct_start * total_steps - 2, and a third one anneals to min_lr.

    With ``cycle_momentum`` (the default) the momentum moves the opposite way, from max_momentum
    down to base_momentum while the lr rises, and back: SGD's ``momentum``, or beta1
    (``betas[0]``) for optimizers with ``betas`` such as Adam.  total_steps is given, or is
    epochs * steps_per_epoch.  Stepping past total_steps raises ValueError.  The lr comes from the
    closed form, not from the current lr: this schedule does not chain with others.
    """

    def __init__(
        self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
        anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85, max_momentum=0.95, div_factor=25.0,
        final_div_factor=1e4, three_phase=False, last_epoch=-1,
    ):  # fmt: skip
        _check_optimizer("OneCycleLR", optimizer)
        if total_steps is not None:
            _check_positive_int("OneCycleLR", "total_steps", total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            _check_positive_int("OneCycleLR", "epochs", epochs)
            _check_positive_int("OneCycleLR", "steps_per_epoch", steps_per_epoch)
            total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("OneCycleLR: you must give either total_steps or both epochs and steps_per_epoch")
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(f"OneCycleLR: pct_start must be a float between 0 and 1, got {pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        self.total_steps, self._anneal_func_type, self.cycle_momentum = total_steps, anneal_strategy, cycle_momentum
        self._schedule_phases = _one_cycle_phases(pct_start, total_steps, three_phase)
        max_lrs = _one_per_group("OneCycleLR", "max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for group, group_max_lr in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = group_max_lr / div_factor
                group["max_lr"] = group_max_lr
                group["min_lr"] = group["initial_lr"] / final_div_factor
        if cycle_momentum:
            self._set_up_momentum(optimizer, base_momentum, max_momentum, last_epoch)
        super().__init__(optimizer, last_epoch)

    def _set_up_momentum(self, optimizer, base_momentum, max_momentum, last_epoch):
        if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
            raise ValueError(
                f"OneCycleLR: {type(optimizer).__name__} has neither momentum nor betas; "
                "pass cycle_momentum=False, or use an optimizer such as SGD or Adam"
            )
        self.use_beta1 = "betas" in optimizer.defaults
        max_momentums = _one_per_group("OneCycleLR", "max_momentum", optimizer, max_momentum)
        base_momentums = _one_per_group("OneCycleLR", "base_momentum", optimizer, base_momentum)
        if last_epoch == -1:
            for group, group_max, group_base in zip(optimizer.param_groups, max_momentums, base_momentums):
                self._set_momentum(group, group_max)
                group["max_momentum"], group["base_momentum"] = group_max, group_base

    def _set_momentum(self, group, momentum):
        if self.use_beta1:
            group["betas"] = (momentum, *group["betas"][1:])
        else:
            group["momentum"] = momentum

    def _anneal(self, start, end, pct):
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _phase_at(self, step):
        """The phase that ``step`` falls in (the last one for any later step) and how far into it."""
        start_step = 0.0
        for phase in self._schedule_phases:
            if step <= phase["end_step"] or phase is self._schedule_phases[-1]:
                return phase, (step - start_step) / (phase["end_step"] - start_step)
            start_step = phase["end_step"]

    def get_lr(self):
        """The lr of every group at step e; sets each group's momentum (or beta1) as it goes."""
        if self.last_epoch > self.total_steps:
            raise ValueError(
                f"OneCycleLR: tried to step {self.last_epoch} times, but the schedule has only "
                f"total_steps={self.total_steps}; create it with a larger total_steps (or epochs)"
            )
        phase, pct = self._phase_at(self.last_epoch)
        lrs = []
        for group in self.optimizer.param_groups:
            lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
            if self.cycle_momentum:
                momentum = self._anneal(group[phase["start_momentum"]], group[phase["end_momentum"]], pct)
                self._set_momentum(group, momentum)
        return lrs


def _one_cycle_phases(pct_start, total_steps, three_phase):
    """OneCycleLR's phases: the step each ends at, and the param group keys of the lr and the
    momentum at its start and end (PyTorch's ``_schedule_phases``, so state_dicts agree)."""

    def phase(end_step, start_lr, end_lr, start_momentum, end_momentum):
        return dict(
            end_step=end_step, start_lr=start_lr, end_lr=end_lr, start_momentum=start_momentum,
            end_momentum=end_momentum,
        )  # fmt: skip

    warm_up = phase(float(pct_start * total_steps) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum")
    if not three_phase:
        return [warm_up, phase(total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]
    return [
        warm_up,
        phase(float(2 * pct_start * total_steps) - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
        phase(total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
    ]


class ChainedScheduler(LRScheduler):
    """Step several schedulers of one optimizer together: their factors multiply.  A warm-up
    followed by a cosine decay:

        ChainedScheduler([LinearLR(opt, start_factor=0.1, total_iters=5),
                          CosineAnnealingLR(opt, T_max=100)])
    """

    def __init__(self, schedulers, optimizer=None):
        schedulers = list(schedulers)
        if not schedulers:
            raise ValueError("ChainedScheduler: expects at least one scheduler, got none")
        optimizer = optimizer or schedulers[0].optimizer
        for index, scheduler in enumerate(schedulers):
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(
                    f"ChainedScheduler: scheduler {index} is a ReduceLROnPlateau, whose step needs a metric"
                )
            if scheduler.optimizer is not optimizer:
                raise ValueError(f"ChainedScheduler: scheduler {index} belongs to another optimizer")
        self.optimizer = optimizer
        self._schedulers = schedulers
        self._last_lr = self._current_lrs()

    def step(self):
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = self._current_lrs()

    def state_dict(self):
        state = {key: value for key, value in super().state_dict().items() if key != "_schedulers"}
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def load_state_dict(self, state_dict):
        state = dict(state_dict)
        for scheduler, saved in zip(self._schedulers, state.pop("_schedulers")):
            scheduler.load_state_dict(saved)
        super().load_state_dict(state)


class ReduceLROnPlateau(LRScheduler):
    """Multiply the lr by ``factor`` when a metric has stopped improving: ``step(metric)``.

    The metric improves when it beats the best so far by more than ``threshold``:
    mode "min", threshold_mode "rel":  metric < best * (1 - threshold);  "abs":  metric < best - threshold
    (mode "max": metric > best * (1 + threshold), or > best + threshold).  After more than ``patience``
    epochs without improvement: lr <- max(lr * factor, min_lr), skipped when that changes lr by
    ``eps`` or less; then ``cooldown`` epochs pass before counting bad epochs again.
    """

    def __init__(
        self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel", cooldown=0,
        min_lr=0, eps=1e-8,
    ):  # fmt: skip
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor should be < 1.0, got {factor}")
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        _check_optimizer("ReduceLROnPlateau", optimizer)
        min_lrs = _one_per_group("ReduceLROnPlateau", "min_lr", optimizer, min_lr)
        self.optimizer = optimizer
        self.mode, self.factor, self.patience, self.cooldown = mode, factor, patience, cooldown
        self.threshold, self.threshold_mode, self.min_lrs, self.eps = threshold, threshold_mode, min_lrs, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = self._current_lrs()

    def is_better(self, metric, best):
        """Whether ``metric`` improves on ``best`` by more than the threshold."""
        if self.mode == "min" and self.threshold_mode == "rel":
            return metric < best * (1.0 - self.threshold)
        if self.mode == "min":
            return metric < best - self.threshold
        if self.threshold_mode == "rel":
            return metric > best * (self.threshold + 1.0)
        return metric > best + self.threshold

    def step(self, metrics):
        """Record this epoch's metric (a number or a 1-element tensor) and reduce lr if needed."""
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = self._current_lrs()

    def _reduce_lr(self):
        for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
            new_lr = max(group["lr"] * self.factor, min_lr)
            if group["lr"] - new_lr > self.eps:
                group["lr"] = new_lr
