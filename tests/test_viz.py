"""md.viz: every plot writes a non-empty PNG file, without a display."""
import numpy as np
import pytest

import minidl as md
from minidl import viz
from minidl.train import History

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    assert path.is_file() and path.stat().st_size > 1000
    assert path.read_bytes()[:8] == PNG_SIGNATURE


@pytest.fixture
def history():
    history = History()
    for epoch, loss in enumerate([1.0, 0.6, 0.4], 1):
        history.append(epoch, {"loss": loss, "accuracy": 1 - loss / 2, "val_loss": loss + 0.1,
                               "val_accuracy": 0.9 - loss / 2, "lr": 0.1 / epoch, "time": 0.5})
    return history


def test_plot_history_and_lr(history, tmp_path):
    assert_png(viz.plot_history(history, tmp_path / "curves.png"))
    assert_png(viz.plot_history(history, tmp_path / "sub" / "loss.png", names=["loss"]))
    assert_png(viz.plot_lr(history, tmp_path / "lr.png"))
    with pytest.raises(ValueError, match="f1"):
        viz.plot_history(history, tmp_path / "x.png", names=["f1"])


def test_plot_confusion_matrix(tmp_path):
    matrix = np.array([[5, 1, 0], [0, 7, 2], [1, 0, 9]])
    assert_png(viz.plot_confusion_matrix(matrix, tmp_path / "confusion.png"))
    assert_png(viz.plot_confusion_matrix(matrix, tmp_path / "normalized.png", ["a", "b", "c"], normalize=True))
    with pytest.raises(ValueError, match="square"):
        viz.plot_confusion_matrix(np.zeros((2, 3)), tmp_path / "bad.png")


def test_plot_filters_and_feature_maps(tmp_path):
    conv = md.nn.Conv2d(1, 4, 3)
    assert_png(viz.plot_filters(conv.weight, tmp_path / "filters.png"))
    maps = md.nn.functional.relu(conv(md.rand(1, 1, 12, 12)))
    assert_png(viz.plot_feature_maps(maps, tmp_path / "maps.png"))
    with pytest.raises(ValueError, match="4-D"):
        viz.plot_filters(np.zeros((3, 3)), tmp_path / "bad.png")


def test_the_backend_draws_to_files_only():
    import matplotlib

    assert matplotlib.get_backend().lower() == "agg"


def test_the_curves_mark_the_best_epoch(history):
    figure = viz.history_figure(history, best_epoch=2)
    for ax, name in zip(figure.axes, ["loss", "accuracy"]):
        vertical = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
        assert len(vertical) == 1 and list(vertical[0].get_xdata()) == [2, 2]
        legend = [text.get_text() for text in ax.get_legend().get_texts()]
        assert ax.get_title() == name and legend == ["training", "validation", "restored best epoch 2"]
        rings = [line for line in ax.get_lines() if line.get_markerfacecolor() == "none"]
        best_values = [history[name][1], history["val_" + name][1]]
        assert len(rings) == 1 and list(rings[0].get_ydata()) == best_values
    with pytest.raises(ValueError, match="best_epoch 7 is not among the epochs"):
        viz.history_figure(history, best_epoch=7)


def test_one_epoch_shows_its_points_on_an_epoch_axis():
    history = History()
    history.append(1, {"loss": 0.7, "val_loss": 0.8})
    (ax,) = viz.history_figure(history).axes
    for line in ax.get_lines():
        assert line.get_marker() == "o" and line.get_markersize() >= 4
    low, high = ax.get_xlim()
    assert low < 1 < high and high - low >= 1
    assert [tick for tick in ax.get_xticks() if low <= tick <= high] == [1]
