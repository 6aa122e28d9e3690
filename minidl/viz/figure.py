"""Shared by the plots: new figures, saving one as PNG, and showing one where the learner is.

The figures are matplotlib ``Figure`` objects made without pyplot, so minidl never chooses or
changes matplotlib's backend: a notebook keeps its inline plots, a script needs no display.
"""
import io
import os
import sys
from pathlib import Path

from matplotlib.figure import Figure

FIGURES_VARIABLE = "MINIDL_FIGURES"


def subplots(nrows=1, ncols=1, figsize=None, **options):
    """``(fig, axes)`` like ``plt.subplots``, on a Figure that no backend manages."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **options)


def save(fig, path, dpi=100):
    """Write ``fig`` to ``path`` as PNG (folders created) and return the Path; with ``path=None``
    return ``fig`` itself, for ``show`` (how every ``plot_*`` function gives its Figure)."""
    if path is None:
        return fig
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi, format="png")
    _release(fig)
    return path


def png_bytes(fig, dpi=100):
    """``fig`` drawn as PNG bytes (tight layout unless the figure has a layout engine of its own)."""
    buffer = io.BytesIO()
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    fig.savefig(buffer, dpi=dpi, format="png")
    return buffer.getvalue()


def show(picture, name, directory=None, dpi=100):
    """Show a figure or a page where the learner is looking.

    ``picture`` is a matplotlib Figure, PNG bytes (``md.viz.draw_graph(loss)``) or a page
    (``md.viz.backprop_page(loss)``: anything with an ``html`` string and ``_repr_html_``).  In a notebook
    (an IPython kernel) it is displayed inline and nothing is written; anywhere else it is saved
    as ``name`` in ``directory`` (default: ``$MINIDL_FIGURES``, else ``figures/`` where Python
    runs), and the path is printed and returned.
    """
    if isinstance(getattr(picture, "html", None), str):  # a page; a Figure has _repr_html_ too, no html
        content, inline = picture.html.encode(), picture
    else:
        content = picture if isinstance(picture, bytes) else png_bytes(picture, dpi)
        if not isinstance(picture, bytes):
            _release(picture)
        inline = None
    if _in_notebook():
        from IPython.display import Image, display

        display(inline or Image(data=content, format="png"))
        return None
    path = Path(directory or os.environ.get(FIGURES_VARIABLE, "figures")) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    print("saved", path)
    return path


def _in_notebook():
    """True inside a Jupyter (IPython) kernel, where figures can be shown inline."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def _release(fig):
    """Let pyplot forget ``fig`` if pyplot made it (so a notebook does not show it a second time)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)
