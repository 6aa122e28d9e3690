"""Pictures of a computation graph: DOT text for Graphviz, and PNG/SVG files.

    loss = ...
    md.viz.draw_graph(loss, "graph.png")                      # Graphviz when installed, else matplotlib
    loss.backward(); md.viz.draw_graph(loss, "graph.svg", show_grad_norms=True)
    print(md.viz.to_dot(loss))                                # paste into any Graphviz viewer

The graph is read from ``tensor.grad_fn`` by following each node's edges (``minidl.autograd.Node``),
so it can be drawn before or after ``backward()``.  Data flows up: leaves at the bottom, the output
at the top.
"""
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FORMATS = ("png", "svg")


@dataclass
class GraphBox:
    """One box of the picture: an op (``kind="op"``), a leaf that requires grad, or a constant."""

    key: str
    kind: str
    label: str
    inputs: list = field(default_factory=list)  # keys of the boxes that feed this one


def describe_graph(tensor, show_grad_norms=False, leaf_names=None):
    """The boxes of the graph behind ``tensor``, the output's op first, each listing the boxes it reads."""
    return _GraphReader(show_grad_norms, leaf_names).read(tensor)


class _GraphReader:
    """Follows the edges from ``tensor.grad_fn`` and gives each op, leaf and constant a box."""

    def __init__(self, show_grad_norms, leaf_names):
        self.show_grad_norms = show_grad_norms
        self.names = {id(leaf): name for name, leaf in (leaf_names or {}).items()}
        self.boxes = {}  # key -> GraphBox
        self.keys = {}  # Node or id(leaf) -> key

    def read(self, tensor):
        if tensor.grad_fn is None:
            return [self._leaf_box("leaf0", tensor)]
        stack = [tensor.grad_fn]
        self.keys[tensor.grad_fn] = "op0"
        while stack:
            node = stack.pop()
            output = tensor if node is tensor.grad_fn else None
            box = GraphBox(self.keys[node], "op", _op_label(node, output))
            self.boxes[box.key] = box
            for index, (edge, (shape, _)) in enumerate(zip(node.edges, node.input_meta)):
                constant = _shape_or_value(shape, node.scalar_inputs.get(index))
                box.inputs.append(self._source(edge, constant, f"{box.key}.{index}", stack))
        return list(self.boxes.values())

    def _source(self, edge, constant, constant_key, stack):
        """The key of the box an edge comes from, creating that box when it is new
        (``constant``: the shape or value shown when the input needs no gradient)."""
        if edge is None:
            self.boxes[constant_key] = GraphBox(constant_key, "constant", f"constant\n{constant}")
            return constant_key
        parent, leaf = edge
        if parent is None:
            if id(leaf) not in self.keys:
                key = self.keys[id(leaf)] = f"leaf{len(self.keys)}"
                self.boxes[key] = self._leaf_box(key, leaf)
            return self.keys[id(leaf)]
        if parent not in self.keys:
            self.keys[parent] = f"op{len(self.keys)}"
            stack.append(parent)
        return self.keys[parent]

    def _leaf_box(self, key, leaf):
        label = f"{self.names.get(id(leaf), 'leaf')}\n{_shape_or_value(leaf.shape, leaf.array)}"
        label += "\nrequires grad" if leaf.requires_grad else ""
        if self.show_grad_norms:
            label += "\n|grad| = " + ("none" if leaf.grad is None else f"{np.linalg.norm(leaf.grad.numpy()):.3g}")
        return GraphBox(key, "leaf", label)


def _op_label(node, output=None):
    """The op's name over its output shapes; for ``output`` (the tensor drawn), its shape or value."""
    if output is not None:
        return f"{node.name}\noutput {_shape_or_value(output.shape, output.array)}"
    shown = (_shape_or_value(shape, node.scalar_outputs.get(i)) for i, (shape, _) in enumerate(node.output_meta))
    return f"{node.name}\n" + ", ".join(shown)


def _shape(shape):
    return str(tuple(shape))


def _shape_or_value(shape, array):
    """``"= 0.25"`` for a scalar (its shape ``()`` says nothing), the shape ``"(2, 3)"`` otherwise."""
    return f"= {array.item():.4g}" if tuple(shape) == () else _shape(shape)


DOT_STYLE = {
    "op": 'shape=box, style="rounded,filled", fillcolor="#dbe8f7"',
    "leaf": 'shape=box, style=filled, fillcolor="#f7e3c4"',
    "constant": 'shape=box, style=dashed, fontcolor="#666666"',
}


def to_dot(tensor, show_grad_norms=False, leaf_names=None):
    """The graph behind ``tensor`` in Graphviz's DOT language (``dot -Tpng`` draws it)."""
    lines = ["digraph minidl {", "  rankdir=BT;", '  node [fontname="Helvetica", fontsize=10];']
    for box in describe_graph(tensor, show_grad_norms, leaf_names):
        label = box.label.replace('"', '\\"').replace("\n", "\\n")
        lines.append(f'  "{box.key}" [label="{label}", {DOT_STYLE[box.kind]}];')
        lines.extend(f'  "{source}" -> "{box.key}";' for source in box.inputs)
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw_graph(tensor, path=None, show_grad_norms=False, format=None, leaf_names=None):
    """Draw the graph behind ``tensor``: ops with their output shapes, leaves (which require grad,
    and with ``show_grad_norms=True`` the norm of their ``.grad``) and constants.

    Uses Graphviz's ``dot`` program when it is installed, otherwise a layered matplotlib drawing.
    ``format``: ``"png"`` or ``"svg"`` (default: from the suffix of ``path``, else png).  Writes
    ``path`` and returns it as a Path; with ``path=None`` returns the picture's bytes instead
    (``IPython.display.Image(data)`` or ``SVG(data)`` shows them in a notebook).
    ``leaf_names={"w": w, ...}`` labels leaves by name.
    """
    format = format or (Path(path).suffix.lstrip(".").lower() if path and Path(path).suffix else "png")
    if format not in FORMATS:
        raise ValueError(f"draw_graph: format must be one of {FORMATS}, got {format!r}")
    if shutil.which("dot"):
        picture = _render_with_graphviz(to_dot(tensor, show_grad_norms, leaf_names), format)
    else:
        from minidl.viz.graph_layout import render_with_matplotlib

        picture = render_with_matplotlib(describe_graph(tensor, show_grad_norms, leaf_names), format)
    if path is None:
        return picture
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(picture)
    return path


def _render_with_graphviz(dot_text, format):
    result = subprocess.run(["dot", f"-T{format}"], input=dot_text.encode(), capture_output=True)
    if result.returncode != 0:
        raise RuntimeError(f"draw_graph: Graphviz's dot failed: {result.stderr.decode().strip()}")
    return result.stdout
