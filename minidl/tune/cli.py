"""``python -m minidl tune``: a random search over the digits MLP's learning rate, hidden size and
batch size; prints the results table (best first) and saves the score-vs-hyperparameter plot.

Registered in ``minidl/__main__.py`` with ``add_tune_parser(commands)``; runs ``run_tune(args)``.
"""
import contextlib
import functools
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from minidl.cli_types import DefaultsHelpFormatter, file_given_as_directory, non_negative_int, positive_int
from minidl.tune.pruners import MedianPruner
from minidl.tune.results import plot_results
from minidl.tune.search import random_search

DATASETS = ("digits",)


def add_tune_parser(subparsers):
    """Add the ``tune`` command to an argparse ``add_subparsers()`` object; returns its parser."""
    parser = subparsers.add_parser(
        "tune",
        help="random search over lr, hidden size and batch size of the digits MLP",
        description="Random search: lr ~ LogUniform(1e-4, 1e-1), hidden ~ IntUniform(16, 128), batch size in "
        "{16, 32, 64, 128}; each trial trains Linear(64, H) -> ReLU -> Linear(H, 10) with Adam and is scored "
        "by its validation accuracy (a fixed, stratified 60/20/20 split). Prints the trials best first and "
        "saves the score of every trial against each hyperparameter as a PNG. Trial i is seeded from "
        "(--seed, i): the same command gives the same table, with any number of workers, here or on a "
        "Dask cluster.",
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument("--trials", type=positive_int, default=10, metavar="N", help="number of trials")
    parser.add_argument("--seed", type=non_negative_int, default=0, metavar="S", help="seeds the draws and the trials")
    parser.add_argument("--dataset", choices=DATASETS, default="digits", help="data to tune on")
    parser.add_argument("--epochs", type=positive_int, default=10, metavar="E", help="training epochs per trial")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=positive_int, default=1, metavar="W",
                       help="processes running trials at once (1: in this process)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="run the trials on the Dask cluster whose scheduler is at ADDRESS, such as "
                       "tcp://host:8786 (needs pip install 'minidl[dask]')")
    parser.add_argument("--prune", action="store_true",
                        help="stop trials whose validation accuracy is below the median of earlier trials")
    parser.add_argument("--out", type=Path, default=Path("tune_results"), metavar="DIR",
                        help="directory for the plot tune_results.png")
    parser.set_defaults(run=run_tune)
    return parser


@contextlib.contextmanager
def trial_executor(workers=1, scheduler=None):
    """Where the trials run, as ``(executor, slots)``: a Dask cluster's executor and its number of
    worker threads (``scheduler``), a pool of ``workers`` processes, or ``(None, 1)``: this process."""
    if scheduler is not None:
        from distributed import Client

        with Client(scheduler) as client:
            yield client.get_executor(), sum(client.nthreads().values())
    elif workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            yield pool, workers
    else:
        yield None, 1


def run_tune(args):
    """Run the search described by ``args`` (from ``add_tune_parser``); returns the exit status:
    0, or 1 (after one ``error:`` line) when the output directory cannot be made (checked before
    any training), dask is missing or the scheduler cannot be reached."""
    from minidl.tune.examples import DIGITS_MLP_SPACE, digits_mlp_trial

    problem = file_given_as_directory("--out", args.out, "a folder for tune_results.png")
    if problem is None:
        try:
            args.out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            problem = f"--out {args.out}: cannot create the directory: {error.strerror}"
    if problem is not None:
        print("error: " + problem, file=sys.stderr)
        return 1

    train_fn = functools.partial(digits_mlp_trial, epochs=args.epochs)  # picklable, for the process pool
    pruner = MedianPruner() if args.prune else None
    with contextlib.ExitStack() as stack:
        try:
            executor, slots = stack.enter_context(trial_executor(args.workers, args.scheduler))
        except ImportError as error:
            print(f"error: --scheduler needs dask's distributed ({error}); pip install 'minidl[dask]'", file=sys.stderr)
            return 1
        except OSError as error:
            print(f"error: --scheduler {args.scheduler}: cannot reach the Dask scheduler: {error}", file=sys.stderr)
            return 1
        wave_size = slots if pruner else None  # with a pruner: one trial per worker at a time
        results = random_search(
            train_fn, DIGITS_MLP_SPACE, args.trials, seed=args.seed, executor=executor, pruner=pruner, wave_size=wave_size
        )
    print(results.to_text())
    log_scaled = [name for name, distribution in DIGITS_MLP_SPACE.items() if distribution.log_scale]
    path = plot_results(results, args.out / "tune_results.png", log_scaled, score_name="validation accuracy")
    best = results.best
    print(f"\nbest: trial {best['trial']}, validation accuracy {best['score']:.4f}, params {best['params']}")
    print(f"plot: {path}")
    return 0
