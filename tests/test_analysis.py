"""The classifier and the early-stopping windows on synthetic trajectories with known answers;
the report's fits and figures over the axes that vary independently in a study."""

import warnings

import _synthetic as S
import numpy as np
import pandas as pd
import pytest

from w2s_jax.analysis import classes, maps, report
from w2s_jax.model import coordinates, theory

KINDS = ("harmful", "benign", "label_correction", "not_converged")


@pytest.fixture(scope="module")
def four():
    kinds = {(i, s): k for i, k in enumerate(KINDS) for s in range(3)}
    summary, traj = S.frames(kinds, [dict(n_st=n) for n in (75, 300, 2000, 20000)], 3)
    return summary, traj, classes.classify(summary, traj)


def test_each_planted_class_is_recovered(four):
    *_, runs = four
    for n, kind in zip((75, 300, 2000, 20000), KINDS):
        assert set(runs.loc[runs["n_st"] == n, "class"]) == {kind}


def test_label_correction_records_its_end_state_and_degradation(four):
    *_, runs = four
    lc = runs[runs["class"] == "label_correction"].iloc[0]
    # It fits the pseudo-labels by the end, and overtraining took it back to harmful error.
    assert lc["end_class"] == "harmful"
    assert lc["best_step"] == 40 and lc["label_correction_best"] > 0.9
    assert lc["degradation"] == pytest.approx(lc["best_test_acc"] - lc["final_test_acc"])
    assert lc["degradation"] > 0.05
    others = runs[runs["class"].isin(["harmful", "benign"])]
    assert np.allclose(others["degradation"], 0.0)


def test_window_is_contiguous_stretch_within_tolerance(four):
    summary, traj, _ = four
    windows = classes.early_stopping_windows(summary, traj, tol=0.01)
    row = windows[windows["n_st"] == 2000].iloc[0]
    curve = S.curves("label_correction")["test_acc"]
    inside = S.STEPS[curve >= curve.max() - 0.01]
    assert row["window_start"] == inside.min() and row["window_end"] == inside.max()
    assert row["window_start"] <= row["best_step"] <= row["window_end"]


def test_harmful_threshold_is_theorem_level():
    """A run that fits and ends exactly at error 0.12·p_h is harmful; just below, benign."""
    p_h = S.FIXED["p_h"]
    level = 1 - theory.harmful_error(p_h)
    rows = []
    for seed, acc in enumerate((level - 1e-6, level + 1e-3)):
        c = S.curves("benign")
        c["test_acc"] = np.r_[0.5, np.full(len(S.STEPS) - 1, acc)]
        rows.append(
            pd.DataFrame(
                c
                | dict(
                    step=S.STEPS,
                    seed=seed,
                    n_st=100,
                    p_h=p_h,
                    p_b=0.4,
                    nu_norm=5.0,
                    sigma_p=1.0,
                    d=1000,
                )
            )
        )
    traj = pd.concat(rows, ignore_index=True)
    summary = traj.drop_duplicates("seed")[
        ["n_st", "p_h", "p_b", "nu_norm", "sigma_p", "d", "seed"]
    ]
    summary = summary.assign(weak_test_acc=0.85, status="ok")
    runs = classes.classify(summary, traj).sort_values("seed")
    assert list(runs["class"]) == ["harmful", "benign"]


def test_diverged_runs_are_not_converged(four):
    summary, traj, _ = four
    summary = summary.copy()
    summary.loc[summary["n_st"] == 300, "status"] = "diverged"
    runs = classes.classify(summary, traj)
    assert set(runs.loc[runs["n_st"] == 300, "class"]) == {"not_converged"}


def test_per_cell_and_counts(four):
    *_, runs = four
    cells = classes.per_cell(runs)
    assert len(cells) == 4 and (cells["n_seeds"] == 3).all()
    assert np.allclose(cells[[f"p_{c}" for c in classes.CLASSES]].sum(axis=1), 1.0)
    counts = classes.class_counts(runs)
    assert counts.loc[0, list(KINDS)].tolist() == [3, 3, 3, 3]
    assert classes.class_counts(runs, ["n_st"]).shape == (4, 5)


def test_tau_formula():
    assert theory.tau(2000, 0.4, 5.0, 1.0, 1000) == pytest.approx(2000 * 0.16 * 625 / 1000)
    assert theory.tau(1, 1, 2.0, 2.0, 1) == pytest.approx(1.0)
    assert theory.n_st_at_tau(20.0, 0.4, 5.0, 1.0, 1000) == pytest.approx(200.0)
    assert theory.weak_test_accuracy(0.3) == pytest.approx(0.85)


# --- `w2s report` on a user's own grid: fits and figures over independent axes only ---


def _with_coordinates(frame: pd.DataFrame) -> pd.DataFrame:
    """The theory coordinates beside the raw fields, as `w2s sweep` writes them."""
    found = coordinates.theory_coordinates(
        frame["n_st"],
        frame["p_b"],
        frame["nu_norm"],
        frame["mu_norm"],
        frame["sigma_p"],
        frame["d"],
    )
    return frame.assign(**{k: np.asarray(v, float) for k, v in found.items()})


def own_grid(seeds: int = 2):
    """A user's own grid: `n_st × nu_norm` at one `d` (no plane swept), with the columns a
    sweep writes. Runs at n_st >= 1000 correct labels and peak at a step that depends on
    both axes (the early-stopping law has something to fit); below, benign at nu_norm = 5
    and harmful otherwise."""
    params = [dict(n_st=n, nu_norm=v) for n in (100, 300, 1000, 3000) for v in (2.0, 3.0, 5.0)]
    kinds = {
        (c, s): (
            "label_correction"
            if p["n_st"] >= 1000
            else ("benign" if p["nu_norm"] >= 5 else "harmful")
        )
        for c, p in enumerate(params)
        for s in range(seeds)
    }
    summary, traj = (_with_coordinates(t) for t in S.frames(kinds, params, seeds))
    t = traj["step"].to_numpy(float)
    peak = 40 * (traj["n_st"] / 1000) ** 0.5 * (traj["nu_norm"] / 3) ** -0.7
    peak = (peak * (1 + 0.1 * traj["seed"])).round(-1).clip(10, 190).to_numpy()
    late = (traj["n_st"] >= 1000).to_numpy()
    shaped = np.where(t <= peak, 0.5 + 0.495 * t / peak, 0.995 - 0.0004 * (t - peak))
    traj["test_acc"] = np.where(late, shaped, traj["test_acc"])
    return summary, traj


def test_independent_features_keep_rank_and_say_why():
    a = np.array([1.0, 2.0, 4.0, 8.0, 1.0, 2.0, 4.0, 8.0])
    e = np.array([1.0, 1.0, 1.0, 1.0, 3.0, 3.0, 3.0, 3.0])
    frame = pd.DataFrame(
        dict(
            a=a,
            b=a**2 * (1 + 1e-4 * np.arange(8)),  # a function of a, up to float noise
            c=np.full(8, 0.4),
            e=e,
            f=a / e,  # a function of a and e together
        )
    )
    found = report.independent_features(frame, ["a", "b", "c", "e", "f", "absent"])
    assert found.kept == ("a", "e")
    assert found.skipped == {
        "b": "determined by a in this study",
        "c": "constant",
        "f": "determined by a and e in this study",
    }
    assert found.line() == (
        "skipped: b (determined by a in this study); c (constant); "
        "f (determined by a and e in this study)"
    )


@pytest.mark.slow
def test_report_on_an_own_grid_fits_and_draws_only_independent_axes(tmp_path):
    """n_st × nu_norm at one d: `n_st = d / d_over_n`, so a law in n_st_snr, d_over_n and
    n_st is collinear (statsmodels warned four times and printed intervals); and n_st_snr,
    d_over_n are sheared by the grid, so the maps draw over n_st and nu_norm."""
    summary, traj = own_grid()
    summary.to_parquet(tmp_path / "summary.parquet", index=False)
    traj.to_parquet(tmp_path / "trajectories.parquet", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # SingularMatrixWarning among them
        text = report.write_report(tmp_path, n_boot=5).read_text()
    law = text[text.index("## Early stopping as a law") :]
    assert "skipped: eta (constant); n_st (determined by d_over_n in this study)" in law
    formula = next(line for line in law.splitlines() if line.startswith("`best_step"))
    assert "n_st_snr^" in formula and "d_over_n^" in formula and " n_st^" not in formula
    assert "Exponents fitted over `n_st`, `nu_norm`; skipped: p_b, sigma_p, d (constant)." in text
    assert "Figures over `n_st` × `nu_norm`; skipped: n_st_snr (determined by n_st and nu_norm" in (
        text
    )
    assert "## Graded maps over n_st and nu_norm" in text
    assert "## The phase plane" not in text
    runs = classes.classify(summary, traj)
    assert maps.map_axes(runs) == ("n_st", "nu_norm")
    assert report.default_axes(runs) == ("n_st", "nu_norm")
    assert maps.coverage(runs, "n_st_snr", "d_over_n") < maps.CROSSED


def test_a_plane_swept_in_its_coordinates_is_still_drawn_in_them():
    """Swept in n_st_snr × d_over_n at one n_st (the raw d and nu_norm follow), the map's
    axes stay the plane's coordinates."""
    params = [
        dict(n_st=300, nu_norm=float(np.sqrt(s * 1.0 * r * 300 / 300)), d=int(r * 300))
        for s in (0.5, 2.0, 8.0)
        for r in (1.0, 10.0, 100.0)
    ]
    kinds = {(c, 0): "benign" for c in range(len(params))}
    summary, traj = (_with_coordinates(t) for t in S.frames(kinds, params, 1))
    runs = classes.classify(summary, traj)
    assert maps.coverage(runs, "n_st_snr", "d_over_n") == 1.0
    assert maps.map_axes(runs) == ("n_st_snr", "d_over_n")


def test_exponents_leave_out_a_factor_the_grid_ties_to_n_st():
    """d = 10·n_st (d/n_st held): the exponent of d is not identified apart from n_st's, so
    the free fit leaves d out and says so."""
    params = [dict(n_st=n, d=10 * n, p_b=p) for n in (100, 300, 1000, 3000) for p in (0.2, 0.4)]
    kinds = {
        (c, s): ("benign" if p["p_b"] * p["n_st"] >= 100 + 50 * s else "harmful")
        for c, p in enumerate(params)
        for s in range(3)
    }
    summary, traj = S.frames(kinds, params, 3)
    results = report.analyse(summary, traj, n_boot=5)
    axes = results["exponent_axes"]
    assert axes.kept == ("n_st", "p_b")
    assert axes.skipped["d"] == "determined by n_st in this study"
    assert results["exponents"].table["feature"].tolist() == ["n_st", "p_b"]
