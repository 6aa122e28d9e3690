"""``md.viz``: training curves, learning rates, confusion matrices, filters and feature maps,
drawn with matplotlib and saved as PNG files (no display needed: the Agg backend is used).

    md.viz.plot_history(history, "curves.png", best_epoch=early_stopping.best_epoch)
    md.viz.plot_confusion_matrix(md.train.metrics.confusion_matrix(y_true, y_pred), "confusion.png")
"""
from minidl.viz.confusion import plot_confusion_matrix
from minidl.viz.curves import history_figure, plot_history, plot_lr
from minidl.viz.filters import plot_feature_maps, plot_filters
from minidl.viz.graph import draw_graph, to_dot
