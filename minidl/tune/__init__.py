"""``md.tune``: hyperparameter search (grid, random, k-fold cross-validation), trials run through
any ``concurrent.futures.Executor``, early-stopped by pruners, results as a table and a plot."""
from minidl.tune.crossval import cross_validate
from minidl.tune.distributions import Choice, IntUniform, LogUniform, Uniform
from minidl.tune.pruners import MedianPruner, PatiencePruner, TrialPruned
from minidl.tune.results import SearchResults, plot_results
from minidl.tune.search import grid_search, random_search, run_trials, trial_seed
