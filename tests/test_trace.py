"""The edge tracer (`sweeping.trace`) against a fine grid run by the sweep engine: its crossing
is the grid's edge with a third of the runs; a line without a change is reported, not bisected;
the folder it writes resumes; the CLI refuses bad input with exit 2."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from w2s_jax.analysis.classes import classify
from w2s_jax.analysis.trace import (
    CROSSED,
    EDGES,
    LOWER_AT_TOP,
    UPPER_THROUGHOUT,
    grid_points,
    run_trace,
)
from w2s_jax.cli.main import main
from w2s_jax.model.config import ConfigError
from w2s_jax.sweeping.cells import cell_list
from w2s_jax.sweeping.config_file import load_config
from w2s_jax.sweeping.driver import run_sweep
from w2s_jax.sweeping.results import load_results

#: The range of d/n_st traced, and the resolution: the fine grid's ratio, so that every
#: bisection midpoint is a value of the fine grid (4·2^(k/2)).
LO, HI, RESOLUTION = 4.0, 1024.0, 2**0.5
#: A small plane with the coin teacher on the Wishart engine (d traced: one program for every
#: d/n_st). At n_st = 100 the majority of 5 seeds turns from harmful to benign once along each
#: column, between d/n_st = 64 and 90.5 at n_st·snr = 1 and between 32 and 45.3 at 2
#: (measured). One width (`lanes`) and one device: the grid and every step share one program.
CONFIG = {
    "name": "tiny_trace",
    "seeds": 5,
    "data": {"nu_norm": 1.0, "mu_over_nu": 1.0, "p_h": 0.3, "p_b": 0.4},
    "train": {
        "teacher": "oracle",
        "hard_labels": "coin",
        "m": 8,
        "T": 400,
        "eta": 2.0,
        "record_schedule": "log",
        "record_points": 12,
        "n_test": 512,
        "n_wk": 64,
        "engine": "gram",
        "gram_noise": "wishart",
    },
    "grid": {"n_st": [100], "n_st_snr": [1.0, 2.0], "d_over_n": [LO, HI]},
    "sweep": {"lanes": 8},
}
OPTIONS = dict(quiet=True, devices=1)


@pytest.fixture(scope="module")
def grid():
    """The fine grid (17 values of d/n_st a column) and its runs' classes."""
    fine = np.exp(np.linspace(math.log(LO), math.log(HI), grid_points(LO, HI, RESOLUTION)))
    config = CONFIG | {"grid": CONFIG["grid"] | {"d_over_n": fine.tolist()}}
    result = run_sweep(config, **OPTIONS)
    runs = classify(result.summary, result.trajectories)
    runs["upper"] = runs["class"].isin(EDGES["lower"].upper)
    return fine, result.summary, runs


def _majority(runs: pd.DataFrame) -> pd.DataFrame:
    """Upper side by majority of seeds: one column a line, one row a d/n_st (sorted)."""
    share = runs.groupby(["n_st_snr", "d_over_n"])["upper"].mean()
    return (share > 0.5).unstack("n_st_snr").sort_index()


@pytest.fixture(scope="module")
def traced(grid, tmp_path_factory):
    out = tmp_path_factory.mktemp("trace") / "out"
    return out, run_trace(CONFIG, "lower", resolution=RESOLUTION, out=out, **OPTIONS)


def test_the_crossing_is_the_fine_grids_edge_with_a_third_of_the_runs(grid, traced):
    fine, _, runs = grid
    _, result = traced
    majority = _majority(runs)
    table = result.table.set_index("n_st_snr")
    for line, column in majority.items():
        upper = column.to_numpy()
        # The case: one change along the line, harmful below, benign above.
        j = int(np.flatnonzero(~upper)[-1])
        assert not upper[: j + 1].any() and upper[j + 1 :].all(), (line, upper)
        row = table.loc[line]
        assert row["status"] == CROSSED
        assert (row["lo"], row["hi"]) == pytest.approx((fine[j], fine[j + 1]), rel=1e-9)
        assert row["ratio"] <= RESOLUTION * (1 + 1e-9)
        assert row["crossing"] == pytest.approx(math.sqrt(fine[j] * fine[j + 1]), rel=1e-9)
        assert row["upper_share_lo"] <= 0.5 < row["upper_share_hi"]
        assert row["ci_lo"] <= row["crossing"] <= row["ci_hi"]
        assert len(row["seed_crossings"]) == CONFIG["seeds"]
    trace = result.manifest["trace"]
    assert (trace["runs_used"], trace["grid_runs"]) == (60, 170)  # 2 lines × 6 values × 5 seeds
    assert trace["grid_runs"] == len(runs)
    assert trace["grid_points_per_line"] == len(fine) == 17


def test_the_steps_compute_the_grids_runs_bit_for_bit(grid, traced):
    _, summary, _ = grid
    _, result = traced
    keys = ["n_st_snr", "d", "seed"]
    both = result.summary.merge(summary, on=keys, suffixes=("", "_grid"), validate="one_to_one")
    assert len(both) == len(result.summary) == 60
    for column in ("final_test_acc", "best_test_acc", "final_train_acc_pseudo"):
        np.testing.assert_array_equal(both[column], both[f"{column}_grid"])


def test_the_folder_holds_the_tables_and_resumes(traced):
    out, result = traced
    table = pd.read_parquet(out / "trace.parquet")
    pd.testing.assert_frame_equal(
        table.drop(columns="seed_crossings"), result.table.drop(columns="seed_crossings")
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["kind"] == "trace"
    assert manifest["trace"]["resolution"] == RESOLUTION
    assert manifest["trace"]["runs_ratio"] == pytest.approx(60 / 170, abs=1e-4)
    assert sorted(p.name for p in (out / "steps").iterdir()) == ["00", "01", "02", "03", "04"]
    loaded = load_results(out)
    assert len(loaded.summary) == 60 and set(loaded.summary["trace_step"]) == set(range(5))
    again = run_trace(CONFIG, "lower", resolution=RESOLUTION, out=out, **OPTIONS)
    assert [s["runs_computed"] for s in again.manifest["steps"]] == [0] * 5
    pd.testing.assert_frame_equal(
        again.table.drop(columns="seed_crossings"), result.table.drop(columns="seed_crossings")
    )
    line = dict(lines=[{"n_st": 100, "n_st_snr": 1.0}], bracket=(256.0, HI))
    with pytest.raises(
        ConfigError, match="holds a trace of another config .differs in lines, starts"
    ):
        run_trace(CONFIG, "lower", out=out, **line, **OPTIONS)
    replaced = run_trace(CONFIG, "lower", out=out, force=True, **line, **OPTIONS)
    assert len(replaced.table) == 1 and [p.name for p in (out / "steps").iterdir()] == ["00"]


def test_a_line_without_a_change_is_reported_not_bisected(grid):
    _, _, runs = grid
    column = _majority(runs)[1.0]
    line = [{"n_st": 100, "n_st_snr": 1.0}]
    for bracket, status in (((256.0, HI), UPPER_THROUGHOUT), ((LO, 11.3137), LOWER_AT_TOP)):
        inside = column[(column.index >= bracket[0] * 0.999) & (column.index <= bracket[1] * 1.001)]
        assert inside.all() if status == UPPER_THROUGHOUT else not inside.any()  # the case
        result = run_trace(CONFIG, "lower", lines=line, bracket=bracket, **OPTIONS)
        row = result.table.iloc[0]
        assert row["status"] == status
        assert np.isnan(row["crossing"]) and np.isnan(row["ci_lo"])
        assert row["runs"] == 2 * CONFIG["seeds"] and len(result.manifest["steps"]) == 1


def test_a_cell_list_runs_its_points_not_the_product():
    config = load_config(CONFIG)
    points = [
        {"n_st": 100, "n_st_snr": 1.0, "d_over_n": 8.0},
        {"n_st": 100, "n_st_snr": 2.0, "d_over_n": 64.0},
    ]
    cells = cell_list(config, points)
    assert list(cells.cells()) == points and cells.n_cells == 2
    assert cells.to_dict()["cells"] == points
    with pytest.raises(ConfigError, match="grid.zeta: unknown key"):
        cell_list(config, [{"zeta": 1.0}])
    with pytest.raises(ConfigError, match=r"in the cell n_st=100, n_st_snr=1.0, d_over_n=-1"):
        cell_list(config, [{"n_st": 100, "n_st_snr": 1.0, "d_over_n": -1.0}])


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--edge", "upper"], "argument --edge: invalid choice: 'upper'"),
        (["--edge", "lower", "--resolution", "1"], "resolution: must be a ratio above 1"),
        (["--edge", "lower", "--axis", "n_st"], "axis: n_st is an integer"),
        (["--edge", "lower", "--axis", "tau"], "tau: not an axis of [grid]"),
        (["--edge", "lower", "--bracket", "0", "10"], "at least two positive numbers"),
        # --set changes the file's values before they are checked (ignored, the trace would run)
        (["--edge", "lower", "--set", "train.m=0"], "train.m: must be an integer in [1, 100000]"),
        (["--edge", "lower", "--set", "grid.d_over_n=[4.0]"], "at least two positive numbers"),
    ],
)
def test_the_cli_refuses_bad_input_with_exit_2(tmp_path, capsys, flags, message):
    config = tmp_path / "trace.toml"
    config.write_text(
        '[data]\nnu_norm = 1.0\n[train]\nengine = "gram"\ngram_noise = "wishart"\n'
        "[grid]\nn_st = [100]\nn_st_snr = [1.0]\nd_over_n = [4.0, 1024.0]\n"
    )
    out = tmp_path / "out"
    assert main(["trace", str(config), "--out", str(out), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()
