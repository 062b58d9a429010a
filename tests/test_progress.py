"""The sweep's progress bar counts analytic flops (engines.cost), not cells: a grid with one
expensive cell moves the bar by that cell's cost, so its remaining time is not off by the
ratio of costs. Checks the weighting, never wall-clock time."""

from __future__ import annotations

import pytest
from _sweep_cases import tiny

from w2s_jax.engines.cost import run_flops
from w2s_jax.sweeping import driver
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
    monkeypatch.setattr(driver, "tqdm", FakeBar)
    return FakeBar.made


def test_bar_weighs_runs_by_the_cost_model(bar):
    # Two expensive cells (T = 300 steps) beside two cheap ones (T = 3); T is static, so two
    # tiers of two runs each: two compiles, and each chunk's update sums two runs' costs.
    config = load_config(tiny(grid=dict(T=[3, 300], p_b=[0.2, 0.4]), seeds=1))
    tiers = plan_tiers(expand(config), MAX_TIERS, "cpu", 1)
    assert [len(t.runs) for t in tiers] == [2, 2]
    cost = {r.index: max(1, round(run_flops(t.static) / 1e6)) for t in tiers for r in t.runs}
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
    assert b.postfix == "cells 4/4"


def tier_sum(tier, cost):
    return sum(cost[r.index] for r in tier.runs)
