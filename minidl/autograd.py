"""Reverse-mode automatic differentiation: Function, the graph, backward.

How it works, in four sentences:

1. A ``Function`` has ``forward(ctx, *arrays)`` and ``backward(ctx, *grad_outputs)`` that work on
   raw NumPy/CuPy arrays; ``Function.apply(*tensors)`` runs forward and, when grad mode is on and
   some input requires grad, records a ``Node`` that remembers the function, its ``ctx`` and where
   each input came from (an *edge*).
2. ``Tensor.backward()`` counts, for every node reachable from the output, how many consumers
   will send it a gradient.
3. It then visits the nodes so that a node runs only after all its consumers have (reverse
   topological order, with an explicit stack: a graph 10,000 ops deep is no problem), sums the
   gradients each node receives, calls its ``backward`` and passes the results along the edges.
4. Gradients arriving at leaves (tensors made by the user with ``requires_grad=True``) are added
   to ``leaf.grad`` out of place.

A tensor's hooks (``t.register_hook(hook)``) see its gradient, summed over every use of the
tensor, before anything uses it: before the node that made it runs its backward, or before it
is added to a leaf's ``.grad``.  A hook may return a replacement gradient.

Grad mode (``no_grad`` and friends, per thread) lives in ``grad_mode.py``; the version
counters that catch a saved array overwritten in place, in ``versions.py``.

``iter_backward`` yields one ``BackwardStep`` per node, so a learner can watch the walk; the
ordinary ``backward`` simply runs it to the end.  ``step_through`` is the same walk, printed
for learners: each step also says where every gradient goes.
"""
import collections
import html
import itertools
import weakref

import numpy as np

from minidl import backend, versions
from minidl.grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401

class Context:
    """A Function's notebook: what forward saves for backward.

    ``ctx.save_for_backward(*arrays)`` stores arrays that ``ctx.saved`` gives back; any other
    value can be kept as an attribute (``ctx.dim = dim``).  ``ctx.needs_input_grad[i]`` tells
    backward whether input ``i`` wants a gradient at all, so it can skip work.
    """

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self._saved = ()
        self._freed = False
        self.saved_versions = ()  # versions of the tensors whose arrays were saved (see versions.py)

    def save_for_backward(self, *arrays):
        self._saved = arrays

    @property
    def saved(self):
        if self._freed:
            raise RuntimeError(
                "Trying to backward through the graph a second time: its saved arrays were "
                "freed after the first backward. Pass retain_graph=True to the first "
                "backward() if you need to go through it again."
            )
        return self._saved

    def free(self):
        self._saved = ()
        self._freed = True


class Function:
    """Base class of every differentiable operation.

    Subclasses write two static methods on raw arrays (``xp`` is numpy or cupy)::

        class Mul(Function):
            @staticmethod
            def forward(ctx, a, b):
                ctx.save_for_backward(a, b)
                return a * b

            @staticmethod
            def backward(ctx, grad):
                a, b = ctx.saved
                return grad * b, grad * a      # one gradient per input (None: no gradient)

    Gradients may keep the broadcast shape of the output: the engine sums them back to each
    input's shape and casts them to its dtype (see ``sum_to_shape``).

    For gradients of gradients (``create_graph=True``, see ``minidl/higher_order.py``) the
    backward formula must run on Tensors, so that it is recorded too: either the op's own
    ``backward`` (``differentiable_backward = True``: its formula uses only operators and
    methods a Tensor has, and saves only its inputs and outputs, like Mul's above), or a
    ``graph_backward(ctx, *grads)`` written with Tensor ops.
    """

    is_view = False  # True for ops whose output may look into input 0's array (reshape, x[i], ...)
    differentiable_backward = False  # True where ``backward`` also runs on Tensors (higher_order.py)
    first_order_only = ""  # why an op has neither, named in the error a second derivative gets

    @staticmethod
    def forward(ctx, *arrays, **options):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **options):
        """Run ``forward`` on the inputs' arrays and record a graph node when needed.

        Positional arguments are Tensors (the differentiable inputs); keyword arguments are
        passed to ``forward`` unchanged (dims, sizes, flags).
        """
        check_same_device(cls.__name__, inputs, options)
        if is_grad_enabled():
            versions.refresh_views(inputs)
        needs_grad = tuple(t.requires_grad for t in inputs)
        record = is_grad_enabled() and any(needs_grad)
        ctx = Context(needs_grad if record else (False,) * len(inputs))
        outputs = cls.forward(ctx, *(t.array for t in inputs), **options)
        single = not isinstance(outputs, tuple)
        outputs = (outputs,) if single else outputs
        node = Node(cls, ctx, inputs, outputs) if record else None
        tensors = tuple(Tensor._from_op(out, node, i) for i, out in enumerate(outputs))
        if record:
            ctx.saved_versions = versions.saved_versions(ctx._saved, inputs + tensors)
            ctx.saved_sources = _saved_sources(ctx._saved, [t.array for t in inputs], outputs)
        if cls.is_view:
            versions.mark_view(tensors[0], inputs[0], cls, options)
        return tensors[0] if single else tensors


def _saved_sources(saved, inputs, outputs):
    """For each saved array: ``("input", i)`` or ``("output", i)`` when it is that input's array
    or the array forward returned as output i, else None (an array derived from them).  A backward
    pass that builds a graph uses this to attach the saved values back to it (``higher_order.py``)."""
    def source(array):
        for kind, arrays in (("input", inputs), ("output", outputs)):
            for index, candidate in enumerate(arrays):
                if candidate is array:
                    return kind, index
        return None

    return tuple(source(array) for array in saved)


def check_same_device(op_name, tensors, options=None):
    """All ``tensors`` on one device, and the arrays among the keyword ``options`` (masks,
    indices: an array, or arrays in a tuple or list) on that device too."""
    devices = {t.device for t in tensors}
    if len(devices) > 1:
        shapes = ", ".join(f"{tuple(t.shape)} on {t.device}" for t in tensors)
        raise backend.DeviceError(
            f"{op_name}: expected all tensors on the same device, got {shapes}; "
            "move them with .to(device) first"
        )
    if not (devices and options):
        return
    (device,) = devices
    for name, value in options.items():
        for array in _arrays_in(value):
            if backend.device_of(array) != device:
                raise backend.DeviceError(
                    f"{op_name}: expected the array option {name}= on {device} like the input tensors, "
                    f"got an array of shape {array.shape} on {backend.device_of(array)}; move it to {device} first"
                )


def _arrays_in(value):
    """The arrays in an option: the value itself, or those in a tuple or list (an index)."""
    if backend.is_array(value):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _arrays_in(item)


class Node:
    """A recorded call of a Function: the ``grad_fn`` of the tensors it produced.

    ``edges[i]`` says where the gradient of input ``i`` goes: ``(node, output_index)`` for a
    tensor produced by another op, ``(None, leaf_tensor)`` for a leaf that requires grad, or
    ``None`` for an input that needs no gradient.
    """

    def __init__(self, function, ctx, inputs, outputs):
        self.function = function
        self.ctx = ctx
        self.edges = tuple(_edge_to(t) for t in inputs)
        self.input_meta = tuple((t.shape, t.dtype) for t in inputs)
        self.output_meta = tuple((out.shape, out.dtype) for out in outputs)
        self.retained = {}  # output index -> non-leaf Tensor that asked for retain_grad()
        self.tensor_hooks = {}  # output index -> hooks registered on that output (register_hook)
        # 0-d values by position, so a picture of the graph shows a scalar's value, not its shape ()
        self.scalar_inputs = {i: t.array for i, t in enumerate(inputs) if t.array.ndim == 0}
        self.scalar_outputs = {i: out for i, out in enumerate(outputs) if out.ndim == 0}

    @property
    def name(self):
        return self.function.__name__

    @property
    def parents(self):
        """The nodes that produced this node's inputs."""
        return [edge[0] for edge in self.edges if edge is not None and edge[0] is not None]

    def __repr__(self):
        return f"<{self.name}Backward>"


def _edge_to(tensor):
    if tensor.grad_fn is not None:
        return (tensor.grad_fn, tensor.output_index)
    if tensor.requires_grad:
        return (None, tensor)
    return None


def sum_to_shape(grad, shape):
    """Sum a broadcast gradient back to ``shape``: the backward of NumPy broadcasting.

    Leading axes that broadcasting added are summed away; axes where the input had size 1
    are summed with ``keepdims``.  E.g. a (4, 3) gradient for a (3,) input is summed over axis 0.
    """
    shape = tuple(shape)
    if grad.shape == shape:
        return grad
    added = grad.ndim - len(shape)
    stretched = tuple(added + i for i, n in enumerate(shape) if n == 1 and grad.shape[added + i] != 1)
    grad = grad.sum(axis=tuple(range(added)) + stretched, keepdims=True)
    return grad.reshape(shape)


class BackwardStep:
    """One node of a backward pass: what came in and what went out.

    ``grad_outputs``: gradients of the loss w.r.t. the node's outputs (summed over consumers).
    ``grad_inputs``: the gradients it sends to each input (None where no gradient is needed).
    ``targets()``: where each of them goes.  ``repr`` is compact; steps from ``step_through``
    print one line per input instead (shape, gradient sent, destination).
    """

    def __init__(self, node, grad_outputs, grad_inputs):
        self.node = node
        self.op = node.name
        self.input_shapes = tuple(shape for shape, _ in node.input_meta)
        self.grad_outputs = grad_outputs
        self.grad_inputs = grad_inputs
        self.leaf_names = None  # set by step_through: then printing also says where gradients go

    def targets(self, leaf_names=None):
        """Where each input's gradient goes: ``"leaf w (shape)"``, ``"<AddBackward>"`` or
        ``"nowhere"`` (an input that needs no gradient).  ``leaf_names`` maps names to leaves."""
        names = {id(leaf): name for name, leaf in (leaf_names or {}).items()}
        return tuple(_describe_edge(edge, names) for edge in self.node.edges)

    def __repr__(self):
        return (
            f"{self.op}Backward  inputs {', '.join(map(str, self.input_shapes))}\n"
            f"  grad in : {_show_arrays(self.grad_outputs)}\n"
            f"  grad out: {_show_arrays(self.grad_inputs)}"
        )

    def __str__(self):
        if self.leaf_names is None:
            return repr(self)
        lines = [f"{self.op}Backward  grad in: {_show_arrays(self.grad_outputs)}"]
        targets = self.targets(self.leaf_names)
        for i, (shape, grad, target) in enumerate(zip(self.input_shapes, self.grad_inputs, targets)):
            if grad is None:
                lines.append(f"  input {i} {shape}: sends nothing -> {target}")
                continue
            summed = "" if grad.shape == shape else f" summed to shape {shape}"
            lines.append(f"  input {i} {shape}: sends {_show_arrays([grad])}{summed} -> {target}")
        return "\n".join(lines)

    def _repr_html_(self):
        """How a notebook shows the step: the printed text, in a monospaced block."""
        return f"<pre>{html.escape(str(self))}</pre>"


def _show_arrays(arrays):
    return ", ".join("-" if a is None else np.array2string(_to_numpy(a), precision=4) for a in arrays)


def _describe_edge(edge, names):
    if edge is None:
        return "nowhere (needs no gradient)"
    node, target = edge
    if node is not None:
        return repr(node)
    return f"leaf {names.get(id(target), 'tensor')} {tuple(target.shape)} (into .grad)"


def _to_numpy(array):
    return array if backend.device_of(array) == "cpu" else array.get()


class RemovableHandle:
    """What ``register_hook`` and the Module ``register_*_hook`` methods return:
    ``handle.remove()`` takes the hook out again (also on leaving ``with handle:``).

    The hook is stored in an ordered dict under ``handle.id`` (ids grow, so hooks run in the
    order they were registered); the handle holds that dict weakly, as PyTorch's does.
    ``extra_dict``: dicts that flag the hook (``with_kwargs``, ``always_call``), cleared too.
    """

    _ids = itertools.count()

    def __init__(self, hooks_dict, *, extra_dict=None):
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = next(RemovableHandle._ids)
        extras = [extra_dict] if isinstance(extra_dict, dict) else list(extra_dict or [])
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extras)

    def remove(self):
        for ref in (self.hooks_dict_ref, *self.extra_dict_ref):
            hooks = ref()
            if hooks is not None:
                hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.remove()


def register_tensor_hook(tensor, hook):
    """``tensor.register_hook(hook)``: ``hook(grad)`` is called with the gradient of ``tensor``
    each time one is computed, and may return a Tensor to use instead.  A leaf keeps its hooks;
    a computed tensor's hooks are kept by the node that made it, per output."""
    if not tensor.requires_grad:
        raise RuntimeError(
            f"register_hook: cannot register a hook on a tensor of shape {tuple(tensor.shape)} that "
            "doesn't require gradient"
        )
    if tensor.grad_fn is None:
        if tensor._hooks is None:
            tensor._hooks = collections.OrderedDict()
        hooks = tensor._hooks
    else:
        hooks = tensor.grad_fn.tensor_hooks.setdefault(tensor.output_index, collections.OrderedDict())
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def _run_tensor_hooks(hooks, grad):
    """Pass the gradient array ``grad`` through each hook in turn; a hook that returns a Tensor
    replaces the gradient, which must keep the tensor's shape and dtype."""
    for hook in list(hooks.values()):
        replacement = hook(Tensor(grad))
        if replacement is None:
            continue
        if not isinstance(replacement, Tensor):
            raise TypeError(
                f"register_hook: the hook {_hook_name(hook)} must return a Tensor or None, "
                f"got {type(replacement).__name__}"
            )
        if replacement.shape != grad.shape or replacement.dtype != grad.dtype:
            raise RuntimeError(
                f"register_hook: the hook {_hook_name(hook)} returned a gradient of shape "
                f"{tuple(replacement.shape)} and dtype {replacement.dtype}; expected the tensor's "
                f"shape {tuple(grad.shape)} and dtype {grad.dtype}"
            )
        grad = replacement.array
    return grad


def _run_output_hooks(node, grads):
    """The gradients of ``node``'s outputs, each passed through the hooks registered on it."""
    if not node.tensor_hooks:
        return grads
    return tuple(
        _run_tensor_hooks(node.tensor_hooks[i], g) if g is not None and i in node.tensor_hooks else g
        for i, g in enumerate(grads)
    )


def _hook_name(hook):
    return f"'{getattr(hook, '__name__', type(hook).__name__)}'"


def _hooked_leaves(node):
    """The leaves with hooks among ``node``'s inputs (once per edge)."""
    return [edge[1] for edge in node.edges if edge is not None and edge[0] is None and edge[1]._hooks]


def _count_consumers(roots):
    """For every node reachable from ``roots`` (one node or several), and every leaf with hooks
    below them: how many edges point at it (iteratively)."""
    roots = [roots] if isinstance(roots, Node) else list(roots)
    consumers = dict.fromkeys(roots, 0)
    stack = list(consumers)
    while stack:
        node = stack.pop()
        for parent in node.parents:
            if parent not in consumers:
                consumers[parent] = 0
                stack.append(parent)
            consumers[parent] += 1
        for leaf in _hooked_leaves(node):
            consumers[leaf] = consumers.get(leaf, 0) + 1
    return consumers


def _initial_gradient(tensor, gradient):
    if not tensor.requires_grad:
        raise RuntimeError(
            f"backward: the tensor of shape {tuple(tensor.shape)} does not require grad and has no "
            "grad_fn; create the inputs with requires_grad=True"
        )
    if gradient is None:
        if tensor.array.size != 1:
            raise RuntimeError(
                f"backward: grad can be implicitly created only for scalar outputs, got shape "
                f"{tuple(tensor.shape)}; pass gradient= of the same shape"
            )
        return tensor.xp.ones_like(tensor.array)
    gradient = gradient.array if isinstance(gradient, Tensor) else tensor.xp.asarray(gradient)
    if gradient.shape != tensor.shape:
        raise ValueError(
            f"backward: gradient must have the tensor's shape {tuple(tensor.shape)}, "
            f"got {tuple(gradient.shape)}"
        )
    return gradient.astype(tensor.dtype, copy=False)


def _accumulate_into_leaf(leaf, grad):
    """``leaf.grad += grad``, out of place; the first gradient is copied, never aliased."""
    xp = backend.get_array_module(grad)
    leaf.grad = Tensor(xp.array(grad) if leaf.grad is None else xp.asarray(leaf.grad.array + grad))


def iter_backward(tensor, gradient=None, retain_graph=False):
    """Walk the graph behind ``tensor`` backwards, yielding a ``BackwardStep`` per node.

    Exhausting the iterator leaves the same ``.grad`` values as ``tensor.backward()``.
    """
    yield from _walk([(tensor, _initial_gradient(tensor, gradient))], retain_graph, IntoGrad())


class IntoGrad:
    """Where ``backward()`` puts gradients: added into each leaf's ``.grad``, and into the
    ``.grad`` of computed tensors that asked for ``retain_grad()``."""

    def runs(self, node):
        """Every node's backward runs: every leaf below it gets its gradient."""
        return True

    def leaf(self, leaf, grad):
        _accumulate_into_leaf(leaf, grad)

    def outputs(self, node, grads):
        for index, retained in node.retained.items():
            _accumulate_into_leaf(retained, grads[index])


class OnArrays:
    """How the ordinary backward pass computes: each op's ``backward`` on raw arrays, gradients
    summed back to each input's shape and cast to its dtype.  (``higher_order.OnTensors`` runs the
    same walk on Tensors, recorded, for gradients of gradients.)"""

    @staticmethod
    def backward(node, grad_outputs):
        return _call_backward(node, grad_outputs)

    @staticmethod
    def to_input(grad, shape, dtype):
        return sum_to_shape(grad, shape).astype(dtype, copy=False)

    @staticmethod
    def zeros(like, shape, dtype):
        return backend.get_array_module(like).zeros(shape, dtype)


def _walk(seeds, retain_graph, sink, how=OnArrays):
    """The backward pass from ``seeds``, pairs (tensor, gradient of it), yielding a ``BackwardStep``
    per node.  ``sink`` receives what reaches a leaf (``sink.leaf``) and every node's output
    gradients (``sink.outputs``); ``how`` runs a node's backward and shapes its gradients
    (``OnArrays``).  A node runs once, when every node that reads its outputs has sent its
    gradient (the consumer counts); several seeds share one walk.  A node whose gradients lead
    to nothing the sink wants (``sink.runs(node)`` false), or that received none, sends None on,
    keeps its saved arrays and is not yielded."""
    received = {}
    for tensor, grad in seeds:
        if tensor.grad_fn is None:
            sink.leaf(tensor, _run_tensor_hooks(tensor._hooks or {}, grad))
        else:
            _gather(received, tensor.grad_fn, len(tensor.grad_fn.output_meta), tensor.output_index, grad)
    consumers = _count_consumers(list(received))
    ready = [root for root in received if consumers[root] == 0]
    while ready:
        node = ready.pop()
        arrived = received.pop(node, None)  # None when only skipped nodes read its outputs
        if arrived is not None:
            grad_outputs = _run_output_hooks(node, _fill_missing(node, arrived, how.zeros))
            sink.outputs(node, grad_outputs)
        runs = arrived is not None and sink.runs(node)
        grad_inputs = how.backward(node, grad_outputs) if runs else (None,) * len(node.edges)
        for edge, grad_in, (shape, dtype) in zip(node.edges, grad_inputs, node.input_meta):
            if edge is None:
                continue
            if grad_in is not None:
                grad_in = how.to_input(grad_in, shape, dtype)
            parent, target = edge
            if parent is None:
                _send_to_leaf(target, grad_in, consumers, received, sink)
                continue
            _gather(received, parent, len(parent.output_meta), target, grad_in)
            consumers[parent] -= 1
            if consumers[parent] == 0:
                ready.append(parent)
        if runs:
            yield BackwardStep(node, grad_outputs, grad_inputs)
            if not retain_graph:
                node.ctx.free()


def _gather(received, key, size, index, grad):
    """Add ``grad`` into slot ``index`` of the ``size`` gradients that ``key`` (a node, or a leaf
    with hooks) is collecting."""
    if grad is not None:
        slots = received.setdefault(key, [None] * size)
        slots[index] = grad if slots[index] is None else slots[index] + grad


def _send_to_leaf(leaf, grad, consumers, received, sink):
    """Hand ``grad`` to ``sink.leaf``.  A leaf with hooks first waits for all its gradients (one per
    edge, counted in ``consumers``), then passes their sum through its hooks, as PyTorch does."""
    if leaf not in consumers:
        if grad is not None:
            sink.leaf(leaf, grad)
        return
    _gather(received, leaf, 1, 0, grad)
    consumers[leaf] -= 1
    if consumers[leaf] == 0 and leaf in received:
        sink.leaf(leaf, _run_tensor_hooks(leaf._hooks, received.pop(leaf)[0]))


def _fill_missing(node, grads, zeros):
    """Floating outputs that received no gradient (unused outputs of a multi-output op) get
    ``zeros(like, shape, dtype)``; integer outputs (indices) never carry a gradient and get None."""
    like = next(g for g in grads if g is not None)
    return tuple(
        zeros(like, shape, dtype) if g is None and backend.is_floating(dtype) else g
        for g, (shape, dtype) in zip(grads, node.output_meta)
    )


def _check_saved_arrays(node):
    """Raise if ``node``'s saved arrays were freed by an earlier backward or written in place since."""
    if node.ctx._freed:
        node.ctx.saved  # raises the "backward through the graph a second time" error
    for saved in node.ctx.saved_versions:
        saved.check(node.name)


def _call_backward(node, grad_outputs):
    _check_saved_arrays(node)
    grads = node.function.backward(node.ctx, *grad_outputs)
    grads = grads if isinstance(grads, tuple) else (grads,)
    if len(grads) != len(node.edges):
        raise RuntimeError(
            f"{node.name}.backward returned {len(grads)} gradients for {len(node.edges)} inputs"
        )
    return grads


def step_through(tensor, gradient=None, leaf_names=None):
    """Walk the backward pass of ``tensor`` one node at a time, for learning.

    ``for step in md.autograd.step_through(loss): print(step)`` prints, per node, the gradient
    it receives and, for each input, its shape, the gradient sent to it and where it goes (a
    node or a leaf's ``.grad``; pass ``leaf_names={"w": w, ...}`` to see the leaves by name).
    Each step is a ``BackwardStep`` (``op``, ``input_shapes``, ``grad_outputs``, ``grad_inputs``,
    ``targets()``).  Running it to the end leaves the same ``.grad`` values as ``backward()``.
    """
    for step in iter_backward(tensor, gradient):
        step.leaf_names = dict(leaf_names or {})
        yield step


def backward(tensor, gradient=None, retain_graph=False, create_graph=False):
    """Compute the gradient of ``tensor`` w.r.t. every leaf that requires grad (recorded, so it can
    be differentiated again, with ``create_graph=True``: see ``higher_order.py``)."""
    if create_graph:
        higher_order.graph_walk([(tensor, higher_order.seed(tensor, gradient))], higher_order.GraphIntoGrad())
        return
    for _ in iter_backward(tensor, gradient, retain_graph):
        pass


# Tensor is defined in terms of the ops, and the ops in terms of Function: import it last.
from minidl.tensor import Tensor  # noqa: E402
from minidl import higher_order  # noqa: E402  (create_graph=True)
from minidl.gradients import grad  # noqa: E402,F401  (md.autograd.grad, as torch.autograd.grad)
from minidl import autograd_functional as functional  # noqa: E402,F401  (md.autograd.functional)
