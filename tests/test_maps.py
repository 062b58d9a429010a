"""Graded maps: heatmaps of seed means with the class edges, and cells within one seed
standard error of a deciding cutoff drawn undecided."""

import _synthetic as S
import numpy as np
import pandas as pd
import pytest

from w2s_jax.analysis import classes, maps, plots, report, rules

N_ST, P_B, SEEDS = (50, 100, 200), (0.2, 0.4), 4
#: The mixed cell: three benign seeds and one harmful one; its mean final test accuracy sits
#: within one seed standard error of the harmful level 1 - 0.12·p_h.
MIXED = (100, 0.4)


def study():
    params = [dict(n_st=n, p_b=p) for p in P_B for n in N_ST]
    plan = {
        (50, 0.2): "harmful",
        (100, 0.2): "harmful",
        (200, 0.2): "benign",
        (50, 0.4): "harmful",
        (200, 0.4): "label_correction",
    }
    kinds = {}
    for cell, p in enumerate(params):
        key = (p["n_st"], p["p_b"])
        for seed in range(SEEDS):
            if key == MIXED:
                kinds[cell, seed] = "harmful" if seed == 0 else "benign"
            else:
                kinds[cell, seed] = plan[key]
    return S.frames(kinds, params, SEEDS)


@pytest.fixture(scope="module")
def runs():
    summary, traj = study()
    return classes.classify(summary, traj)


def test_class_of_matches_classify(runs):
    ok = runs["status"] == "ok"
    assert (maps.class_of(runs, ok) == runs["class"].to_numpy()).all()


def test_mixed_cell_is_undecided_and_the_others_are_not(runs):
    assert maps.map_axes(runs) == ("n_st", "p_b")
    cells = maps.graded_cells(runs).set_index(["n_st", "p_b"])
    mixed = cells.loc[MIXED]
    level = 1 - rules.HARMFUL_ERROR * 0.3
    assert abs(mixed["final_test_acc"] - level) <= mixed["final_test_acc_se"]
    assert mixed["undecided"] and mixed["nearest"] == "harmful_end" and mixed["margin"] <= 1
    assert cells["undecided"].sum() == 1
    # the decisive cells start with it
    assert maps.decisive_cells(runs, 1)["cell"].tolist() == [
        int(runs.loc[(runs["n_st"] == 100) & (runs["p_b"] == 0.4), "cell"].iloc[0])
    ]


def test_heatmaps_show_the_seed_means_and_the_rule(runs, tmp_path):
    fig = maps.graded_map(runs, path=tmp_path / "graded")
    assert (tmp_path / "graded.png").stat().st_size > 10_000
    assert (tmp_path / "graded.pdf").exists()
    axes = fig.axes
    summary, _ = study()  # the gains are summary.parquet's: test accuracy minus the teacher's
    expected = runs.assign(
        best_time=runs["eta"] * runs["best_step"],
        gain_final=summary["final_test_acc"] - summary["weak_test_acc"],
        gain_best=summary["best_test_acc"] - summary["weak_test_acc"],
    )
    for k, column in enumerate(maps.QUANTITIES, start=1):
        drawn = np.ma.filled(axes[k].collections[0].get_array(), np.nan).reshape(len(P_B), -1)
        table = expected.groupby(["p_b", "n_st"])[column].mean().unstack("n_st")
        np.testing.assert_allclose(drawn, table.to_numpy(), rtol=1e-12, err_msg=column)
    # the class panel leaves the undecided cell out of the class colours and hatches it
    shown = axes[0].collections[0].get_array().reshape(len(P_B), -1)
    hatch = axes[0].collections[1].get_array().reshape(len(P_B), -1)
    i, j = P_B.index(MIXED[1]), N_ST.index(MIXED[0])
    assert np.ma.is_masked(shown[i, j]) and not np.ma.is_masked(hatch[i, j])
    assert np.ma.getmaskarray(hatch).sum() == hatch.size - 1
    title = fig.legends[0].get_title().get_text().replace("\n", " ")
    assert rules.classes_rule().replace("`", "")[:60] in title
    assert f"{rules.LC_MIN:.0%}" in title


def test_report_section_draws_the_graded_map(runs, tmp_path):
    figures = {}
    lines = report._graded_section(runs, tmp_path, figures)
    text = "\n".join(lines)
    assert "## Graded maps over n_st and p_b" in text and "1 of 6 cells undecided" in text
    assert figures["graded"] == tmp_path / "graded.png" and figures["graded"].exists()
    one = runs[runs["p_b"] == 0.2]  # one swept axis: no graded map, no section
    assert report._graded_section(one, tmp_path / "one", {}) == []


def test_one_axis_is_refused_with_a_message(runs):
    one = runs[runs["p_b"] == 0.2]
    with pytest.raises(ValueError, match="two swept numeric axes"):
        maps.map_axes(one)


def test_gain_means_one_thing_in_the_summary_and_the_classes(runs):
    """`gain_*` is accuracy minus the teacher's everywhere; the share of the teacher's errors
    removed has its own name."""
    weak = runs["weak_test_acc"].to_numpy(float)
    np.testing.assert_allclose(runs["gain_final"], runs["final_test_acc"] - weak)
    np.testing.assert_allclose(runs["gain_best"], runs["best_test_acc"] - weak)
    np.testing.assert_allclose(
        runs["errors_removed_final"], (runs["final_test_acc"] - weak) / (1 - weak)
    )


def test_studies_from_before_a_field_read_as_its_default(tmp_path):
    """Seeds 0-1 written by a version that had `image_pool`, seeds 2-3 by one that did not:
    loaded through `load_results` they form the same six cells, not twelve split on a NaN."""
    summary, traj = study()
    for name, seeds, pool in (("new", (0, 1), True), ("old", (2, 3), False)):
        folder = tmp_path / name
        folder.mkdir()
        part = summary[summary["seed"].isin(seeds)].drop(columns=["image_pool"], errors="ignore")
        part = part.assign(image_pool="all") if pool else part
        part.to_parquet(folder / "summary.parquet")
        steps = traj[traj["seed"].isin(seeds)].drop(columns=["image_pool"], errors="ignore")
        (steps.assign(image_pool="all") if pool else steps).to_parquet(
            folder / "trajectories.parquet"
        )
    loaded = [report.load_results(tmp_path / name)[:2] for name in ("new", "old")]
    summaries, trajectories = (pd.concat(parts, ignore_index=True) for parts in zip(*loaded))
    assert set(summaries["image_pool"]) == {"all"}
    both = classes.classify(summaries, trajectories)
    assert set(both["image_pool"]) == {"all"}  # classify reads the trajectories' columns
    cells = maps.graded_cells(both, "n_st", "p_b")
    assert len(cells) == len(N_ST) * len(P_B) and (cells["n_seeds"] == SEEDS).all()


def test_a_one_of_two_seed_split_is_a_tie_on_the_map(tmp_path):
    """Two seeds, one harmful and one benign: the class panel draws the cell as a tie (not in
    the colour of harmful, the first class) and its legend says so."""
    params = [dict(n_st=n, p_b=p) for p in P_B for n in N_ST]
    kinds = {(c, s): "benign" for c in range(len(params)) for s in range(2)}
    kinds[0, 0] = "harmful"  # n_st = 50, p_b = 0.2
    runs = classes.classify(*S.frames(kinds, params, 2))
    cells = maps.graded_cells(runs, "n_st", "p_b").set_index(["n_st", "p_b"])
    assert cells.loc[(50, 0.2), "tie"] and cells["tie"].sum() == 1
    assert cells.loc[(50, 0.2), "class"] == "harmful"  # the table keeps its documented order
    fig = maps.graded_map(runs, "n_st", "p_b", quantities=())
    panel = fig.axes[0]
    shown = np.ma.getmaskarray(panel.collections[0].get_array()).reshape(len(P_B), -1)
    tie = np.ma.getmaskarray(panel.collections[2].get_array()).reshape(len(P_B), -1)
    assert shown[0, 0] and shown.sum() == 1
    assert not tie[0, 0] and tie.sum() == tie.size - 1
    assert panel.collections[2].get_hatch() == plots.TIE[2]
    assert any(t.get_text().startswith("tie") for t in fig.legends[0].get_texts())
