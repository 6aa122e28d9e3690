"""``md.viz.backprop_page``: the backward pass of any graph, as a page a learner clicks through.

    with md.viz.record_forward():                     # optional: keeps every value, folds Modules
        loss = F.cross_entropy(model(x), y)
    page = md.viz.backprop_page(loss, "backprop.html", model=model)
    page                                              # in a notebook: the page, inline

The page shows the graph top-down (inputs to output), ops as boxes and tensors as pills with
shape and dtype, and steps through the forward pass, then the backward pass in the engine's
order: the node, the gradient arriving, its local-derivative formula (with the numbers, for
scalars), what goes to each input, and running sums where a tensor feeds several ops.  Keys:
arrows, Home, End, space.  ``window.backprop`` (``length``, ``go(i)``, ``state()``) drives it
from a script.

Writing the page runs the backward pass (``md.autograd.step_through``, once): afterwards every
leaf's ``.grad`` holds what ``output.backward(gradient)`` would have left there (added to what it
held before, like backward), and the graph is freed as after backward.
"""
import html
import os
from pathlib import Path

from minidl.viz.backprop_html import page_html
from minidl.viz.backprop_trace import trace


class BackpropPage:
    """A written (or only built) backprop page: ``html`` (the page), ``path`` (where it was
    written, or None); a notebook shows it inline, isolated in an iframe."""

    def __init__(self, html_text, path):
        self.html = html_text
        self.path = path

    def _repr_html_(self):
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" sandbox="allow-scripts" '
                'style="width: 100%; height: 720px; border: 1px solid #d8dce6;"></iframe>')

    def __repr__(self):
        where = f"written to {self.path}" if self.path else "not written (path=None)"
        return f"<BackpropPage {len(self.html) / 1e6:.2f} MB, {where}>"


def backprop_page(output, path=None, names=None, model=None, gradient=None):
    """Write the backprop page of the graph behind ``output`` to ``path`` (atomically: all of it or
    nothing) and return a ``BackpropPage``; with ``path=None`` nothing is written.

    ``names={"w": w, ...}`` labels tensors (leaves or intermediate ones); with ``model``, its
    parameters carry their ``named_parameters()`` names; other tensors are labelled by the op that
    made them.  ``gradient``: for a non-scalar output, as in ``output.backward(gradient)``.
    Everything is checked before the backward pass runs, so a refused call changes no ``.grad``."""
    path = _checked_path(path)
    _check_output(output, gradient)
    data = trace(output, gradient, names, model)
    text = page_html(data, f"Backprop through {len(data['ops'])} ops, step by step")
    if path is not None:
        _write_atomically(path, text)
    return BackpropPage(text, path)


def _checked_path(path):
    if path is None:
        return None
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"backprop_page: the folder {path.parent} for {path.name} does not exist; create it first")
    if path.is_dir():
        raise IsADirectoryError(f"backprop_page: {path} is a folder; give the path of an .html file")
    return path


def _check_output(output, gradient):
    """The engine's own checks of ``output`` and ``gradient`` (``autograd._initial_gradient``),
    worded for this function, plus: a leaf has no backward pass to show."""
    from minidl import autograd

    try:
        autograd._initial_gradient(output, gradient)
    except (RuntimeError, ValueError) as err:
        raise type(err)("backprop_page: " + str(err).removeprefix("backward: ")) from None
    if output.grad_fn is None:
        raise ValueError(f"backprop_page: the output (shape {tuple(output.shape)}) is a leaf: no op made it, "
                         "so there is no backward pass to show")


def _write_atomically(path, text):
    """Write a temporary file beside ``path``, then rename it to ``path`` (as ``md.save`` does)."""
    temporary = path.with_name(f".{path.name}.{os.urandom(4).hex()}.tmp")
    try:
        with open(temporary, "x", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
