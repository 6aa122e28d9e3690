"""md.tune on a real Dask cluster: trials sent through ``distributed.Client(...).get_executor()``
give the serial search's results table, with threaded workers (trials side by side in the threads
of one process: each thread keeps its own grad mode) and with worker processes.  One small
cluster of each kind for the whole module, closed at its end."""
import argparse
import functools
import multiprocessing

import pytest

distributed = pytest.importorskip("distributed")
import dask  # noqa: E402  (installed with distributed)

from minidl.tune import MedianPruner, grid_search, random_search  # noqa: E402
from minidl.tune.cli import add_tune_parser  # noqa: E402
from minidl.tune.examples import DIGITS_MLP_SPACE, digits_mlp_trial  # noqa: E402

TRIAL = functools.partial(digits_mlp_trial, epochs=2)  # picklable: worker processes receive it
N_TRIALS = 6


def records(results):
    return [(r["trial"], r["params"], r["seed"], r["score"], r["status"], r["curve"]) for r in results]


@pytest.fixture(scope="module")
def serial():
    return random_search(TRIAL, DIGITS_MLP_SPACE, N_TRIALS, seed=0)


@pytest.fixture(scope="module", params=["threads", "processes"])
def cluster(request):
    """Two workers: three threads each in this process, or one process of one thread each."""
    processes = request.param == "processes"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1 if processes else 3, processes=processes,
                                  dashboard_address=None) as cluster:
        yield cluster
    assert not multiprocessing.active_children()  # the worker processes are gone


def test_random_search_on_the_cluster_gives_the_serial_table(cluster, serial):
    with distributed.Client(cluster) as client:
        results = random_search(TRIAL, DIGITS_MLP_SPACE, N_TRIALS, seed=0, executor=client.get_executor())
    assert records(results) == records(serial)
    assert results.to_text() == serial.to_text()


def test_pruned_grid_search_on_the_cluster_gives_the_serial_table(cluster):
    """Every trial reports after each epoch: its evaluation (under no_grad) interleaves with the
    other trials' training steps.  The second wave of three is pruned against the first."""
    grid = {"lr": [1e-2, 1e-3], "hidden": [16, 32, 64], "batch_size": [64]}
    search = functools.partial(grid_search, TRIAL, grid, seed=1, pruner=MedianPruner(n_startup_trials=2), wave_size=3)
    serial = search()
    assert [r["status"] for r in serial].count("pruned") == 3
    with distributed.Client(cluster) as client:
        results = search(executor=client.get_executor())
    assert records(results) == records(serial)


def test_tune_command_runs_on_a_scheduler_address(cluster, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_tune_parser(parser.add_subparsers())
    argv = ["tune", "--trials", "3", "--epochs", "1", "--out", str(tmp_path)]
    tables = []
    for extra in ([], ["--scheduler", cluster.scheduler_address]):
        args = parser.parse_args(argv + extra)
        assert args.run(args) == 0
        tables.append(capsys.readouterr().out.split("\nplot:")[0])
    assert tables[0] == tables[1]


def test_an_unreachable_scheduler_is_one_error_line(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_tune_parser(parser.add_subparsers())
    args = parser.parse_args(["tune", "--scheduler", "tcp://127.0.0.1:1", "--out", str(tmp_path)])
    with dask.config.set({"distributed.comm.timeouts.connect": "0.5s"}):
        assert args.run(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --scheduler tcp://127.0.0.1:1: cannot reach the Dask scheduler")
    assert err.count("\n") == 1
