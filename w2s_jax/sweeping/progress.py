"""The sweep's progress bar: the share done in analytic flops, and a time left that counts the
compiles.

The bar counts whole megaflops of the cost model (`engines.cost.run_flops`, at least one a
run), not cells, so one expensive tier does not sit behind a bar that counts cells. Integer
sums are exact: the bar ends exactly at its total (a float sum can overshoot it by a rounding
error, which tqdm shows as a negative time left and a clamping warning).

The time left is not tqdm's `elapsed · (total − done) / done`: each tier is compiled before
its first chunk runs, and a cheap first tier is mostly compile, so extrapolating its rate to
an expensive tier overstates the time left many times over (`scripts/progress_error.py`
measures it). `TimeLeft` models a tier's time as one compile plus its flops at the rate the
sweep reaches, both read off the chunks as they finish.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import warnings
from collections.abc import Sequence

from tqdm import TqdmWarning, tqdm

from w2s_jax.engines.cost import run_flops
from w2s_jax.sweeping.plan import Run, Tier

__all__ = ["PRIOR_SHARE", "STATED_ERROR", "Progress", "TimeLeft", "progress_class", "run_units"]

#: The share of the matrix-product rate a run is assumed to reach until a chunk that follows
#: a compile has shown the rate itself (the Gram engine's studies reach about that).
PRIOR_SHARE = 0.5

#: How far the time left may be off, as a share of the time the sweep then takes, at the
#: updates `scripts/progress_error.py` reads (near 10 %, 50 % and 90 % of the units): the
#: performance page shows, from its measurement, whether every one was within it.
STATED_ERROR = 0.5


def progress_class() -> type:
    """The progress bar: tqdm's notebook widget in Jupyter where ipywidgets is installed, its
    text bar otherwise (in a terminal, and in Jupyter without ipywidgets, where `tqdm.auto`
    would fall back to the text bar with a warning)."""
    if importlib.util.find_spec("ipywidgets") is None:
        return tqdm
    with warnings.catch_warnings():  # an ipywidgets too old for the widget: the text bar
        warnings.simplefilter("ignore", TqdmWarning)
        from tqdm.auto import tqdm as auto
    return auto


def run_units(static) -> int:
    """The bar's units of one run of `static`: whole megaflops, at least one."""
    return max(1, round(run_flops(static) / 1e6))


class TimeLeft:
    """Seconds left from the chunks finished so far: a tier's time is one compile plus its
    units over the running rate.

    The running rate is the units over the seconds of the chunks that followed another chunk
    of their tier (no compile in them); before there is one, `prior_rate`. Each tier's first
    chunk, less its units at that rate, gives one compile time; the tiers not started yet are
    each charged their mean.

    Args:
        tier_units: the units each tier has to compute, by tier.
        prior_rate: units per second to assume before a chunk has shown the rate; None to
            charge no compile until then (tqdm's own estimate).
    """

    def __init__(self, tier_units: dict[int, int], prior_rate: float | None):
        self.left = dict(tier_units)
        self.prior_rate = prior_rate
        self.first: list[tuple[float, int]] = []  # (seconds, units) of each tier's first chunk
        self.steady: list[tuple[float, int]] = []  # the same for the chunks after it
        self.started: set[int] = set()

    def observe(self, tier: int, units: int, seconds: float) -> float:
        """Record a chunk of `tier` that took `seconds` for `units`; return the seconds left."""
        (self.steady if tier in self.started else self.first).append((seconds, units))
        self.started.add(tier)
        self.left[tier] -= units
        rate = self._rate()
        if rate is None:  # no prior: the average rate so far, compiles included
            spent = sum(s for s, _ in self.first + self.steady)
            rate = sum(u for _, u in self.first + self.steady) / spent if spent > 0 else None
            compile_s = 0.0
        else:
            compile_s = sum(max(0.0, s - u / rate) for s, u in self.first) / len(self.first)
        remaining = sum(self.left.values())
        if not remaining:
            return 0.0
        if not rate:
            return float("nan")
        unstarted = sum(1 for t, u in self.left.items() if u and t not in self.started)
        return remaining / rate + compile_s * unstarted

    def _rate(self) -> float | None:
        seconds = sum(s for s, _ in self.steady)
        if self.steady and seconds > 0:
            return sum(u for _, u in self.steady) / seconds
        return self.prior_rate


class Progress:
    """The bar of one sweep: `record(runs)` for each finished chunk, then `close()`.

    `history` holds, for each chunk, (seconds since the start, units done, cells done, seconds
    left as shown).
    """

    def __init__(
        self,
        tiers: Sequence[Tier],
        done: set[int],
        n_runs: int,
        name: str,
        quiet: bool,
        prior_flops_per_s: float | None,
    ):
        self.cost = {r.index: run_units(tier.static) for tier in tiers for r in tier.runs}
        self.tier_of = {r.index: i for i, tier in enumerate(tiers) for r in tier.runs}
        todo = {
            i: sum(self.cost[r.index] for r in tier.runs if r.index not in done)
            for i, tier in enumerate(tiers)
        }
        prior = None if prior_flops_per_s is None else prior_flops_per_s * PRIOR_SHARE / 1e6
        self.time_left = TimeLeft(todo, prior)
        self.n_runs, self.cells = n_runs, len(done)
        self.history: list[tuple[float, int, int, float]] = []
        self.bar = progress_class()(
            total=sum(self.cost.values()),
            initial=sum(self.cost[i] for i in done if i in self.cost),
            unit="MFLOP",
            disable=quiet,
            desc=name,
            file=sys.stderr,
            dynamic_ncols=True,
            bar_format="{l_bar}{bar}| {percentage:3.0f}% [{elapsed}{postfix}]",
            postfix=self._postfix(None),
        )
        self.start = self.last = time.perf_counter()

    def _postfix(self, left: float | None) -> str:
        shown = "?" if left is None or left != left else tqdm.format_interval(left)
        return f"{shown} left, cells {self.cells}/{self.n_runs}"  # tqdm puts ", " before it

    def record(self, runs: Sequence[Run]) -> None:
        """One finished chunk of `runs` (all of one tier)."""
        now = time.perf_counter()
        units = sum(self.cost[r.index] for r in runs)
        left = self.time_left.observe(self.tier_of[runs[0].index], units, now - self.last)
        self.last = now
        self.cells += len(runs)
        self.bar.set_postfix_str(self._postfix(left), refresh=False)
        self.bar.update(units)
        self.history.append((now - self.start, self.bar.n, self.cells, left))

    def close(self) -> None:
        self.bar.close()
