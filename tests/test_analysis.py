"""The classifier and the early-stopping windows on synthetic trajectories with known answers."""

import _synthetic as S
import numpy as np
import pandas as pd
import pytest

from w2s_jax.analysis import classes
from w2s_jax.model import theory

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
