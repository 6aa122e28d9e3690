"""md.tune: reproducible grid and random search, executors, cross-validation, pruning, results."""
import argparse
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

from minidl.data import KFold, StratifiedKFold
from minidl.tune import (
    Choice,
    IntUniform,
    LogUniform,
    MedianPruner,
    PatiencePruner,
    SearchResults,
    Uniform,
    cross_validate,
    grid_search,
    plot_results,
    random_search,
)
from minidl.tune.cli import add_tune_parser
from minidl.tune.results import results_figure

SPACE = {"x": Uniform(-1.0, 1.0), "lr": LogUniform(1e-4, 1e-1), "n": IntUniform(1, 3), "act": Choice(["relu", "tanh"])}


def noisy_quadratic(params, seed):
    """Picklable toy objective: best at x = 0.3, plus seeded noise, so the seed visibly matters."""
    return -((params["x"] - 0.3) ** 2) + 1e-3 * np.random.default_rng(seed).standard_normal()


def summary(results):
    return [(r["trial"], r["params"], r["seed"], r["score"]) for r in results]


def test_random_search_is_reproducible_and_seeded_per_trial():
    first = random_search(noisy_quadratic, SPACE, n_trials=6, seed=3)
    assert summary(first) == summary(random_search(noisy_quadratic, SPACE, n_trials=6, seed=3))
    assert summary(first) != summary(random_search(noisy_quadratic, SPACE, n_trials=6, seed=4))
    # trial i depends only on (seed, i): a longer search starts with the same trials
    longer = {r["trial"]: r for r in random_search(noisy_quadratic, SPACE, n_trials=9, seed=3)}
    assert all(longer[r["trial"]]["params"] == r["params"] and longer[r["trial"]]["seed"] == r["seed"] for r in first)
    assert len({r["seed"] for r in first}) == 6


def test_distributions_stay_in_range():
    params = [r["params"] for r in random_search(noisy_quadratic, SPACE, n_trials=200, seed=0)]
    assert all(-1 <= p["x"] < 1 and 1e-4 <= p["lr"] <= 1e-1 and p["act"] in ("relu", "tanh") for p in params)
    assert {p["n"] for p in params} == {1, 2, 3}  # both ends included
    decades = np.histogram(np.log10([p["lr"] for p in params]), bins=[-4, -3, -2, -1])[0]
    assert decades.min() > 40  # log-uniform: each decade gets about a third
    with pytest.raises(ValueError, match="LogUniform"):
        LogUniform(0.0, 1.0)


def test_grid_search_runs_every_combination_best_first():
    grid = {"x": [-0.5, 0.0, 0.25, 0.5], "unused": ["a", "b"]}
    results = grid_search(noisy_quadratic, grid, seed=0)
    assert len(results) == 8
    assert sorted((r["params"]["x"], r["params"]["unused"]) for r in results) == sorted(
        (x, u) for x in grid["x"] for u in grid["unused"]
    )
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    assert results.best["params"]["x"] == 0.25
    minimised = grid_search(noisy_quadratic, grid, seed=0, mode="min")
    assert minimised.best["params"]["x"] == -0.5
    with pytest.raises(ValueError, match="param_grid"):
        grid_search(noisy_quadratic, {"x": []})


def test_process_pool_gives_the_same_results_as_sequential():
    sequential = random_search(noisy_quadratic, SPACE, n_trials=6, seed=1)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        parallel = random_search(noisy_quadratic, SPACE, n_trials=6, seed=1, executor=pool)
    assert summary(parallel) == summary(sequential)


def test_train_fn_may_return_a_dict_and_must_give_a_score():
    results = random_search(lambda p, s: {"score": p["x"], "note": "kept"}, SPACE, n_trials=2)
    assert all(r["note"] == "kept" for r in results)
    with pytest.raises(ValueError, match="without 'score'"):
        random_search(lambda p, s: {"loss": 1.0}, SPACE, n_trials=1)
    with pytest.raises(TypeError, match="number or a dict"):
        random_search(lambda p, s: "good", SPACE, n_trials=1)


def test_cross_validation_hands_each_sample_to_one_validation_fold():
    x, y = np.zeros((23, 2)), np.arange(23) % 3
    seen = []

    def train_fold(params, train_idx, val_idx, seed):
        seen.append((params["x"], train_idx, val_idx, seed))
        return float(len(val_idx))

    results = random_search(cross_validate(train_fold, x, y, folds=StratifiedKFold(4, shuffle=True, seed=0)),
                            {"x": Uniform(0, 1)}, n_trials=2, seed=0)
    assert len(seen) == 8
    for trial in (seen[:4], seen[4:]):
        validation = np.concatenate([val for _, _, val, _ in trial])
        assert sorted(validation) == list(range(23))
        assert all(not set(train) & set(val) and len(train) + len(val) == 23 for _, train, val, _ in trial)
        assert len({seed for *_, seed in trial}) == 4
    # every trial sees the same folds
    assert all(np.array_equal(a[2], b[2]) for a, b in zip(seen[:4], seen[4:]))
    record = results.best
    assert record["fold_scores"] == [6.0, 6.0, 6.0, 5.0] and record["score"] == pytest.approx(23 / 4)
    assert record["score_std"] == pytest.approx(np.std([6, 6, 6, 5]))
    with pytest.raises(TypeError, match="folds"):
        cross_validate(train_fold, x, y, folds=4)


def validation_size(params, train_idx, val_idx, seed):
    return len(val_idx) * params["x"]


def test_cross_validation_runs_in_a_process_pool():
    fn = cross_validate(validation_size, np.zeros(12), folds=KFold(3, shuffle=True, seed=0))
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        parallel = random_search(fn, {"x": Uniform(0, 1)}, n_trials=3, seed=0, executor=pool)
    assert summary(parallel) == summary(random_search(fn, {"x": Uniform(0, 1)}, n_trials=3, seed=0))


def test_cross_validation_defaults_to_five_folds():
    fn = cross_validate(lambda p, tr, va, s: 1.0, np.zeros(10))
    assert len(fn.splits) == 5 and fn({}, 0)["score"] == 1.0
    assert [len(v) for _, v in KFold(5).split(np.zeros(10))] == [len(v) for _, v in fn.splits]


def learning_curve_trial(params, seed, report):
    """Accuracy rising to ``params["quality"]`` over 5 epochs, reported each epoch."""
    for epoch in range(1, 6):
        report(epoch, params["quality"] * epoch / 5)
    return params["quality"]


def test_median_pruner_stops_trials_below_the_median():
    grid = {"quality": [0.9, 0.8, 0.85, 0.3, 0.95, 0.2]}
    results = grid_search(learning_curve_trial, grid, pruner=MedianPruner(n_startup_trials=3, n_warmup_steps=1))
    status = {r["params"]["quality"]: r["status"] for r in results}
    assert [q for q, s in status.items() if s == "pruned"] == [0.3, 0.2]
    pruned = [r for r in results if r["status"] == "pruned"]
    assert all(len(r["curve"]) == 1 for r in pruned)  # stopped at the first step past the warm-up
    assert [r["status"] for r in results][-2:] == ["pruned", "pruned"]  # ranked after the complete trials


def test_pruning_is_the_same_through_an_executor_with_the_same_waves():
    grid = {"quality": [0.9, 0.8, 0.85, 0.3, 0.95, 0.2, 0.1, 0.99]}
    pruner = MedianPruner(n_startup_trials=2)
    sequential = grid_search(learning_curve_trial, grid, pruner=pruner, wave_size=2)
    with ThreadPoolExecutor(2) as pool:
        threaded = grid_search(learning_curve_trial, grid, pruner=pruner, wave_size=2, executor=pool)
    assert [(r["trial"], r["status"], r["curve"]) for r in sequential] == [
        (r["trial"], r["status"], r["curve"]) for r in threaded
    ]


def test_patience_pruner_stops_a_plateau():
    def plateau(params, seed, report):
        for epoch, score in enumerate([0.5, 0.6, 0.6, 0.6, 0.6, 0.9]):
            report(epoch, score)
        return 0.9

    record = grid_search(plateau, {"a": [0]}, pruner=PatiencePruner(patience=3)).best
    assert record["status"] == "pruned" and record["score"] == 0.6 and len(record["curve"]) == 5
    for patience in (0, 1):  # as Keras's EarlyStopping: stop at the first report that does not improve
        record = grid_search(plateau, {"a": [0]}, pruner=PatiencePruner(patience=patience)).best
        assert record["status"] == "pruned" and len(record["curve"]) == 3
    with pytest.raises(ValueError, match="PatiencePruner: patience must be >= 0, got -1"):
        PatiencePruner(patience=-1)


def test_results_table_and_plot(tmp_path):
    results = random_search(noisy_quadratic, SPACE, n_trials=5, seed=0)
    lines = results.to_text().splitlines()
    assert lines[0].split() == ["rank", "trial", "score", "status", "x", "lr", "n", "act"]
    assert [int(line.split()[1]) for line in lines[2:]] == [r["trial"] for r in results]
    assert plot_results(results, tmp_path / "search.png").stat().st_size > 1000
    scores = [0.5, float("nan"), 0.9]
    nan_last = SearchResults([{"trial": i, "status": "complete", "score": s} for i, s in enumerate(scores)])
    assert [r["trial"] for r in nan_last] == [2, 0, 1]


def test_tune_command_prints_the_table_and_saves_the_plot(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_tune_parser(parser.add_subparsers())
    args = parser.parse_args(["tune", "--trials", "2", "--seed", "1", "--epochs", "1", "--out", str(tmp_path)])
    assert args.run(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["rank", "trial", "score", "status", "lr", "hidden", "batch_size"]
    assert [line.split()[0] for line in lines[2:4]] == ["1", "2"] and lines[5].startswith("best: trial")
    assert (tmp_path / "tune_results.png").is_file()
    (tmp_path / "a_file").write_text("")
    args = parser.parse_args(["tune", "--out", str(tmp_path / "a_file")])
    assert args.run(args) == 1
    assert capsys.readouterr().err == f"error: --out {tmp_path / 'a_file'} is a file, not a directory; " \
        "give a folder for tune_results.png\n"
    with pytest.raises(SystemExit):
        parser.parse_args(["tune", "--trials", "0"])


def legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_results_figure_has_log_axes_and_names_every_marker():
    grid = {"x": [-0.5, 0.3], "lr": [1e-3, 1e-2]}

    def pruned_when_x_is_negative(params, seed, report):
        report(0, 0.0)
        report(1, params["x"])  # no improvement for x < 0: pruned here
        return params["x"]

    results = grid_search(pruned_when_x_is_negative, grid, pruner=PatiencePruner(patience=0))
    figure = results_figure(results, log_scale=("lr",), score_name="validation accuracy")
    x_axis, lr_axis = figure.axes
    assert (x_axis.get_xscale(), lr_axis.get_xscale()) == ("linear", "log")
    assert lr_axis.get_xlabel() == "lr (log scale)" and x_axis.get_ylabel() == "validation accuracy"
    best = results.best["trial"]
    assert legend_texts(lr_axis) == ["completed trial", "pruned trial (last score)", f"best: trial {best}"]
    assert lr_axis.get_legend().get_title().get_text() == "4 trials"


def test_tune_command_plots_the_learning_rate_on_a_log_axis(tmp_path, monkeypatch, capsys):
    from minidl.viz import figure

    saved, real_save = [], figure.save

    def save(fig, path, **options):
        saved.append([(ax.get_xlabel(), ax.get_xscale()) for ax in fig.axes] + [fig.axes[0].get_ylabel()])
        return real_save(fig, path, **options)

    monkeypatch.setattr(figure, "save", save)
    parser = argparse.ArgumentParser()
    add_tune_parser(parser.add_subparsers())
    args = parser.parse_args(["tune", "--trials", "2", "--epochs", "1", "--out", str(tmp_path)])
    assert args.run(args) == 0
    assert saved == [[("lr (log scale)", "log"), ("hidden", "linear"), ("batch_size", "linear"), "validation accuracy"]]


def test_tune_command_says_when_dask_is_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed now raises ImportError
    parser = argparse.ArgumentParser()
    add_tune_parser(parser.add_subparsers())
    args = parser.parse_args(["tune", "--scheduler", "tcp://127.0.0.1:8786", "--out", str(tmp_path)])
    assert args.run(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --scheduler needs dask's distributed") and "pip install 'minidl[dask]'" in err
    with pytest.raises(SystemExit):
        parser.parse_args(["tune", "--scheduler", "tcp://127.0.0.1:8786", "--workers", "2"])
