"""``minidl.autograd.grad``: the gradients of some outputs with respect to some inputs, returned
instead of added into ``.grad`` (PyTorch's ``torch.autograd.grad``):

    dx, dw = md.autograd.grad(loss, [x, w])               # loss.backward() would fill x.grad, w.grad
    (d_hidden,) = md.autograd.grad(loss, hidden)          # the gradient of a computed tensor too

It runs the engine's own backward walk (``autograd._walk``) with a sink that keeps the gradients
of the requested tensors and writes nothing, so no ``.grad`` changes.  With ``create_graph=True``
the walk is recorded (``higher_order.py``) and the gradients can be differentiated again.
"""
from minidl import autograd, higher_order
from minidl.tensor import Tensor


class Capture:
    """A backward-walk sink that keeps the gradient of each requested tensor: a leaf when it
    reaches it (summed over its uses), a computed tensor when the node that made it runs."""

    def __init__(self, inputs):
        self.found = [None] * len(inputs)
        self.at_leaf, self.at_node = {}, {}
        for position, tensor in enumerate(inputs):
            if tensor.grad_fn is None:
                self.at_leaf.setdefault(id(tensor), []).append(position)
            else:
                self.at_node.setdefault(tensor.grad_fn, []).append((tensor.output_index, position))

    def find_nodes_to_run(self, outputs):
        """The nodes between ``outputs`` and the requested tensors: those with a path down to a
        requested leaf or to the node that made a requested tensor.  Only their backward runs
        (``runs``), as in PyTorch: the rest of the graph is neither computed nor freed."""
        roots = {out.grad_fn for out in outputs if out.grad_fn is not None}
        children, reaching, stack = {}, [], list(roots)
        while stack:
            node = stack.pop()
            for edge in node.edges:
                if edge is None:
                    continue
                parent, target = edge
                if parent is None:
                    if id(target) in self.at_leaf:
                        reaching.append(node)
                    continue
                if parent in self.at_node:
                    reaching.append(node)
                if parent not in children:
                    stack.append(parent)
                children.setdefault(parent, []).append(node)
        self.to_run = set()
        while reaching:  # a node that reaches a requested tensor, and every node below it
            node = reaching.pop()
            if node not in self.to_run:
                self.to_run.add(node)
                reaching.extend(children.get(node, ()))

    def runs(self, node):
        return node in self.to_run

    def leaf(self, leaf, grad):
        for position in self.at_leaf.get(id(leaf), ()):
            self.found[position] = grad if self.found[position] is None else self.found[position] + grad

    def outputs(self, node, grads):
        for index, position in self.at_node.get(node, ()):
            self.found[position] = grads[index]


def _as_tuple(tensors):
    return (tensors,) if isinstance(tensors, Tensor) else tuple(tensors)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=None,
         materialize_grads=False):
    """A tuple with the gradient of ``outputs`` with respect to each of ``inputs`` (Tensors).

    ``grad_outputs``: one gradient per output (None for a scalar output: 1), as ``gradient`` in
    ``backward``.  ``retain_graph``: keep the graph for another pass (default: ``create_graph``).
    ``create_graph``: record the backward pass, so the gradients have a graph of their own.
    ``allow_unused``: an input the outputs do not depend on gets None (or zeros, with
    ``materialize_grads``) instead of an error.  Nothing is written to any ``.grad``."""
    outputs, inputs = _as_tuple(outputs), _as_tuple(inputs)
    grad_outputs = (None,) * len(outputs) if grad_outputs is None else _as_tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for number, (out, gradient) in enumerate(zip(outputs, grad_outputs)):
        shape = None if gradient is None else tuple(getattr(gradient, "shape", ()))
        if shape is not None and shape != tuple(out.shape):
            raise ValueError(f"grad: grad_outputs[{number}] has shape {shape}, but outputs[{number}] has shape "
                             f"{tuple(out.shape)}")
    for number, tensor in enumerate(inputs):
        if not tensor.requires_grad:
            raise RuntimeError(f"grad: input {number} (shape {tuple(tensor.shape)}) does not require grad")
    capture = Capture(inputs)
    capture.find_nodes_to_run(outputs)
    if create_graph:
        higher_order.graph_walk([(out, higher_order.seed(out, g)) for out, g in zip(outputs, grad_outputs)], capture)
    else:
        seeds = [(out, autograd._initial_gradient(out, g)) for out, g in zip(outputs, grad_outputs)]
        for _ in autograd._walk(seeds, bool(retain_graph), capture):
            pass
    return tuple(_result(number, tensor, found, allow_unused or materialize_grads, materialize_grads)
                 for number, (tensor, found) in enumerate(zip(inputs, capture.found)))  # fmt: skip


def _result(number, tensor, found, allow_unused, materialize):
    if found is not None:
        return found if isinstance(found, Tensor) else Tensor(found)
    if not allow_unused:
        raise RuntimeError(
            f"grad: input {number} (shape {tuple(tensor.shape)}) was not used in the graph of the outputs; "
            "pass allow_unused=True to get None for it"
        )
    return Tensor(tensor.xp.zeros_like(tensor.array)) if materialize else None
