"""The sweep's progress bar (`sweeping.progress`) counts analytic flops (engines.cost), not
cells: a grid with one expensive cell moves the bar by that cell's cost. Its time left counts
each tier's compile. Checks the weighting and the model of the time left on given times, and
that tqdm's real bar ends at its total without a warning, in a terminal and in Jupyter."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from _sweep_cases import tiny

from w2s_jax.sweeping import driver, progress
from w2s_jax.sweeping.config_file import load_config
from w2s_jax.sweeping.plan import MAX_TIERS, expand, plan_tiers


class FakeBar:
    """Records what the driver tells tqdm."""

    made: list[FakeBar] = []

    def __init__(self, total, initial=0, **kwargs):
        self.total, self.n, self.updates = total, initial, []
        FakeBar.made.append(self)

    def update(self, amount):
        self.updates.append(amount)
        self.n += amount

    def set_postfix_str(self, text, refresh=True):
        self.postfix = text

    def close(self):
        pass


@pytest.fixture
def bar(monkeypatch):
    FakeBar.made.clear()
    monkeypatch.setattr(progress, "progress_class", lambda: FakeBar)
    return FakeBar.made


def test_bar_weighs_runs_by_the_cost_model(bar):
    # Two expensive cells (T = 300 steps) beside two cheap ones (T = 3); T is static, so two
    # tiers of two runs each: two compiles, and each chunk's update sums two runs' costs.
    config = load_config(tiny(grid=dict(T=[3, 300], p_b=[0.2, 0.4]), seeds=1))
    tiers = plan_tiers(expand(config), MAX_TIERS, "cpu", 1)
    assert [len(t.runs) for t in tiers] == [2, 2]
    cost = {r.index: progress.run_units(t.static) for t in tiers for r in t.runs}
    driver.run_sweep(config, devices=1)
    (b,) = bar
    assert b.total == sum(cost.values())
    # Whole megaflops: the bar ends exactly at its total, never past it (a float sum could,
    # and tqdm then warns and shows a negative time left).
    assert all(isinstance(u, int) for u in b.updates)
    assert b.n == b.total
    expensive = max(cost.values())
    assert expensive > 10 * sum(v for v in cost.values() if v < expensive)
    # One update per chunk, each the sum of its runs' costs: the cheap tier first moves the
    # bar by its share only, so the ETA after it already expects the expensive cell.
    assert sorted(b.updates) == pytest.approx(sorted(tier_sum(t, cost) for t in tiers))
    assert b.postfix == "00:00 left, cells 4/4"


def tier_sum(tier, cost):
    return sum(cost[r.index] for r in tier.runs)


def test_the_real_bar_ends_at_its_total_without_a_warning(monkeypatch, capsys):
    """tqdm's own bar on a tiny sweep, every warning an error: its total is the sum of the
    runs' whole megaflops, it ends at 100 %, and no time left it shows is negative."""
    made = []

    class Recorded(progress.Progress):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(progress, "Progress", Recorded)
    config = load_config(tiny(seeds=1, sweep=dict(lanes=1)))  # a run a call: chunks of one
    tiers = plan_tiers(expand(config), MAX_TIERS, "cpu", 1)
    cost = {r.index: progress.run_units(t.static) for t in tiers for r in t.runs}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        driver.run_sweep(config, devices=1, chunk_size=1)
    (b,) = made
    assert b.bar.total == sum(cost.values()) and b.bar.n == b.bar.total
    assert len(b.history) == len(cost)  # one update a chunk of one run
    assert all(left >= 0 for *_, left in b.history) and b.history[-1][-1] == 0
    err = capsys.readouterr().err
    assert "100%" in err and "<-" not in err and "Warning" not in err


def test_quiet_silences_the_bar(capsys):
    driver.run_sweep(load_config(tiny(seeds=1)), devices=1, quiet=True)
    assert capsys.readouterr().err == ""


def test_the_bar_is_the_text_bar_without_ipywidgets(monkeypatch):
    """tqdm.auto without ipywidgets falls back to the text bar with a warning in Jupyter; the
    driver takes the text bar itself, and tqdm.auto's choice where ipywidgets is there."""
    import importlib.util

    import tqdm.auto
    import tqdm.std

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "ipywidgets" else find_spec(name)
    )
    assert progress.progress_class() is tqdm.std.tqdm
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())
    assert progress.progress_class() is tqdm.auto.tqdm


def test_the_time_left_counts_the_compiles():
    """A cheap first tier that is mostly compile, then an expensive one: tqdm's extrapolation
    of the first tier's rate is forty times too long; the model charges one compile."""
    # Prior rate 100 units/s. Tier 0: 10 units in 5.1 s (5 s compile); tier 1: 2 chunks of
    # 1000 units, each 10 s at that rate, after a 5 s compile: 25 s left after tier 0.
    left = progress.TimeLeft({0: 10, 1: 2000}, prior_rate=100.0)
    after_first = left.observe(0, 10, 5.1)
    assert after_first == pytest.approx(5.0 + 20.0)
    assert 40 * after_first < 5.1 * 2000 / 10  # what tqdm's own estimate says
    # Tier 1's first chunk (compile and 1000 units) took 20 s: still the prior rate's 10 s left.
    assert left.observe(1, 1000, 20.0) == pytest.approx(10.0)
    # Its second chunk runs at 50 units/s: the rate is read off it, and nothing is left.
    assert left.observe(1, 1000, 20.0) == 0.0


def test_the_rate_is_read_off_a_chunk_after_a_compile():
    """Once a chunk that followed a chunk of its tier has run, its rate replaces the prior,
    and the compile of each tier not started is the first chunks' time less their units at
    that rate."""
    left = progress.TimeLeft({0: 300, 1: 500}, prior_rate=1e9)
    left.observe(0, 100, 7.0)  # compile + 100 units
    # 200 units in 4 s: 50 units/s, so tier 0's first chunk was 5 s of compile and 2 s of
    # work; tier 1 left: one compile and 500 units at 50 units/s.
    assert left.observe(0, 200, 4.0) == pytest.approx(5.0 + 10.0)


def test_without_a_prior_the_time_left_is_tqdms():
    """No prior rate (a quiet sweep measures none): the average rate so far, compiles in."""
    left = progress.TimeLeft({0: 10, 1: 30}, prior_rate=None)
    assert left.observe(0, 10, 4.0) == pytest.approx(4.0 * 30 / 10)


@pytest.mark.slow
def test_the_bar_shows_in_jupyter(tmp_path):
    """In a Jupyter kernel the bar is shown (the text bar here: ipywidgets is not a
    dependency) and no warning is printed."""
    import nbformat
    from nbclient import NotebookClient

    code = (
        "import sys, warnings\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "warnings.simplefilter('error')\n"
        "from _sweep_cases import tiny\n"
        "import w2s_jax as w2s\n"
        "w2s.sweep(tiny(seeds=1), devices=1)\n"
        "print('done')"
    )
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(book, timeout=300, kernel_name="python3").execute()
    outputs = book.cells[0].outputs
    assert not [o for o in outputs if o.output_type == "error"], outputs
    shown = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    widget = "application/vnd.jupyter.widget-view+json"
    widgets = [o for o in outputs if widget in o.get("data", {})]
    assert widgets or "100%" in shown, outputs
    assert "Warning" not in shown and "done" in shown
