"""``md.viz``: training curves, learning rates, confusion matrices, filters and feature maps,
drawn with matplotlib as PNG files; ``backprop_page``, the backward pass as a page to click
through; ``md.viz.show(fig_or_page, name)`` shows a figure or a page inline in a notebook and saves
it anywhere else.  minidl never sets matplotlib's backend.

    md.viz.plot_history(history, "curves.png", best_epoch=early_stopping.best_epoch)
    md.viz.plot_confusion_matrix(md.train.metrics.confusion_matrix(y_true, y_pred), "confusion.png")
"""
from minidl.viz.backprop_page import backprop_page
from minidl.viz.backprop_record import record_forward
from minidl.viz.confusion import plot_confusion_matrix
from minidl.viz.figure import show, subplots
from minidl.viz.curves import history_figure, plot_history, plot_lr
from minidl.viz.filters import plot_feature_maps, plot_filters
from minidl.viz.graph import draw_graph, to_dot
