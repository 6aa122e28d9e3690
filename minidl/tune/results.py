"""The outcome of a search: its trials best first, as a table and as a plot."""
import math


class SearchResults:
    """A list of trial records (dicts with ``"trial"``, ``"params"``, ``"seed"``, ``"score"``,
    ``"status"``, ``"curve"``, ...), best first: completed trials by score (highest first, or
    lowest with ``mode="min"``), then pruned ones by their last score.

    ``results[0]`` is ``results.best``; ``len(results)``, iteration and ``to_text()`` work as expected.
    """

    def __init__(self, records, mode="max"):
        sign = -1.0 if mode == "max" else 1.0
        self.mode = mode
        self.records = sorted(
            records, key=lambda r: (r["status"] == "pruned", math.isnan(r["score"]), sign * r["score"], r["trial"])
        )

    @property
    def best(self):
        return self.records[0]

    def __len__(self):
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def __getitem__(self, index):
        return self.records[index]

    def param_names(self):
        """Every hyperparameter name, in the order first seen."""
        return list(dict.fromkeys(name for record in self.records for name in record["params"]))

    def to_text(self):
        """A plain-text table: rank, trial, score, status, then one column per hyperparameter."""
        names = self.param_names()
        header = ["rank", "trial", "score", "status"] + names
        rows = [
            [str(rank), str(r["trial"]), _format(r["score"]), r["status"]]
            + [_format(r["params"].get(name, "")) for name in names]
            for rank, r in enumerate(self.records, start=1)
        ]
        widths = [max(len(row[i]) for row in [header] + rows) for i in range(len(header))]
        lines = ["  ".join(cell.rjust(width) for cell, width in zip(row, widths)) for row in [header] + rows]
        return "\n".join([lines[0], "-" * len(lines[0])] + lines[1:])

    def __repr__(self):
        return f"SearchResults({len(self)} trials, best score {self.best['score']:.4g})"


def _format(value):
    return f"{value:.4g}" if isinstance(value, float) else str(value)


TRIAL_STYLES = (  # status, legend label, marker style
    ("complete", "completed trial", dict(color="C0")),
    ("pruned", "pruned trial (last score)", dict(facecolors="none", edgecolors="C0")),
)
BEST_STYLE = dict(marker="*", s=160, color="C3", zorder=3)


def plot_results(results, path=None, log_scale=(), score_name="score"):
    """Save ``results_figure(results, log_scale, score_name)`` as a PNG at ``path`` and return the
    Path (with ``path=None``: return the Figure)."""
    from minidl.viz.figure import save

    return save(results_figure(results, log_scale, score_name), path, dpi=80)


def results_figure(results, log_scale=(), score_name="score"):
    """A matplotlib Figure: the score of every trial against each hyperparameter, one panel per
    hyperparameter, completed trials filled, pruned ones hollow (at their last score), the best
    trial starred; the legend names each.  Names in ``log_scale`` get a logarithmic x axis, as do
    numeric parameters spanning more than two decades.  ``score_name`` labels the y axis."""
    from minidl.viz.figure import subplots

    names = results.param_names()
    fig, axes = subplots(1, len(names), figsize=(3.2 * len(names), 3.2), squeeze=False, sharey=True)
    for ax, name in zip(axes[0], names):
        for status, label, style in TRIAL_STYLES:
            points = [(r["params"][name], r["score"]) for r in results if r["status"] == status]
            if points:
                ax.scatter(*zip(*points), label=label, **style)
        best = results.best
        ax.scatter([best["params"][name]], [best["score"]], label=f"best: trial {best['trial']}", **BEST_STYLE)
        if name in log_scale or _spans_decades([r["params"][name] for r in results]):
            ax.set_xscale("log")
        ax.set_xlabel(name + (" (log scale)" if ax.get_xscale() == "log" else ""))
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(score_name)
    axes[0][-1].legend(title=f"{len(results)} trials", fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1))
    return fig


def _spans_decades(values):
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return len(numbers) == len(values) and min(numbers) > 0 and max(numbers) / min(numbers) > 100
