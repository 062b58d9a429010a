"""The theorem's regime (d >> n_st): the committed studies resolve to what they say, the
Wishart engine orders harmful below benign at a small size, and the analysis of the phase
plane and of the paper's table recovers what is planted in it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _scripts import load_script

import w2s_jax as w2s
from w2s_jax.analysis import classes, paper, plane
from w2s_jax.analysis.rules import HARMFUL_ERROR
from w2s_jax.model.coordinates import theory_coordinates
from w2s_jax.sweeping.config_file import load_config
from w2s_jax.sweeping.plan import expand

SWEEPS = Path(__file__).parent.parent / "sweeps"
#: Every committed study: each config file as it is, then each one that is a file with values
#: set (`scripts/studies.py`'s VARIANTS: the planes and traces at larger n_st).
STUDIES = [(p.stem, p, ()) for p in sorted(SWEEPS.glob("*.toml"))] + [
    (name, SWEEPS / f"{base}.toml", overrides)
    for name, (base, overrides) in load_script("studies").VARIANTS.items()
]


@pytest.mark.parametrize(("name", "path", "overrides"), STUDIES, ids=[s[0] for s in STUDIES])
def test_every_committed_study_loads_and_expands(name, path, overrides):
    config = load_config(path, overrides)
    assert config.name == name or not overrides
    runs = expand(config)
    assert len(runs) == len(list(config.cells())) * config.seeds > 0


def test_the_paper_job_sits_where_its_comment_says():
    runs = {r.train.n_st: r for r in expand(load_config("sweeps/paper.toml"))}
    expected = {75: (0.075, 400.0, 0.36), 2000: (2.0, 15.0, 9.6), 20000: (20.0, 1.5, 96.0)}
    for n_st, (n_st_snr, d_over_n, tau) in expected.items():
        d = runs[n_st].data
        got = theory_coordinates(n_st, d.p_b, d.nu_norm, d.mu_norm, d.sigma_p, d.d)
        assert d.d == 30000
        assert got["n_st_snr"] == pytest.approx(n_st_snr, rel=1e-9)
        assert got["d_over_n"] == pytest.approx(d_over_n, rel=1e-9)
        assert got["tau"] == pytest.approx(tau, rel=1e-9)


@pytest.mark.slow
def test_wishart_engine_orders_harmful_below_benign():
    """At n_st = 200, n_st·snr = 1: d = n_st (tau = 0.16) ends below the weak model, d = 100·n_st
    (tau = 16, d = 20000 through the Wishart draws) ends above it, every run fitting its
    pseudo-labels; measured 0.69-0.77 against 0.93-0.99."""
    config = {
        "name": "order",
        "seeds": 3,
        "data": {"nu_norm": 1.0, "mu_over_nu": 1.0, "p_h": 0.3, "p_b": 0.4, "n_st_snr": 1.0},
        "train": {
            "m": 20,
            "T": 300,
            "eta": 2.0,
            "record_schedule": "log",
            "record_points": 12,
            "n_test": 1000,
            "engine": "gram",
            "gram_noise": "wishart",
        },
        "grid": {"n_st": [200], "d_over_n": [1.0, 100.0]},
    }
    summary, trajectories = w2s.sweep(config, quiet=True)
    runs = classes.classify(summary, trajectories)
    assert (runs["final_train_acc_pseudo"] >= 0.99).all()
    low = runs[runs["d_over_n"] < 10]
    high = runs[runs["d_over_n"] > 10]
    assert set(low["end_class"]) == {"harmful"}
    assert (high["end_class"] == "benign").any()
    assert high["final_test_acc"].min() > low["final_test_acc"].max() + 0.05
    assert (low["final_test_acc"] < low["weak_test_acc"]).all()
    assert (high["final_test_acc"] > high["weak_test_acc"]).all()


def _planted_plane(C_low=10.0, C_high=100.0, seeds=6, seed=0):
    """Runs on a (n_st·snr, d/n) grid, benign at the end where C_low < tau < C_high (two
    edges of slope -2), label correction where n_st·snr > 10 and d/n < 3, with a few flips."""
    rng = np.random.default_rng(seed)
    rows = []
    for x in np.geomspace(0.1, 30, 9):
        for y in np.geomspace(1, 3000, 10):
            for s in range(seeds):
                tau = 0.16 * x**2 * y
                log_tau = np.log(tau) + rng.normal(0, 0.3)
                benign = np.log(C_low) < log_tau < np.log(C_high)
                lc = x > 10 and y < 3 and tau > C_high
                rows.append(
                    dict(
                        n_st_snr=x,
                        d_over_n=y,
                        tau=tau,
                        seed=s,
                        p_b=0.4,
                        **{
                            "class": "label_correction"
                            if lc
                            else ("benign" if benign else "harmful")
                        },
                        end_class="benign" if benign and not lc else "harmful",
                        best_test_acc=0.99 if (benign or lc) else 0.8,
                        harmful_level=0.964,
                    )
                )
    return pd.DataFrame(rows)


def test_plane_edges_recover_two_planted_tau_lines():
    runs = _planted_plane()
    edges = plane.plane_boundaries(runs, by=None).set_index("edge")
    for edge, C in (("benign_lower", 10.0), ("benign_upper", 100.0)):
        row = edges.loc[edge]
        assert row["interval"] == "seed bootstrap"
        assert row["slope_lo"] <= -2.0 <= row["slope_hi"], (edge, row["slope_lo"], row["slope_hi"])
        # on the fitted line at n_st·snr = 1, tau = 0.16·d/n should be the planted C
        assert 0.16 * np.exp(row["intercept"]) == pytest.approx(C, rel=0.35)
    assert 10.0 < edges.loc["benign_lower", "ridge_tau"] < 100.0


def test_plane_edge_slope_rejects_a_planted_vertical_edge():
    """A boundary at constant n_st·snr (not constant tau) is told apart from slope -2."""
    runs = _planted_plane()
    runs["end_class"] = np.where(runs["n_st_snr"] < 1.0, "benign", "harmful")
    runs["class"] = runs["end_class"]
    fit = plane.fit_plane_boundary(runs, "benign")
    assert abs(fit.slope) > 10 or not (fit.slope_lo <= -2.0 <= fit.slope_hi)


def test_display_region_splits_harmful_by_its_best_step():
    runs = pd.DataFrame(
        {
            "class": ["harmful", "harmful", "benign", "label_correction", "not_converged"],
            "end_class": ["harmful", "harmful", "benign", "harmful", "not_converged"],
            "best_test_acc": [0.80, 0.99, 0.99, 0.99, 0.5],
            "harmful_level": [0.964] * 5,
        }
    )
    assert list(plane.display_region(runs)) == [
        "harmful",
        "degraded",
        "benign",
        "label_correction",
        "not_converged",
    ]


def test_snap_groups_coordinates_that_differ_by_float_rounding():
    runs = pd.DataFrame({"n_st_snr": [0.3, 0.3 * (1 + 1e-12), 0.30000001], "tau": [1.0, 1.0, 1.0]})
    assert plane.snap(runs)["n_st_snr"].nunique() == 1


def test_paper_rules():
    """Each paper row against its rule, with the classes from `classes.class_rule` (the
    benign row is the run's end class, the label-correction row its class)."""
    columns = ["n_st", "final_train_acc_pseudo", "final_test_acc", "best_test_acc", "lc"]
    rows = pd.DataFrame(
        [
            (75, 1.0, 0.86, 0.87, 0.0),  # at the weak model's level: meets
            (75, 1.0, 0.90, 0.90, 0.0),  # 0.05 above it: not harmful as the paper means
            (2000, 1.0, 0.97, 0.98, 0.0),  # benign end
            (2000, 1.0, 0.95, 0.98, 0.0),  # harmful end
            (20000, 1.0, 0.93, 1.0, 0.8),  # corrects, then degrades: meets
            (20000, 1.0, 1.0, 1.0, 0.8),  # corrects, never degrades
        ],
        columns=columns,
    ).rename(columns={"lc": "label_correction_best"})
    rows = rows.assign(weak_test_acc=0.85, p_h=0.3, best_step=10, tau=1.0)
    rows["harmful_level"] = 1.0 - HARMFUL_ERROR * rows["p_h"]
    rows["end_class"], rows["class"] = classes.class_rule(rows)
    assert list(rows["class"]) == ["harmful", "harmful", "benign", "harmful"] + 2 * [
        "label_correction"
    ]
    assert list(paper.paper_rows(rows)["meets"]) == [True, False, True, False, True, False]
    table = paper.paper_table(rows)
    assert list(table["meets"]) == ["1/2", "1/2", "1/2"]


def test_early_stopping_law_recovers_planted_exponents():
    from w2s_jax.analysis import early_stopping

    rng = np.random.default_rng(1)
    rows = []
    for x in (10.0, 30.0, 100.0):
        for y in (1.0, 3.0, 10.0):
            for eta in (0.5, 1.0, 2.0, 4.0):
                for seed in range(4):
                    shift = (0.8, 1.0, 1.3, 0.9)[seed]  # a per-seed factor, as shared draws give
                    step = 200 * shift * x**-0.5 * eta**-1.0 * np.exp(rng.normal(0, 0.05))
                    rows.append(
                        dict(
                            n_st_snr=x,
                            d_over_n=y,
                            eta=eta,
                            seed=seed,
                            T=1000,
                            best_step=step,
                            window_start=step / 2,
                            window_end=step * 3,
                            degradation=0.05,
                        )
                    )
    runs = pd.DataFrame(rows)
    fit = early_stopping.fit_law(runs)
    assert fit.features == ("n_st_snr", "d_over_n", "eta")
    for planted, lo, hi in zip((-0.5, 0.0, -1.0), fit.lo, fit.hi):
        assert lo <= planted <= hi
    assert fit.r2 > 0.95
    # a run without a peak to time is left out
    flat = runs.assign(degradation=0.0)
    assert early_stopping.fit_law(flat) is None
