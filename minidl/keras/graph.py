"""The graph between a functional model's inputs and outputs: which layer calls (nodes) it runs,
in what order, and its layers in Keras's order.

Walking back from each output through the ``history`` of its KerasTensors (depth first, as
Keras's ``map_graph``) lists the nodes so that each comes after the nodes that make its inputs:
the order ``forward`` runs them in.  ``model.layers`` lists the layers farthest from the
outputs first (a layer's depth: the most layer calls between one of its calls and an output),
ties in the order the walk met them, as Keras orders them.
"""
from minidl.keras.keras_tensor import KerasTensor


def producing_node(tensor):
    """The node that made ``tensor`` (for ``keras.Input``, its InputLayer's node)."""
    layer, node_index, _ = tensor.history
    return layer.inbound_nodes[node_index]


def trace(inputs, outputs):
    """``(nodes, layers)`` of the model from ``inputs`` to ``outputs`` (lists of KerasTensors):
    the nodes in an order that runs, the layers in Keras's order.  A ValueError in Keras's terms
    when an output needs a ``keras.Input`` that is not among ``inputs``."""
    nodes, first_seen = [], {}
    finished = set()

    def visit(tensor, consumer):
        node = producing_node(tensor)
        if id(node) in finished:
            return
        first_seen.setdefault(node.layer, len(first_seen))
        if not node.inputs and not any(tensor is given for given in inputs):
            raise ValueError(
                f"Graph disconnected: cannot find parent for tensor {tensor} at layer '{consumer.name}': it comes "
                f"from the keras.Input '{node.layer.name}', which is not among the model's inputs "
                f"{[given.history[0].name for given in inputs]}"
            )
        for parent in node.inputs:
            visit(parent, node.layer)
        finished.add(id(node))
        nodes.append(node)

    for output in outputs:
        visit(output, output.history[0])
    for given in inputs:  # inputs that no output needs are still the model's
        visit(given, given.history[0])
    return nodes, _layers_by_depth(nodes, first_seen)


def _layers_by_depth(nodes, first_seen):
    """The layers of ``nodes`` (in running order), deepest first, then in ``first_seen`` order."""
    node_depth, layer_depth = {}, {}
    for node in reversed(nodes):
        depth = max(node_depth.get(id(node), 0), layer_depth.get(node.layer, 0))
        node_depth[id(node)] = layer_depth[node.layer] = depth
        for parent in node.inputs:
            key = id(producing_node(parent))
            node_depth[key] = max(node_depth.get(key, 0), depth + 1)
    return sorted(layer_depth, key=lambda layer: (-layer_depth[layer], first_seen[layer]))


def check_keras_tensors(what, tensors):
    """``tensors`` (a KerasTensor, or a list or tuple of them) as a list, checked: each made by
    ``keras.Input`` or a layer."""
    if isinstance(tensors, dict):
        raise NotImplementedError(f"keras.Model: md.keras takes {what} as a KerasTensor or a list of them, "
                                  "not a dict; give a list")
    flat = list(tensors) if isinstance(tensors, (list, tuple)) else [tensors]
    if not flat:
        raise ValueError(f"`{what}` argument cannot be empty. Received: {what}={tensors}")
    for tensor in flat:
        if not isinstance(tensor, KerasTensor) or tensor.history is None:
            raise ValueError(f"All `{what}` values must be KerasTensors made by keras.Input or by calling a layer. "
                             f"Received: {what}={tensors} including invalid value {tensor!r} of type "
                             f"{type(tensor).__name__}")
    return flat
