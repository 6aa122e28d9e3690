"""Grid search and random search over any training function, trials run through any executor.

    def train_fn(params, seed):              # -> a score (higher is better) or {"score": ..., ...}
        ...
    results = random_search(train_fn, {"lr": LogUniform(1e-4, 1e-1), "hidden": IntUniform(16, 128)},
                            n_trials=20, seed=0)
    print(results.to_text()); results.best["params"]

Reproducible: trial i gets the seed ``trial_seed(seed, i)`` and (random search) draws its
hyperparameters from a generator seeded by (seed, i) too, so a trial's params and seed depend on
nothing but ``seed`` and ``i``: not on the executor, the number of workers or the finishing order.

Parallel: pass any ``concurrent.futures.Executor`` as ``executor=``.  ``ProcessPoolExecutor``
works when ``train_fn`` is picklable (a module-level function or a ``functools.partial`` of one);
a Dask cluster, of threaded workers or worker processes, on one machine or many, plugs in the
same way through ``distributed.Client(address).get_executor()`` (``pip install "minidl[dask]"``;
the workers need minidl and ``train_fn``'s module).  Without one, trials run one after the other
in this process.  Trials in threads (a ``ThreadPoolExecutor``, Dask's threaded workers) each keep
their own grad mode, but share minidl's random generator, as torch's is shared: a ``train_fn``
that seeds it with ``md.manual_seed`` seeds and draws under a lock (``examples.make_mlp`` does).

Early stopping: with ``pruner=`` (``MedianPruner``, ``PatiencePruner``), ``train_fn`` is called as
``train_fn(params, seed, report)`` and calls ``report(step, score)`` as it goes; see pruners.py.
Trials are submitted in waves of ``wave_size``; a trial's pruner compares it with the trials of
earlier waves only, so for a given ``wave_size`` pruning decisions too are the same whatever the
executor.
"""
import itertools
import numbers

import numpy as np

from minidl.tune.pruners import TrialPruned
from minidl.tune.results import SearchResults


def trial_seed(seed, index):
    """The seed of trial ``index``: a 32-bit integer derived from (seed, index) by NumPy's
    ``SeedSequence``, so nearby trials get unrelated random streams."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def grid_search(train_fn, param_grid, seed=0, mode="max", executor=None, pruner=None, wave_size=None):
    """Run ``train_fn`` once on every combination of ``param_grid`` (a dict name -> list of values,
    combined in the dict's order, last name varying fastest).  Returns ``SearchResults``."""
    _check_grid(param_grid)
    names = list(param_grid)
    combos = [dict(zip(names, values)) for values in itertools.product(*param_grid.values())]
    return run_trials(train_fn, combos, seed, mode, executor, pruner, wave_size)


def random_search(train_fn, distributions, n_trials, seed=0, mode="max", executor=None, pruner=None, wave_size=None):
    """Run ``train_fn`` on ``n_trials`` combinations drawn from ``distributions`` (a dict name ->
    ``LogUniform``/``Uniform``/``IntUniform``/``Choice``, or a plain value that stays fixed).
    Returns ``SearchResults``."""
    if isinstance(n_trials, bool) or not isinstance(n_trials, numbers.Integral) or n_trials < 1:
        raise ValueError(f"random_search: n_trials must be a positive integer, got {n_trials!r}")
    combos = [_draw(distributions, np.random.default_rng([seed, index])) for index in range(int(n_trials))]
    return run_trials(train_fn, combos, seed, mode, executor, pruner, wave_size)


def run_trials(train_fn, combos, seed=0, mode="max", executor=None, pruner=None, wave_size=None):
    """Run trial i = ``train_fn(combos[i], trial_seed(seed, i))`` for every i, in waves of
    ``wave_size`` trials (default: 1 with a pruner, all of them without); collect ``SearchResults``."""
    if mode not in ("max", "min"):
        raise ValueError(f"run_trials: mode must be 'max' or 'min', got {mode!r}")
    if wave_size is None:
        wave_size = 1 if pruner is not None else max(len(combos), 1)
    if isinstance(wave_size, bool) or not isinstance(wave_size, numbers.Integral) or wave_size < 1:
        raise ValueError(f"run_trials: wave_size must be a positive integer, got {wave_size!r}")
    sign = 1.0 if mode == "max" else -1.0
    records = []
    for start in range(0, len(combos), wave_size):
        finished = [[(step, sign * score) for step, score in record["curve"]] for record in records]
        jobs = [
            (train_fn, index, combos[index], trial_seed(seed, index), pruner, sign, finished)
            for index in range(start, min(start + wave_size, len(combos)))
        ]
        if executor is None:
            records += [run_trial(*job) for job in jobs]
        else:
            futures = [executor.submit(run_trial, *job) for job in jobs]
            records += [future.result() for future in futures]
    return SearchResults(records, mode)


def run_trial(train_fn, index, params, seed, pruner=None, sign=1.0, finished_curves=()):
    """One trial, as a record: ``{"trial", "params", "seed", "score", "status", "curve", ...}``.

    ``status`` is ``"complete"``, or ``"pruned"`` (score = last reported score) when the pruner
    stopped it; other keys of a dict returned by ``train_fn`` are kept.  Module-level so that a
    process pool can pickle it."""
    record = {"trial": index, "params": dict(params), "seed": seed, "status": "complete", "curve": []}

    def report(step, score):
        record["curve"].append((step, float(score)))
        turned = [(s, sign * value) for s, value in record["curve"]]
        if pruner.should_prune(turned, finished_curves):
            raise TrialPruned(f"trial {index} pruned at step {step}")

    try:
        result = train_fn(params, seed) if pruner is None else train_fn(params, seed, report)
    except TrialPruned:
        record.update(status="pruned", score=record["curve"][-1][1])
        return record
    record.update(as_score_dict(result))
    return record


def as_score_dict(result):
    """A training function's answer (a number, or a dict with ``"score"``) as a dict holding a
    float ``"score"``."""
    if isinstance(result, dict):
        if "score" not in result:
            raise ValueError(f"run_trial: train_fn returned a dict without 'score'; keys: {sorted(result)}")
        return dict(result, score=float(result["score"]))
    try:
        return {"score": float(result)}
    except (TypeError, ValueError):
        raise TypeError(
            f"run_trial: train_fn must return a number or a dict with 'score', got {type(result).__name__}"
        ) from None


def _draw(distributions, rng):
    """One combination: a sample of each distribution (in the dict's order), plain values as they are."""
    return {name: d.sample(rng) if hasattr(d, "sample") else d for name, d in distributions.items()}


def _check_grid(param_grid):
    if not isinstance(param_grid, dict) or not param_grid:
        raise ValueError(f"grid_search: param_grid must be a non-empty dict name -> list of values, got {param_grid!r}")
    for name, values in param_grid.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__") or not list(values):
            raise ValueError(f"grid_search: param_grid[{name!r}] must be a non-empty list of values, got {values!r}")
