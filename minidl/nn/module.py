"""Module and Parameter: the objects that hold a model's weights and find them for you.

A Module remembers, in assignment order, the Parameters, buffers and sub-Modules set as its
attributes.  Everything else walks that tree: ``parameters()`` for the optimizer,
``state_dict()`` for saving, ``train()``/``eval()`` for dropout, ``to()`` for dtypes and devices.
Names are PyTorch's (``0.weight``, ``fc.bias``), so weights copy over from ``torch.nn``.
"""
import collections
import textwrap

import numpy as np

from minidl import backend
from minidl.nn import hooks
from minidl.tensor import Tensor

_HOOK_DICTS = (
    "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_forward_hooks", "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called", "_backward_pre_hooks", "_backward_hooks",
)  # fmt: skip


class Parameter(Tensor):
    """A Tensor that is a module's weight: a leaf that requires grad (unless told otherwise).

    Assigned as a Module attribute it is registered, so ``parameters()`` finds it.
    ``Parameter(tensor)`` shares the tensor's data, as in PyTorch.
    """

    def __init__(self, data, requires_grad=True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class StateDictError(ValueError):
    """``load_state_dict`` found missing or unexpected keys or mismatched shapes."""


IncompatibleKeys = collections.namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix else name


def _as_array(value):
    """A state_dict value as an array: minidl Tensors, NumPy/CuPy arrays, lists, or anything
    with ``.detach()`` such as a torch tensor (converted without importing torch)."""
    if isinstance(value, Tensor):
        return value.array
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return value if backend.is_cupy_array(value) else np.asarray(value)


class Module:
    """Base class of every layer and model: subclass it, assign layers and Parameters in
    ``__init__`` and write ``forward``; call the module to run it.

        class MLP(md.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = md.nn.Linear(784, 128)
                self.fc2 = md.nn.Linear(128, 10)

            def forward(self, x):
                return self.fc2(F.relu(self.fc1(x)))
    """

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})
        for name in _HOOK_DICTS:  # hook id -> hook (or -> True: the hook's flags), see hooks.py
            object.__setattr__(self, name, collections.OrderedDict())

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        members = self.__dict__
        if isinstance(value, Parameter) or name in members.get("_parameters", ()):
            self.register_parameter(name, value)
        elif isinstance(value, Module) or name in members.get("_modules", ()):
            self.add_module(name, value)
        elif name in members.get("_buffers", ()):
            self.register_buffer(name, value)
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        """Called only when normal lookup fails: parameters, buffers and children live in dicts."""
        for store in ("_parameters", "_buffers", "_modules"):
            members = self.__dict__.get(store, {})
            if name in members:
                return members[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(store, {}):
                del self.__dict__[store][name]
                return
        object.__delattr__(self, name)

    def _register(self, kind, store, name, value):
        """Put ``value`` in one of the three member dicts, and nowhere else, under ``name``."""
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: cannot assign {kind} '{name}' before Module.__init__() is "
                "called; call super().__init__() first in your __init__"
            )
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"{type(self).__name__}: {kind} name must be a non-empty string without '.', got {name!r}")
        if hasattr(type(self), name):
            raise KeyError(f"{type(self).__name__}: cannot register {kind} '{name}': the class already has that attribute")
        self.__dict__.pop(name, None)
        for other in ("_parameters", "_buffers", "_modules"):
            if other != store:
                self.__dict__[other].pop(name, None)
        self.__dict__[store][name] = value

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter, or None for an absent one like ``bias=False``)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"{type(self).__name__}: cannot register {type(param).__name__} as parameter '{name}' "
                "(a Parameter or None expected; wrap a tensor as md.nn.Parameter(t))"
            )
        self._register("parameter", "_parameters", name, param)

    def register_buffer(self, name, tensor):
        """Register a Tensor that is state but not a weight (saved in ``state_dict``, moved by
        ``to()``, not returned by ``parameters()``)."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"{type(self).__name__}: cannot register {type(tensor).__name__} as buffer '{name}' "
                "(a Tensor or None expected)"
            )
        self._register("buffer", "_buffers", name, tensor)

    def add_module(self, name, module):
        """Register ``module`` as a child called ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(
                f"{type(self).__name__}: cannot register {type(module).__name__} as child module '{name}' "
                "(a Module or None expected)"
            )
        self._register("child module", "_modules", name, module)

    # ------------------------------------------------------------------ walking the tree
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(dotted name, module) for this module and every module below it, preorder: a module
        before its children, children in registration order, names starting from ``prefix``.

        A module reached twice (shared) is listed once, under its first name, and its children
        are not walked again; with ``remove_duplicate=False`` it is listed under every name.
        ``memo`` is the set of modules already listed (PyTorch's argument; leave it None).
        """
        memo = set() if memo is None else memo
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, _join(prefix, name), remove_duplicate)

    def modules(self):
        """This module and every module below it, each once, in the order of ``named_modules()``."""
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        """(name, module) for the direct children, each module once."""
        seen = set()
        for name, child in self._modules.items():
            if child is not None and child not in seen:
                seen.add(child)
                yield name, child

    def children(self):
        for _, child in self.named_children():
            yield child

    def _named_members(self, store, prefix, recurse, remove_duplicate):
        """(dotted name, tensor) from one member dict of every module; a shared tensor once
        (under its first name) unless ``remove_duplicate=False``."""
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, store).items():
                if value is not None and id(value) not in seen:
                    if remove_duplicate:
                        seen.add(id(value))
                    yield _join(module_prefix, name), value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(name, Parameter) pairs such as ``("0.weight", w)``; a shared parameter appears once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        """Every Parameter, once each: what an optimizer should update."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def apply(self, fn):
        """Call ``fn(module)`` on every child (recursively, each child's children first), then on
        this module; returns self.  Typical use: ``model.apply(init_weights)``."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` of every parameter (False freezes the module); returns self."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    # ------------------------------------------------------------------ modes and state
    def train(self, mode=True):
        """Set training mode (``self.training``) here and in every child; returns self."""
        self.training = bool(mode)
        for child in self.children():
            child.train(mode)
        return self

    def eval(self):
        """Evaluation mode: ``train(False)`` (dropout becomes the identity)."""
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        """Forget the gradients of all parameters: ``grad = None`` (or zeros in place)."""
        for param in self.parameters():
            if set_to_none:
                param.grad = None
            elif param.grad is not None:
                param.grad.zero_()

    def to(self, *args, device=None, dtype=None):
        """``model.to("cuda")``, ``model.to(md.float64)`` or ``model.to(device=..., dtype=...)``.

        Converts every parameter, its gradient and every buffer *in place* (``p.array`` is
        replaced), so the Parameter objects an optimizer already holds stay the same.  Only
        floating-point tensors change dtype; integer buffers are only moved.  Returns self.
        """
        device, dtype = backend.split_device_and_dtype(args, device, dtype)
        device = None if device is None else backend.check_device(device)
        dtype = None if dtype is None else np.dtype(dtype)
        if dtype is not None and not backend.is_floating(dtype):
            raise TypeError(f"{type(self).__name__}.to: only floating dtypes are accepted, got {dtype}")
        params = list(self.parameters())
        grads = [p.grad for p in params if p.grad is not None]
        for t in params + grads + list(self.buffers()):
            if dtype is not None and backend.is_floating(t.dtype):
                t.array = t.array.astype(dtype, copy=False)
            if device is not None:
                t.array = backend.to_device(t.array, device)
        return self

    def double(self):
        """Cast every floating-point parameter and buffer to float64, in place; returns self."""
        return self.to(np.float64)

    def float(self):
        """Cast every floating-point parameter and buffer to float32, in place; returns self."""
        return self.to(np.float32)

    def state_dict(self):
        """An ordered dict dotted name -> Tensor of every parameter and buffer, PyTorch's names
        and order.  The tensors are detached but share memory with the module, as in PyTorch:
        copy them to keep a snapshot while training goes on."""
        state = collections.OrderedDict()
        for prefix, module in self.named_modules(remove_duplicate=False):
            for store in (module._parameters, module._buffers):
                for name, value in store.items():
                    if value is not None:
                        state[_join(prefix, name)] = value.detach()
        return state

    def load_state_dict(self, state_dict, strict=True):
        """Copy values from ``state_dict`` (name -> minidl Tensor, NumPy array or torch tensor)
        into the existing parameters and buffers, cast to their dtype and device.

        Raises ``StateDictError`` listing every shape mismatch, and, when ``strict``, every
        missing and unexpected key; nothing is copied then.  Returns
        ``IncompatibleKeys(missing_keys, unexpected_keys)``.
        """
        own = self.state_dict()
        missing = [key for key in own if key not in state_dict]
        unexpected = [key for key in state_dict if key not in own]
        arrays = {key: _as_array(value) for key, value in state_dict.items() if key in own}
        problems = [
            f"size mismatch for {key}: expected {tuple(own[key].shape)}, got {tuple(array.shape)}"
            for key, array in arrays.items()
            if tuple(array.shape) != tuple(own[key].shape)
        ]
        if strict:
            problems += [f"missing keys: {', '.join(missing)}"] if missing else []
            problems += [f"unexpected keys: {', '.join(unexpected)}"] if unexpected else []
        if problems:
            raise StateDictError(
                f"load_state_dict: error(s) loading into {type(self).__name__}:\n  " + "\n  ".join(problems)
            )
        for key, array in arrays.items():
            target = own[key].array
            target[...] = backend.to_device(array, backend.device_of(target)).astype(target.dtype, copy=False)
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ running and printing
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}: subclasses of Module must define forward()")

    def __call__(self, *args, **kwargs):
        if self._forward_pre_hooks or self._forward_hooks or self._backward_pre_hooks or self._backward_hooks:
            return hooks.call_with_hooks(self, args, kwargs)
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ hooks (see hooks.py)
    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Call ``hook(module, args)`` before each forward; a value it returns replaces ``args``
        (a non-tuple is wrapped in one).  ``with_kwargs=True``: ``hook(module, args, kwargs)``,
        returning None or ``(args, kwargs)``.  Returns a handle (``handle.remove()``)."""
        flags = {"_forward_pre_hooks_with_kwargs": with_kwargs}
        return self._add_hook("_forward_pre_hooks", hook, prepend, flags)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False, always_call=False):
        """Call ``hook(module, args, output)`` after each forward; a value it returns replaces the
        output.  ``with_kwargs=True``: ``hook(module, args, kwargs, output)``.  ``always_call=True``:
        also called when forward raises.  Returns a handle (``handle.remove()``)."""
        flags = {"_forward_hooks_with_kwargs": with_kwargs, "_forward_hooks_always_called": always_call}
        return self._add_hook("_forward_hooks", hook, prepend, flags)

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """Call ``hook(module, grad_output)`` when the gradients w.r.t. the module's outputs are
        known; a tuple it returns replaces ``grad_output``.  Returns a handle."""
        return self._add_hook("_backward_pre_hooks", hook, prepend, {})

    def register_full_backward_hook(self, hook, prepend=False):
        """Call ``hook(module, grad_input, grad_output)`` when the gradients w.r.t. the module's
        positional inputs are known; a tuple it returns replaces ``grad_input``.  Both are tuples
        of Tensors (None where there is no gradient).  Returns a handle."""
        return self._add_hook("_backward_hooks", hook, prepend, {})

    def _add_hook(self, store, hook, prepend, flags):
        """Put ``hook`` in the ordered dict ``store`` (first if ``prepend``), flagged in the dicts
        of ``flags`` whose value is True; the handle removes it from all of them."""
        hooks_dict = getattr(self, store)
        handle = hooks.RemovableHandle(hooks_dict, extra_dict=[getattr(self, name) for name in flags])
        hooks_dict[handle.id] = hook
        for name, flagged in flags.items():
            if flagged:
                getattr(self, name)[handle.id] = True
        if prepend:
            hooks_dict.move_to_end(handle.id, last=False)
        return handle

    def extra_repr(self):
        """The layer's settings shown inside its repr's parentheses; override in layers."""
        return ""

    def __repr__(self):
        children = [f"({name}): {child!r}" for name, child in self._modules.items()]
        extra = self.extra_repr()
        if not children and "\n" not in extra:
            return f"{type(self).__name__}({extra})"
        lines = extra.split("\n") + children if extra else children
        return f"{type(self).__name__}(\n" + textwrap.indent("\n".join(lines), "  ") + "\n)"
