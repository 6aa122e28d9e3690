"""The backprop page's data: the graph behind a tensor, its forward order, and its backward pass
as the engine walks it, with every number the page shows.

The graph is read from ``output.grad_fn`` along each node's edges (``minidl.autograd.Node``):
an *op* per node; a *tensor* per op output, per leaf and per constant input (one that needs no
gradient).  Ops made inside one Module call (known when the forward pass ran inside
``md.viz.record_forward()``) are grouped into a *box* the page folds.

The backward pass is ``md.autograd.step_through(output, gradient)`` run once, so the steps are
the engine's own, in its order, and running it fills ``.grad`` exactly as ``output.backward``
would (adding to what ``.grad`` held before, like backward).  Per step it records the gradient
arriving at the node, what the node sends to each input, and, for a tensor that receives several
contributions, their running sum (``previous + contribution``, the engine's own addition); a
leaf's last sum is read from its ``.grad``.  The forward order is the backward order reversed,
which puts every op after the ops it reads.  The browser only replays these numbers.
"""
from collections import Counter
from dataclasses import dataclass, field

from minidl.autograd import step_through, sum_to_shape
from minidl.viz.backprop_formulas import formulas, local_derivatives
from minidl.viz.backprop_numbers import describe_array
from minidl.viz.backprop_record import op_record

MAX_BOXES = 400  # a page with more boxes than this (with every Module call folded) is refused


class GraphTooLarge(ValueError):
    """The graph has more boxes than a page can show readably, even with Module calls folded."""


@dataclass
class Box:
    """A Module call whose ops fold into one box."""

    id: str
    label: str
    parent: str = None
    ops: int = 0


@dataclass
class TensorEntry:
    id: str
    kind: str  # "leaf", "constant" or "op" (an op's output)
    label: str
    shape: tuple
    dtype: str
    value: object = None  # the array, when the graph or the recording kept it
    producer: str = None
    group: str = None
    name: str = None


@dataclass
class OpEntry:
    id: str
    node: object
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    chain: tuple = ()  # the boxes it lies in, outermost first
    module: str = None


def trace(output, gradient=None, names=None, model=None):
    """Everything the page shows for the graph behind ``output``, as JSON-ready data.

    Raises GraphTooLarge (saying what was folded) before anything is computed when the graph does
    not fit on a page, and ValueError when a tensor in ``names`` is not in the graph."""
    graph = GraphReader(output, names, model)
    graph.check_size()
    before = {key: leaf.grad.array for key, leaf in graph.leaves.items() if leaf.grad is not None}
    steps = [_record_step(step) for step in step_through(output, gradient)]
    return graph.data(_describe_steps(graph, steps, before))


class GraphReader:
    """Reads ops, tensors and Module boxes from ``output.grad_fn`` (nothing is computed)."""

    def __init__(self, output, names, model):
        self.ops = {}  # Node -> OpEntry
        self.tensors = {}  # key -> TensorEntry; keys: ("op", node, i), ("leaf", id), ("constant", node, i)
        self.leaves = {}  # key -> the leaf Tensor
        self.boxes = {}  # ModuleCall -> Box (only the calls that fold)
        self.module_names = {id(m): n for n, m in model.named_modules()} if model is not None else {}
        self.model = model
        for node in _reachable(output.grad_fn):
            self.ops[node] = OpEntry(f"op{len(self.ops)}", node)
        self._find_boxes()
        for node, op in self.ops.items():
            self._read_op(node, op)
        self._place_leaves()
        self._name_tensors(names, model)
        self.tensors[("op", output.grad_fn, output.output_index)].value = output.array

    # -------------------------------------------------------------- reading
    def _read_op(self, node, op):
        record = op_record(node)
        for i, (edge, (shape, dtype)) in enumerate(zip(node.edges, node.input_meta)):
            if edge is None:
                value = record.constants.get(i) if record else node.scalar_inputs.get(i)
                key = ("constant", node, i)
                self._tensor(key, "constant", "constant", shape, dtype, value, group=_innermost(op.chain))
            elif edge[0] is None:
                key = ("leaf", id(edge[1]))
                self.leaves[key] = edge[1]
                self._tensor(key, "leaf", "leaf", shape, dtype, edge[1].array)
            else:
                key = self._output_key(*edge)
            op.inputs.append(key)
        op.outputs = [self._output_key(node, i) for i in range(len(node.output_meta))]

    def _output_key(self, node, index):
        key = ("op", node, index)
        if key not in self.tensors:
            op, record = self.ops[node], op_record(node)
            shape, dtype = node.output_meta[index]
            value = record.outputs[index] if record else node.scalar_outputs.get(index)
            suffix = f" output {index}" if len(node.output_meta) > 1 else ""
            self._tensor(key, "op", node.name + suffix, shape, dtype, value, op.id, _innermost(op.chain))
        return key

    def _tensor(self, key, kind, label, shape, dtype, value, producer=None, group=None):
        if key not in self.tensors:
            self.tensors[key] = TensorEntry(f"t{len(self.tensors)}", kind, label, tuple(shape), str(dtype),
                                            value, producer, group)

    def _name_tensors(self, names, model):
        """Parameters get their ``named_parameters()`` names, then ``names`` label any tensor."""
        named = dict(model.named_parameters()) if model is not None else {}
        for name, tensor in named.items():
            self._set_name(name, tensor)
        for name, tensor in (names or {}).items():
            if not self._set_name(name, tensor):
                raise ValueError(f"backprop_page: names[{name!r}] (shape {tuple(tensor.shape)}) is not in the "
                                 "graph behind the output: no op on the way to it reads it")

    def _place_leaves(self):
        """A leaf goes into the innermost box that holds every op reading it (a Linear's weight into
        the Linear's box; a weight shared by three LSTM steps stays outside their boxes)."""
        readers = {key: [] for key in self.leaves}
        for op in self.ops.values():
            for key in op.inputs:
                if key in readers:
                    readers[key].append(op.chain)
        for key, chains in readers.items():
            self.tensors[key].group = _innermost(_common_prefix(chains))

    def _set_name(self, name, tensor):
        key = ("leaf", id(tensor)) if tensor.grad_fn is None else ("op", tensor.grad_fn, tensor.output_index)
        if key not in self.tensors:
            return False
        self.tensors[key].name = self.tensors[key].label = name
        return True

    # -------------------------------------------------------------- Module boxes
    def _find_boxes(self):
        """A Module call becomes a box when it made at least two ops of the graph but not all of
        them, and is not the one call of ``model`` (which would fold everything but the loss; a
        model called several times, like an LSTM cell unrolled, gets a box per call).  Each op
        lies in the boxes of the calls it was made in."""
        calls = {node: record.calls for node in self.ops if (record := op_record(node)) is not None}
        made = Counter(call for chain in calls.values() for call in chain)
        model_calls = sum(call.module is self.model for call in made)
        folding = [call for call, count in made.items()
                   if 1 < count < len(self.ops) and not (call.module is self.model and model_calls == 1)]
        per_module = Counter(call.module for call in folding)
        seen = Counter()
        for call in sorted(folding, key=lambda c: c.number):
            seen[call.module] += 1
            self.boxes[call] = Box(f"g{len(self.boxes)}", self._box_label(call, seen[call.module], per_module[call.module]))
        for node, chain in calls.items():
            boxes = [self.boxes[c] for c in chain if c in self.boxes]
            for outer, inner in zip(boxes, boxes[1:]):
                inner.parent = outer.id
            for box in boxes:
                box.ops += 1
            self.ops[node].chain = tuple(box.id for box in boxes)
            innermost = chain[-1] if chain else None
            self.ops[node].module = self._module_label(innermost.module) if innermost else None

    def _module_label(self, module):
        name = self.module_names.get(id(module))
        return f"{name} ({type(module).__name__})" if name else type(module).__name__

    def _box_label(self, call, index, count):
        label = self._module_label(call.module)
        return label if count == 1 else f"{label} call {index} of {count}"

    def visible_boxes(self):
        """How many boxes the page starts with: every Module call folded."""
        drawn_in = [_innermost(op.chain) for op in self.ops.values()]  # an op's box also draws its outputs
        drawn_in += [t.group for t in self.tensors.values() if t.kind != "op"]
        return drawn_in.count(None) + sum(box.parent is None for box in self.boxes.values())

    def check_size(self):
        shown = self.visible_boxes()
        if shown <= MAX_BOXES:
            return
        leaves = sum(t.kind == "leaf" for t in self.tensors.values())
        constants = sum(t.kind == "constant" for t in self.tensors.values())
        if self.boxes:
            folded = (f"folding {len(self.boxes)} Module calls ({sum(b.ops for b in self.boxes.values() if b.parent is None)} "
                      f"ops) into boxes leaves {shown}")
        elif any(op_record(node) for node in self.ops):
            folded = f"no Module call made two or more of its ops, so nothing folds: {shown} remain"
        else:
            folded = (f"nothing was folded ({shown} boxes): the forward pass was not recorded, so the "
                      "Module calls are unknown; run it inside md.viz.record_forward()")
        raise GraphTooLarge(
            f"backprop_page: the graph behind the output has {len(self.ops)} ops, {leaves} leaves and "
            f"{constants} constants; {folded}, more than the {MAX_BOXES} a page shows readably. Show a "
            "smaller piece: fewer time steps or layers, or a sub-network's output"
        )

    # -------------------------------------------------------------- the page's data
    def data(self, backward_steps):
        backward_order = [step["node"] for step in backward_steps]
        return {
            "ops": [self._op_data(op) for op in self.ops.values()],
            "tensors": [self._tensor_data(t) for t in self.tensors.values()],
            "boxes": [{"id": b.id, "label": b.label, "parent": b.parent, "ops": b.ops} for b in self.boxes.values()],
            "forward": backward_order[::-1],
            "backward": backward_steps,
            "names": {t.name: t.id for t in self.tensors.values() if t.name},
            "recorded": any(op_record(node) for node in self.ops),
        }

    def _op_data(self, op):
        return {"id": op.id, "op": op.node.name, "module": op.module, "box": _innermost(op.chain),
                "inputs": [self.tensors[k].id for k in op.inputs], "outputs": [self.tensors[k].id for k in op.outputs],
                **formulas(op.node.function)}

    def _tensor_data(self, tensor):
        value = None if tensor.value is None else describe_array(tensor.value)
        return {"id": tensor.id, "kind": tensor.kind, "label": tensor.label, "name": tensor.name,
                "shape": list(tensor.shape), "dtype": tensor.dtype, "value": value,
                "producer": tensor.producer, "box": tensor.group}


def _reachable(root):
    """Every node behind ``root``, root first (iteratively: graphs can be deep)."""
    found, stack = {root: None}, [root]
    while stack:
        for parent in stack.pop().parents:
            if parent not in found:
                found[parent] = None
                stack.append(parent)
    return list(found)


def _innermost(chain):
    return chain[-1] if chain else None


def _common_prefix(chains):
    """The boxes every chain starts with (the boxes that hold all of them)."""
    if not chains:
        return ()
    common = chains[0]
    for chain in chains[1:]:
        length = next((i for i, (a, b) in enumerate(zip(common, chain)) if a != b), min(len(common), len(chain)))
        common = common[:length]
    return common


# ------------------------------------------------------------------ the backward pass
@dataclass
class _Step:
    node: object
    grad_outputs: tuple
    grad_inputs: tuple
    sends: list  # per input: None, or (input index, tensor key, contribution, shape of the gradient sent)


def _record_step(step):
    """Keep what a BackwardStep of the engine did, before it moves on."""
    sends = []
    for i, (edge, grad, (shape, dtype)) in enumerate(zip(step.node.edges, step.grad_inputs, step.node.input_meta)):
        if edge is None or grad is None:
            sends.append(None)
            continue
        key = ("leaf", id(edge[1])) if edge[0] is None else ("op", *edge)
        contribution = sum_to_shape(grad, shape).astype(dtype, copy=False)  # what the engine passes on
        sends.append((i, key, contribution, tuple(grad.shape)))
    return _Step(step.node, step.grad_outputs, step.grad_inputs, sends)


def _describe_steps(graph, steps, before):
    """The page's description of each step: arriving gradients, what goes to each input, running
    sums where a tensor receives several contributions (a leaf's sum starts from the ``.grad`` it
    had ``before``), and the gradients the graph shows from then on."""
    expected = Counter(send[1] for step in steps for send in step.sends if send)
    received = Counter()
    sums = dict(before)
    described = []
    for step in steps:
        op = graph.ops[step.node]
        shows = {}
        arrive = []
        for key, grad in zip(op.outputs, step.grad_outputs):
            arrive.append(None if grad is None else describe_array(grad))
            if grad is not None:
                shows[graph.tensors[key].id] = arrive[-1]
        sends = []
        for send in step.sends:
            if send is None:
                sends.append(None)
                continue
            index, key, contribution, sent_shape = send
            received[key] += 1
            sums[key] = contribution if sums.get(key) is None else sums[key] + contribution
            last_of_leaf = key in graph.leaves and received[key] == expected[key]
            total = describe_array(graph.leaves[key].grad.array if last_of_leaf else sums[key])
            tensor = graph.tensors[key]
            shows[tensor.id] = total
            sends.append({"input": index, "tensor": tensor.id, "grad": describe_array(contribution),
                          "summed_from": list(sent_shape) if sent_shape != tensor.shape else None,
                          "k": received[key], "of": expected[key],
                          "total": total if expected[key] > 1 or key in before else None})
        described.append({"node": op.id, "arrive": arrive, "sends": sends, "shows": shows,
                          "local": _scalar_derivatives(step)})
    return described


def _scalar_derivatives(step):
    """The local derivatives with numbers, for a node whose inputs and outputs are all 0-d."""
    node = step.node
    if any(shape != () for shape, _ in node.input_meta + node.output_meta) or len(node.output_meta) != 1:
        return None
    inputs = [node.scalar_inputs[i] for i in range(len(node.input_meta))]
    return local_derivatives(formulas(node.function)["backward"], inputs, node.scalar_outputs[0],
                             step.grad_outputs[0], step.grad_inputs)
