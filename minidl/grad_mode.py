"""Grad mode: whether the ops run now are recorded for backward, kept per thread (as PyTorch).

Each thread has its own switch and every new thread starts with recording on, so a
``no_grad()`` block in one thread (an evaluation, an optimizer step) never stops another
thread's training: trials run side by side in a thread pool or a Dask worker stay independent.

    with md.no_grad(): ...                # recording off in this thread, inside the block
    with md.enable_grad(): ...            # on again, even inside no_grad
    md.set_grad_enabled(False)            # a call (sets it), a context manager or a decorator
    with md.inference_mode(): ...         # no_grad for inference (see its docstring)
"""
import contextlib
import threading


class _ThreadState(threading.local):
    """One instance per thread; ``__init__`` runs again in each thread that first touches it."""

    def __init__(self):
        self.grad_enabled = True


_state = _ThreadState()


def is_grad_enabled():
    """True when operations in this thread are being recorded for backward."""
    return _state.grad_enabled


class _GradModeSwitch(contextlib.ContextDecorator):
    """Sets this thread's grad mode to ``mode`` for a ``with`` block or a decorated function,
    and puts back the mode it found when the block ends (also on an exception)."""

    mode = True

    def __enter__(self):
        self.previous = _state.grad_enabled
        _state.grad_enabled = self.mode
        return self

    def __exit__(self, *exc):
        _state.grad_enabled = self.previous
        return False


class no_grad(_GradModeSwitch):
    """``with md.no_grad(): ...`` runs ops without recording a graph (inference, updates)."""

    mode = False


class enable_grad(_GradModeSwitch):
    """``with md.enable_grad(): ...`` records a graph even inside ``no_grad``."""

    mode = True


class inference_mode(_GradModeSwitch):
    """``with md.inference_mode(): ...``: PyTorch's faster no_grad for pure inference.

    minidl has no separate inference tensors, so this is ``no_grad`` (``inference_mode(False)``
    records as usual): the results are the same as PyTorch's, only PyTorch's extra checks on
    using inference tensors in a graph later are absent.
    """

    def __init__(self, mode=True):
        self.mode = not mode


class set_grad_enabled(_GradModeSwitch):
    """Turn recording on or off in this thread: ``md.set_grad_enabled(False)`` takes effect at
    once; as ``with md.set_grad_enabled(flag): ...`` or a decorator, the mode found when it was
    made comes back after the block (PyTorch's behaviour)."""

    def __init__(self, mode):
        self.mode = bool(mode)
        self.previous = _state.grad_enabled
        _state.grad_enabled = self.mode

    def __call__(self, function):
        _state.grad_enabled = self.previous  # a decorator changes nothing until the call
        return super().__call__(function)

    def __enter__(self):
        _state.grad_enabled = self.mode
        return self
