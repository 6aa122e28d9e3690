"""Shared by the plots: matplotlib's pyplot on the file-only Agg backend, and saving a figure."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported: draw into files, never open a window
import matplotlib.pyplot as plt  # noqa: E402


def save(fig, path, dpi=100):
    """Write ``fig`` to ``path`` as PNG (folders created), close it and return the Path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi, format="png")
    plt.close(fig)
    return path
