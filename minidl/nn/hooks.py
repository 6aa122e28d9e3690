"""Module hooks: functions a Module calls around its forward pass and during backward, with
PyTorch's rules.  Each ``register_*`` method returns a ``RemovableHandle``; ``handle.remove()``
takes the hook out.  Hooks of one kind run in the order they were registered (``prepend=True``
puts one first).

    forward pre-hook   hook(module, args) -> None or new args             before forward
    forward hook       hook(module, args, output) -> None or new output   after forward
    backward pre-hook  hook(module, grad_output) -> None or new grad_output
    backward hook      hook(module, grad_input, grad_output) -> None or new grad_input

``grad_output`` holds the gradients of the loss w.r.t. the module's outputs, ``grad_input``
w.r.t. its positional inputs (None where an input is not a Tensor or needs no gradient), each a
tuple.  How backward hooks see them: the call passes its tensor inputs, and then its outputs,
through an identity op (``BackwardHookFunction``).  Backward reaches the outputs' identity
first (that gives grad_output), then runs the module's own ops, then reaches the inputs' identity
(that gives grad_input) and calls the hooks, whose answer is what flows on.
"""
import warnings

from minidl.autograd import Function, RemovableHandle, is_grad_enabled  # noqa: F401  (RemovableHandle: also here)
from minidl.tensor import Tensor


def call_with_hooks(module, args, kwargs):
    """``module(*args, **kwargs)`` with its hooks, as PyTorch's ``Module.__call__`` runs them."""
    result, called = None, set()
    try:
        args, kwargs = _run_forward_pre_hooks(module, args, kwargs)
        backward_hook = None
        if module._backward_hooks or module._backward_pre_hooks:
            backward_hook = BackwardHook(module)
            args = backward_hook.wrap_inputs(args)
        result = module.forward(*args, **kwargs)
        for hook_id, hook in list(module._forward_hooks.items()):
            called.add(hook_id)
            result = _run_forward_hook(module, hook_id, hook, args, kwargs, result)
        return result if backward_hook is None else backward_hook.wrap_outputs(result)
    except Exception:
        _run_always_called_hooks(module, called, args, kwargs, result)
        raise


def _run_forward_pre_hooks(module, args, kwargs):
    for hook_id, hook in list(module._forward_pre_hooks.items()):
        if hook_id in module._forward_pre_hooks_with_kwargs:
            args, kwargs = _new_args_and_kwargs(module, hook(module, args, kwargs), args, kwargs)
        else:
            result = hook(module, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
    return args, kwargs


def _new_args_and_kwargs(module, result, args, kwargs):
    if result is None:
        return args, kwargs
    if not (isinstance(result, tuple) and len(result) == 2):
        raise RuntimeError(
            f"{type(module).__name__}: a forward pre-hook registered with with_kwargs=True must return None "
            f"or a tuple (new_args, new_kwargs), but got {result!r}"
        )
    return result


def _run_forward_hook(module, hook_id, hook, args, kwargs, result):
    if hook_id in module._forward_hooks_with_kwargs:
        replacement = hook(module, args, kwargs, result)
    else:
        replacement = hook(module, args, result)
    return result if replacement is None else replacement


def _run_always_called_hooks(module, called, args, kwargs, result):
    """After forward (or a hook) raised: the ``always_call=True`` hooks that have not run yet run
    now (with ``output=None`` if forward itself failed); their own errors become warnings."""
    for hook_id, hook in list(module._forward_hooks.items()):
        if hook_id in module._forward_hooks_always_called and hook_id not in called:
            try:
                result = _run_forward_hook(module, hook_id, hook, args, kwargs, result)
            except Exception as error:
                warnings.warn(
                    f"{type(module).__name__}: forward hook with always_call=True raised an exception that was "
                    f"silenced as another error was raised in forward: {error}"
                )


class BackwardHookFunction(Function):
    """The identity on its inputs; backward hands the gradients to ``on_backward(grads)``, which
    returns those to send on (arrays, None for no gradient)."""

    @staticmethod
    def forward(ctx, *arrays, on_backward):
        ctx.on_backward = on_backward
        return arrays

    @staticmethod
    def backward(ctx, *grads):
        return ctx.on_backward(grads)


class BackwardHook:
    """Connects one call of a module to its backward hooks (PyTorch's ``BackwardHook``)."""

    def __init__(self, module):
        self.module = module
        self.hooks = list(module._backward_hooks.values())  # the hooks registered when forward ran
        self.pre_hooks = list(module._backward_pre_hooks.values())
        self.grad_outputs = None  # set when backward reaches the outputs
        self.input_positions = None  # positions of the inputs that need a gradient (None: no such input)
        self.output_positions = None

    def wrap_inputs(self, args):
        self.n_inputs = len(args)
        args, self.input_positions = _through_identity(args, self._reached_inputs)
        return args

    def wrap_outputs(self, result):
        if not isinstance(result, (Tensor, tuple)):
            warnings.warn(
                f"{type(self.module).__name__}: for backward hooks to be called, the module's output should be "
                f"a Tensor or a tuple of Tensors, but it is {type(result).__name__}"
            )
        outputs = result if isinstance(result, tuple) else (result,)
        self.n_outputs = len(outputs)
        outputs, self.output_positions = _through_identity(outputs, self._reached_outputs)
        return outputs if isinstance(result, tuple) else outputs[0]

    def _reached_outputs(self, grads):
        """Backward reached the outputs: run the backward pre-hooks on grad_output; if no input
        needs a gradient, the backward hooks run now, with grad_input all None."""
        self.grad_outputs = _pack(self.output_positions, grads, self.n_outputs)
        for hook in self.pre_hooks:
            replacement = hook(self.module, self.grad_outputs)
            if replacement is not None:
                self.grad_outputs = self._checked("backward pre-hook", "grad_output", replacement, self.grad_outputs)
        grad_outputs = self.grad_outputs
        if self.input_positions is None:
            self._run_hooks_without_inputs()
        return tuple(_array(grad_outputs[i]) for i in self.output_positions)

    def _run_hooks_without_inputs(self):
        if self.hooks:
            warnings.warn(
                f"{type(self.module).__name__}: full backward hook is firing when gradients are computed with "
                "respect to module outputs since no inputs require gradients"
            )
        grad_inputs = (None,) * self.n_inputs
        for hook in self.hooks:
            result = hook(self.module, grad_inputs, self.grad_outputs)
            if result is not None and not (isinstance(result, tuple) and all(g is None for g in result)):
                raise RuntimeError(
                    f"{type(self.module).__name__}: a backward hook of a module where no input requires "
                    "gradient should always return None or None for all gradients"
                )
        self.grad_outputs = None

    def _reached_inputs(self, grads):
        """Backward reached the inputs: call the backward hooks with grad_input and grad_output;
        what they return goes on to the inputs."""
        if self.grad_outputs is None:  # the gradient reached the inputs without passing the outputs
            return grads
        grad_inputs = _pack(self.input_positions, grads, self.n_inputs)
        for hook in self.hooks:
            replacement = hook(self.module, grad_inputs, self.grad_outputs)
            if replacement is not None:
                grad_inputs = self._checked("backward hook", "grad_input", replacement, grad_inputs)
        self.grad_outputs = None
        return tuple(_array(grad_inputs[i]) for i in self.input_positions)

    def _checked(self, kind, name, replacement, original):
        """A hook's replacement for ``original``: as many entries, each None or a Tensor of the
        original's shape."""
        replacement = tuple(replacement) if isinstance(replacement, (tuple, list)) else (replacement,)
        layer = type(self.module).__name__
        if len(replacement) != len(original):
            raise RuntimeError(
                f"{layer}: {kind} returned an invalid number of {name}, got {len(replacement)}, "
                f"but expected {len(original)}"
            )
        for i, (new, old) in enumerate(zip(replacement, original)):
            if new is not None and old is not None and tuple(new.shape) != tuple(old.shape):
                raise RuntimeError(
                    f"{layer}: {kind} returned {name}[{i}] of shape {tuple(new.shape)}, "
                    f"expected shape {tuple(old.shape)}"
                )
        return replacement


def _through_identity(values, on_backward):
    """``values`` with the Tensors that need a gradient passed through one ``BackwardHookFunction``;
    also their positions (None when grad mode is off or no Tensor needs a gradient)."""
    positions = [i for i, value in enumerate(values) if isinstance(value, Tensor) and value.requires_grad]
    if not (positions and is_grad_enabled()):
        return values, None
    originals = [values[i] for i in positions]
    passed = BackwardHookFunction.apply(*originals, on_backward=on_backward)
    values = list(values)
    for i, original, new in zip(positions, originals, passed):
        new._version_counter = original._version_counter  # the same array: in-place writes count for both
        values[i] = new
    return tuple(values), positions


def _pack(positions, grads, size):
    """A tuple of ``size`` entries: the gradients (as Tensors) at ``positions``, None elsewhere."""
    packed = [None] * size
    for i, grad in zip(positions, grads):
        packed[i] = None if grad is None else Tensor(grad)
    return tuple(packed)


def _array(grad):
    return None if grad is None else grad.array
