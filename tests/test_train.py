"""md.train: the fit loop, its History, every callback, evaluate/predict, and the metrics
(checked against scikit-learn on labels drawn by hypothesis)."""
import csv
import math

import numpy as np
import pytest
import sklearn.metrics
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minidl as md
from minidl import nn, train
from minidl.data import DataLoader, TensorDataset
from minidl.train import metrics


def blobs(n=120, seed=0):
    """Three well-separated Gaussian clusters in 2-D: an easy 3-class problem."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = np.array([[2.0, 0.0], [-2.0, 2.0], [0.0, -2.5]])
    x = (centers[y] + 0.5 * rng.standard_normal((n, 2))).astype(np.float32)
    return x, y


def loaders(batch_size=16):
    x, y = blobs()
    return (DataLoader(TensorDataset(x[:90], y[:90]), batch_size, shuffle=True, seed=0),
            DataLoader(TensorDataset(x[90:], y[90:]), 64))


def setup(lr=0.05):
    md.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))
    return model, nn.CrossEntropyLoss(), md.optim.SGD(model.parameters(), lr=lr)


def run(epochs=5, callbacks=(), lr=0.05, **kwargs):
    model, loss_fn, optimizer = setup(lr)
    train_loader, val_loader = loaders()
    history = train.fit(model, loss_fn, optimizer, train_loader, epochs, val_loader, callbacks,
                        metrics=["accuracy"], verbose=False, **kwargs)
    return model, optimizer, history


class Recorder(train.Callback):
    """Logs every hook call, and can stop training at a given epoch."""

    def __init__(self, stop_at=None):
        self.calls, self.stop_at = [], stop_at

    def on_train_begin(self, state):
        self.calls.append("train_begin")

    def on_epoch_begin(self, state):
        self.calls.append(f"epoch_begin {state.epoch}")

    def on_batch_end(self, state):
        self.calls.append("batch")

    def on_epoch_end(self, state):
        self.calls.append(f"epoch_end {state.epoch}")
        if state.epoch == self.stop_at:
            state.stop("recorder says stop")

    def on_train_end(self, state):
        self.calls.append("train_end")


class Scripted(train.Callback):
    """Overwrites the logged val_loss with scripted values, to drive the monitoring callbacks."""

    def __init__(self, values):
        self.values = values

    def on_epoch_end(self, state):
        state.logs["val_loss"] = self.values[state.epoch - 1]


# ----------------------------------------------------------------------------- the loop
def test_fit_reduces_the_loss_and_learns():
    _, _, history = run(epochs=8)
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["val_accuracy"][-1] >= 0.9


def test_history_has_one_value_per_epoch_for_every_key():
    _, _, history = run(epochs=3)
    assert history.epoch == [1, 2, 3] and len(history) == 3
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"]
    assert all(len(values) == 3 for values in history.history.values())
    assert history["lr"] == [0.05] * 3 and history.stop_reason is None
    assert history.best("val_loss")[1] == min(history["val_loss"])


def test_hooks_run_in_order_and_stop_ends_training():
    recorder = Recorder(stop_at=2)
    _, _, history = run(epochs=5, callbacks=[recorder])
    batches = len(loaders()[0])
    expected = (["train_begin"] + ["epoch_begin 1"] + ["batch"] * batches + ["epoch_end 1"]
                + ["epoch_begin 2"] + ["batch"] * batches + ["epoch_end 2", "train_end"])
    assert recorder.calls == expected
    assert len(history) == 2 and history.stop_reason == "recorder says stop"


def test_fit_checks_epochs_and_empty_data():
    model, loss_fn, optimizer = setup()
    with pytest.raises(ValueError, match="epochs"):
        train.fit(model, loss_fn, optimizer, [], epochs=0, verbose=False)
    with pytest.raises(ValueError, match="no batches"):
        train.fit(model, loss_fn, optimizer, [], epochs=1, verbose=False)


def test_evaluate_and_predict_shapes_and_modes():
    model, loss_fn, _ = setup()
    model.train()
    x, y = blobs()
    scores = train.evaluate(model, loss_fn, [(x, y)], metrics=["accuracy", "f1"])
    assert set(scores) == {"loss", "accuracy", "f1"} and model.training
    assert train.predict(model, x, batch_size=50).shape == (120, 3)
    assert train.predict(model, DataLoader(TensorDataset(x, y), 32)).shape == (120, 3)
    outputs = train.predict(model, x)
    assert scores["accuracy"] == pytest.approx(np.mean(outputs.argmax(1) == y))


def test_progress_bar_writes_one_bar_per_epoch(capsys):
    model, loss_fn, optimizer = setup()
    train.fit(model, loss_fn, optimizer, loaders()[0], epochs=2, metrics=["accuracy"])
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err and "accuracy" in err


def test_quiet_fit_prints_nothing(capsys):
    run(epochs=2)
    assert capsys.readouterr() == ("", "")


# ----------------------------------------------------------------------------- callbacks
def test_early_stopping_waits_patience_epochs_then_restores_the_best_weights():
    snapshots = []

    class Snapshot(train.Callback):
        def on_epoch_end(self, state):
            snapshots.append(state.model[0].weight.array.copy())

    stopper = train.EarlyStopping(patience=2, restore_best_weights=True)
    values = [1.0, 0.5, 0.7, 0.6, 0.4, 0.3]  # best at epoch 2, then two epochs without improvement
    model, _, history = run(epochs=6, callbacks=[Snapshot(), Scripted(values), stopper])
    assert len(history) == 4 and stopper.best_epoch == 2 and stopper.stopped_epoch == 4
    assert "val_loss" in history.stop_reason
    np.testing.assert_array_equal(model[0].weight.array, snapshots[1])


def test_early_stopping_min_delta_and_max_mode():
    stopper = train.EarlyStopping(monitor="val_loss", patience=0, min_delta=0.1)
    _, _, history = run(epochs=5, callbacks=[Scripted([1.0, 0.95, 0.5, 0.4, 0.3]), stopper])
    assert len(history) == 2  # 0.95 is not 0.1 better than 1.0
    assert train.EarlyStopping(monitor="val_accuracy").monitor.mode == "max"
    with pytest.raises(ValueError, match="mode"):
        train.EarlyStopping(mode="up")


def test_monitoring_a_value_that_is_not_logged_says_what_is():
    model, loss_fn, optimizer = setup()
    with pytest.raises(ValueError, match="val_loss.*val_data"):
        train.fit(model, loss_fn, optimizer, loaders()[0], callbacks=[train.EarlyStopping()], verbose=False)


def test_model_checkpoint_saves_only_improvements(tmp_path):
    path = tmp_path / "ckpt" / "best.npz"
    checkpoint = train.ModelCheckpoint(path, save_best_only=True)
    model, optimizer, _ = run(epochs=4, callbacks=[Scripted([1.0, 0.5, 0.8, 0.9]), checkpoint])
    saved = md.load(path)
    assert saved["epoch"] == 2 and set(saved["model"]) == set(model.state_dict())
    assert saved["optimizer"]["param_groups"][0]["lr"] == 0.05
    assert [p.name for p in path.parent.iterdir()] == ["best.npz"]  # no temporary file left behind


def test_model_checkpoint_every_epoch_with_a_pattern(tmp_path):
    checkpoint = train.ModelCheckpoint(tmp_path / "ckpt-{epoch:02d}.npz")
    model, optimizer, _ = run(epochs=2, callbacks=[checkpoint])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-01.npz", "ckpt-02.npz"]
    restored, _, _ = setup()
    restored.load_state_dict(md.load(tmp_path / "ckpt-02.npz")["model"])
    np.testing.assert_array_equal(restored[0].weight.array, model[0].weight.array)


def test_model_checkpoint_keeps_the_previous_file_when_saving_fails(tmp_path, monkeypatch):
    path = tmp_path / "best.npz"
    run(epochs=1, callbacks=[train.ModelCheckpoint(path)])
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        run(epochs=1, callbacks=[train.ModelCheckpoint(path)])
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["best.npz"]


def test_learning_rate_scheduler_with_a_function_and_with_a_scheduler():
    _, _, history = run(epochs=3, callbacks=[train.LearningRateScheduler(lambda epoch, lr: 0.1 * 0.5**epoch)])
    assert history["lr"] == [0.1, 0.05, 0.025]
    model, loss_fn, optimizer = setup(lr=0.1)
    step = md.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.1)
    history = train.fit(model, loss_fn, optimizer, loaders()[0], epochs=3, scheduler=step, verbose=False)
    assert history["lr"] == pytest.approx([0.1, 0.01, 0.001])


def test_learning_rate_scheduler_feeds_reduce_on_plateau_the_monitored_value():
    model, loss_fn, optimizer = setup()
    plateau = md.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.1, patience=0)
    callbacks = [Scripted([1.0, 1.0, 1.0]), train.LearningRateScheduler(plateau, monitor="val_loss")]
    history = train.fit(model, loss_fn, optimizer, loaders()[0], 3, loaders()[1], callbacks, verbose=False)
    assert history["lr"] == pytest.approx([0.05, 0.05, 0.005])


def test_csv_logger_writes_a_row_per_epoch(tmp_path):
    path = tmp_path / "log.csv"
    run(epochs=3, callbacks=[train.CSVLogger(path)])
    rows = list(csv.DictReader(path.open()))
    assert [row["epoch"] for row in rows] == ["1", "2", "3"]
    assert set(rows[0]) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"}
    run(epochs=1, callbacks=[train.CSVLogger(path, append=True)])
    assert len(list(csv.DictReader(path.open()))) == 4


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow that makes the NaN
def test_terminate_on_nan_stops_at_the_first_bad_batch():
    recorder = Recorder()
    _, _, history = run(epochs=5, lr=1e6, callbacks=[recorder, train.TerminateOnNaN()])
    assert len(history) == 1 and not math.isfinite(history["loss"][0])
    assert history.stop_reason.startswith("TerminateOnNaN: the loss became")
    assert "epoch 1, batch" in history.stop_reason
    assert recorder.calls.count("batch") < len(loaders()[0])


# ----------------------------------------------------------------------------- metrics
labels = st.integers(1, 60).flatmap(lambda n: st.tuples(*[hnp.arrays(np.int64, n, elements=st.integers(0, 4))] * 2))


@given(labels)
def test_classification_metrics_match_sklearn(pair):
    y_true, y_pred = pair
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(sklearn.metrics.accuracy_score(y_true, y_pred))
    for ours, theirs in [(metrics.precision, sklearn.metrics.precision_score),
                         (metrics.recall, sklearn.metrics.recall_score), (metrics.f1, sklearn.metrics.f1_score)]:
        for average in ("macro", "micro"):
            expected = theirs(y_true, y_pred, average=average, zero_division=0)
            assert ours(y_true, y_pred, average=average) == pytest.approx(expected), (ours.__name__, average)
    expected = sklearn.metrics.confusion_matrix(y_true, y_pred, labels=np.arange(5))
    np.testing.assert_array_equal(metrics.confusion_matrix(y_true, y_pred, num_classes=5), expected)


@given(hnp.arrays(np.float64, st.integers(1, 30), elements=st.floats(-1e3, 1e3)), st.randoms())
def test_regression_metrics_match_sklearn(y_true, random):
    y_pred = y_true + np.array([random.uniform(-5, 5) for _ in y_true])
    assert metrics.mse(y_true, y_pred) == pytest.approx(sklearn.metrics.mean_squared_error(y_true, y_pred))
    assert metrics.rmse(y_true, y_pred) == pytest.approx(np.sqrt(sklearn.metrics.mean_squared_error(y_true, y_pred)))
    assert metrics.mae(y_true, y_pred) == pytest.approx(sklearn.metrics.mean_absolute_error(y_true, y_pred))


def test_metric_errors_are_clear():
    with pytest.raises(ValueError, match="same shape"):
        metrics.accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="average"):
        metrics.f1([0, 1], [0, 1], average="weighted")
    with pytest.raises(ValueError, match="unknown metric"):
        metrics.get_metric("auc")
    assert metrics.get_metric(metrics.mae) == ("mae", metrics.mae)
