"""``create_graph=True``: a backward pass that is itself recorded, so it can be differentiated again.

    (dy_dx,) = md.autograd.grad(y, x, create_graph=True)    # dy/dx, as a Tensor with a graph
    (d2y_dx2,) = md.autograd.grad(dy_dx.sum(), x)            # the second derivative

The ordinary backward pass (``autograd._walk``) runs each op's ``backward`` on raw arrays: fast,
and invisible to autograd.  This one walks the graph in the same order, but runs each op's
backward formula on Tensors (the op's own ``backward`` where ``differentiable_backward`` is set,
else its ``graph_backward``): the incoming gradient is a Tensor, and the op's saved inputs and
outputs are attached back to the graph where they came from (``attached``).  Every product and
sum of the formula becomes a node like any other, so backward() or grad() through the result
gives second derivatives: backpropagation is itself a differentiable program.

Ops without a differentiable backward are named in an error before anything runs; tensor hooks
are not run on this path (an error says so).
"""
from minidl import autograd
from minidl.grad_mode import enable_grad
from minidl.tensor import Tensor


def attached(node, source, array):
    """The saved ``array`` of ``node`` as a Tensor in the graph: its input ``i`` is the leaf itself
    or the output of the node that made it; its output ``i`` is an output of ``node``.  An array
    derived from them (``source`` None) has no place in the graph: treating it as a constant would
    drop its derivative silently, so it is refused."""
    if array is None:
        return None
    if source is None:
        raise RuntimeError(
            f"create_graph=True: {node.name} saved an array that is neither its input nor its output; "
            "its graph_backward must compute that array from Tensors"
        )
    kind, index = source
    if kind == "output":
        return Tensor._from_op(array, node, index)
    edge = node.edges[index]
    if edge is None:
        return Tensor(array)
    parent, target = edge
    return target if parent is None else Tensor._from_op(array, parent, target)


class GraphContext:
    """``node``'s ctx as its backward formula sees it on this path: ``saved`` gives Tensors
    attached to the graph; everything else (``needs_input_grad``, ``ctx.shape``, ...) is the
    real ctx's."""

    def __init__(self, node):
        self._node = node

    @property
    def saved(self):
        ctx = self._node.ctx
        return tuple(attached(self._node, source, array) for source, array in zip(ctx.saved_sources, ctx.saved))

    @property
    def inputs(self):
        """The op's inputs that its forward saved, as Tensors attached to the graph, in input order
        (None for one it did not save): for a ``graph_backward`` that recomputes the op
        (``recorded_vjp``).  Unlike ``saved``, it passes over saved arrays derived from them."""
        node, found = self._node, [None] * len(self._node.edges)
        for source, array in zip(node.ctx.saved_sources, node.ctx.saved):
            if source is not None and source[0] == "input":
                found[source[1]] = attached(node, source, array)
        return tuple(found)

    def input_with_value(self, index, array):
        """Input ``index`` attached to the graph with the value ``array``, which the op rebuilt from
        what its forward kept (normalization keeps x_hat, not x): the derivatives flow to where the
        input came from; its value is the rebuilt one, equal to rounding."""
        return attached(self._node, ("input", index), array)

    @property
    def constants(self):
        """The saved arrays as constant Tensors, for a ``graph_backward`` whose saved arrays do not
        depend on any input that needs a gradient (NLLLoss's one-hot of the targets, say)."""
        return tuple(None if array is None else Tensor(array) for array in self._node.ctx.saved)

    def __getattr__(self, name):
        return getattr(self._node.ctx, name)


def has_graph_backward(function):
    return function.differentiable_backward or hasattr(function, "graph_backward")


def sum_to_shape(grad, shape):
    """``autograd.sum_to_shape`` with Tensor ops: sum a broadcast gradient back to ``shape``."""
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    if axes:
        grad = grad.sum(dim=axes, keepdim=True)
    return grad.reshape(shape) if tuple(grad.shape) != tuple(shape) else grad


class GraphIntoGrad:
    """``backward(create_graph=True)``: gradients (Tensors with a graph) added into ``.grad``."""

    def runs(self, node):
        return True

    def leaf(self, leaf, grad):
        leaf.grad = grad if leaf.grad is None else leaf.grad + grad

    def outputs(self, node, grads):
        for index, retained in node.retained.items():
            self.leaf(retained, grads[index])


def seed(tensor, gradient):
    """The gradient a recorded walk starts from at ``tensor``: ``gradient`` itself when it is a
    Tensor (it may have a graph of its own: the double-vjp trick differentiates through it), else
    the array ``backward`` would start from (checked the same way)."""
    array = autograd._initial_gradient(tensor, gradient)
    return gradient if isinstance(gradient, Tensor) and gradient.dtype == tensor.dtype else Tensor(array)


class OnTensors:
    """How a recorded backward pass computes (``autograd._walk``'s ``how``): each op's backward
    formula on Tensors (``_graph_backward``), gradients summed back to each input's shape with
    Tensor ops."""

    @staticmethod
    def backward(node, grad_outputs):
        return _graph_backward(node, grad_outputs)

    @staticmethod
    def to_input(grad, shape, dtype):
        return sum_to_shape(grad, shape)

    @staticmethod
    def zeros(like, shape, dtype):
        return Tensor(like.xp.zeros(shape, dtype))


def graph_walk(seeds, sink):
    """The backward pass from ``seeds`` (pairs tensor, gradient Tensor from ``seed``), recorded:
    ``autograd._walk`` with ``OnTensors``, under grad mode.  The graph is kept (a second pass
    needs its saved arrays)."""
    consumers = autograd._count_consumers([tensor.grad_fn for tensor, _ in seeds if tensor.grad_fn is not None])
    _check_supported(consumers, [tensor for tensor, _ in seeds if tensor.grad_fn is None], sink)
    with enable_grad():
        for _ in autograd._walk(seeds, True, sink, OnTensors):
            pass


def _check_supported(consumers, leaves, sink):
    """Refuse, before anything runs, a graph with an op that has no differentiable backward, or
    with tensor hooks (which this path does not run), among the nodes whose backward will run."""
    nodes = [key for key in consumers if isinstance(key, autograd.Node) and sink.runs(key)]
    missing = {node.name: node.function for node in nodes if not has_graph_backward(node.function)}
    fused = sorted(name for name, function in missing.items() if function.first_order_only)
    if fused:
        raise NotImplementedError(f"create_graph=True: no second derivative through {fused[0]}: it is "
                                  f"{missing[fused[0]].first_order_only}")
    if missing:
        raise NotImplementedError(
            f"create_graph=True: no differentiable backward yet for {', '.join(sorted(missing))}; the ops "
            "that have one set differentiable_backward or define graph_backward (minidl/higher_order.py)"
        )
    hooked_leaves = [key for key in consumers if not isinstance(key, autograd.Node)]
    if any(node.tensor_hooks for node in nodes) or any(tensor._hooks for tensor in leaves) or hooked_leaves:
        raise NotImplementedError("create_graph=True: tensors with hooks (register_hook) are not supported yet")


def _graph_backward(node, grad_outputs):
    """``node``'s backward formula run on Tensors: its ``graph_backward``, else its own ``backward``."""
    autograd._check_saved_arrays(node)
    function = node.function
    backward = function.graph_backward if hasattr(function, "graph_backward") else function.backward
    grads = backward(GraphContext(node), *grad_outputs)
    grads = grads if isinstance(grads, tuple) else (grads,)
    return tuple(None if g is None else g if isinstance(g, Tensor) else Tensor(g) for g in grads)


def recorded_vjp(forward, inputs, grad_outputs):
    """A ``graph_backward`` for an op whose fast kernel has no formula on Tensors: run ``forward``,
    the op written with differentiable Tensor ops (its readable version), on ``inputs`` (the op's
    inputs as ``GraphContext.inputs`` gives them, attached to the graph), and return its
    vector-Jacobian product with ``grad_outputs``, recorded:  d/d inputs <forward(inputs), grads>.
    One gradient per input; None for an input that needs none."""
    from minidl.gradients import grad

    # Each input that needs a gradient enters through a view of its own: where one input depends on
    # another (an RNN step's h on b_hh through the earlier steps), the gradient at the view is the partial
    # derivative, while at the input itself it would add the earlier path, which the outer backward
    # pass then counts a second time.
    inputs = [x.view_as(x) if isinstance(x, Tensor) and x.requires_grad else x for x in inputs]
    with enable_grad():
        outputs = forward(*inputs)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    pairs = [(out, g) for out, g in zip(outputs, grad_outputs) if g is not None and out.requires_grad]
    wanted = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    if not pairs or not wanted:
        return (None,) * len(inputs)
    found = iter(grad([out for out, _ in pairs], wanted, [g for _, g in pairs], create_graph=True, allow_unused=True))
    return tuple(next(found) if isinstance(x, Tensor) and x.requires_grad else None for x in inputs)
