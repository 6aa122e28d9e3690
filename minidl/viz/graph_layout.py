"""The fallback drawing of a computation graph when Graphviz is not installed: boxes in layers
by depth (the output on top, each box above everything it reads), arrows along the data flow."""
import io

from minidl.viz.figure import subplots

COLORS = {"op": "#dbe8f7", "leaf": "#f7e3c4", "constant": "#ffffff"}


def layers_by_depth(boxes):
    """Group boxes into layers: a box's depth is the longest path from the output down to it,
    so every box sits below all the boxes that read it."""
    depth = {box.key: 0 for box in boxes}
    for box in _readers_first(boxes):
        for source in box.inputs:
            depth[source] = max(depth[source], depth[box.key] + 1)
    layers = [[] for _ in range(max(depth.values()) + 1)]
    for box in boxes:
        layers[depth[box.key]].append(box)
    return layers


def _readers_first(boxes):
    """The boxes in an order where each comes after every box that reads it (Kahn's algorithm)."""
    by_key = {box.key: box for box in boxes}
    readers = {box.key: 0 for box in boxes}
    for box in boxes:
        for source in box.inputs:
            readers[source] += 1
    ready = [box for box in boxes if readers[box.key] == 0]
    while ready:
        box = ready.pop()
        yield box
        for source in box.inputs:
            readers[source] -= 1
            if readers[source] == 0:
                ready.append(by_key[source])


def positions(layers):
    """(x, y) of every box: layers from top to bottom, each ordered by the mean x of its readers
    (the boxes above that read it), which keeps arrows short and mostly uncrossed."""
    where = {}
    for row, layer in enumerate(layers):
        above = [box for upper in layers[:row] for box in upper]
        readers_x = {box.key: [where[r.key][0] for r in above if box.key in r.inputs] for box in layer}
        layer.sort(key=lambda box: sum(readers_x[box.key]) / max(len(readers_x[box.key]), 1))
        for column, box in enumerate(layer):
            where[box.key] = (column - (len(layer) - 1) / 2, -row)
    return where


def render_with_matplotlib(boxes, format):
    """The picture of ``boxes`` (from ``describe_graph``) as PNG or SVG bytes."""
    layers = layers_by_depth(boxes)
    where = positions(layers)
    width = max(len(layer) for layer in layers)
    fig, ax = subplots(figsize=(max(3, 1.8 * width), max(2, 1.2 * len(layers))))
    for box in boxes:
        for source in box.inputs:
            ax.annotate("", xy=where[box.key], xytext=where[source],
                        arrowprops=dict(arrowstyle="->", color="#555555", shrinkA=18, shrinkB=18))
    for box in boxes:
        style = dict(boxstyle="round,pad=0.4", facecolor=COLORS[box.kind], edgecolor="#333333",
                     linestyle="--" if box.kind == "constant" else "-")
        ax.text(*where[box.key], box.label, ha="center", va="center", fontsize=8, bbox=style)
    ax.set_xlim(-width / 2 - 0.2, width / 2 + 0.2)
    ax.set_ylim(-len(layers) + 0.5, 0.5)
    ax.axis("off")
    buffer = io.BytesIO()
    fig.savefig(buffer, format=format, dpi=100, bbox_inches="tight")
    return buffer.getvalue()
