"""The confusion matrix as a picture: true classes down, predicted classes across."""
import numpy as np

from minidl.viz.figure import save, subplots


def plot_confusion_matrix(matrix, path=None, class_names=None, normalize=False):
    """Draw ``matrix`` (``C[i, j]`` = samples of class i predicted as j, as from
    ``md.train.metrics.confusion_matrix``) with the count in each cell; saved as PNG at ``path``
    (or returned as a Figure when ``path`` is None).
    ``normalize=True`` divides each row by its total, showing the recall of each class on the
    diagonal."""
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"plot_confusion_matrix: expected a square matrix, got shape {matrix.shape}")
    if normalize:
        matrix = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    k = len(matrix)
    names = [str(i) for i in range(k)] if class_names is None else list(class_names)
    fig, ax = subplots(figsize=(1 + 0.5 * k, 0.8 + 0.5 * k))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), value in np.ndenumerate(matrix):
        text = f"{value:.2f}" if normalize else str(value)
        color = "white" if value > matrix.max() / 2 else "black"  # readable on dark and light cells
        ax.text(j, i, text, ha="center", va="center", fontsize=8, color=color)
    ax.set(xticks=range(k), yticks=range(k), xticklabels=names, yticklabels=names, xlabel="predicted", ylabel="true")
    return save(fig, path)
