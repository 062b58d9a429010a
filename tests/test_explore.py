"""The explorer's page, without a browser: the chart's spec holds the map of the study's axes,
the dropdowns and the runs; each cell's numbers are its seeds' (checked against the tables);
the `d = ∞` row stands apart, labelled ∞; the `tau = C` line is the fitted constant; clicking a
cell can show only its own runs; the page requests nothing; `w2s explore` refuses bad input
with one line (tests/test_explore_browser.py drives the page in Chromium)."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from _explore_cases import INFINITE, SEEDS, plane, write

from w2s_jax.analysis import fit, maps
from w2s_jax.analysis.classes import classify
from w2s_jax.analysis.explore import INFINITY, METRICS, TRAJECTORIES, explore
from w2s_jax.cli.main import main


@pytest.fixture(scope="module")
def tables():
    return plane()


@pytest.fixture(scope="module")
def page(tables):
    return explore(tables)


@pytest.fixture(scope="module")
def spec(page):
    return page.chart.to_dict()


def _params(spec) -> dict:
    return {p["name"]: p for p in spec["params"]}


def _csv(spec) -> pd.DataFrame:
    text = next(v for v in spec["datasets"].values() if isinstance(v, str))
    return pd.read_csv(io.StringIO(text))


def test_the_map_is_over_the_swept_axes_with_every_metric_to_choose(page, spec):
    x, y = page.tables.axes
    assert (x.column, y.column) == ("n_st_snr", "d_over_n")
    params = _params(spec)
    assert params["metric"]["value"] == "gain_final"
    assert params["metric"]["bind"]["options"] == list(METRICS)
    assert params["pick"]["select"]["fields"] == ["cell"]
    values = pd.DataFrame(spec["datasets"]["values"])
    assert set(values["metric"]) == set(METRICS)
    assert len(values) == len(METRICS) * len(page.cells)


def test_each_cell_shows_its_seeds_mean_and_standard_error(page, tables):
    summary, trajectories = tables
    runs = classify(summary, trajectories).merge(summary[["cell", "seed", "teacher_rule_share"]])
    runs["d_over_n"] = runs["d_over_n"].round(6)
    for _, cell in page.cells.iterrows():
        mine = runs[np.isclose(runs["n_st_snr"], cell["n_st_snr"], rtol=1e-3)]
        mine = mine[np.isclose(mine["d_over_n"], cell["d_over_n"], rtol=1e-3)]
        assert len(mine) == cell["n_seeds"] == SEEDS
        for metric in ("gain_final", "label_correction_best", "best_step", "teacher_rule_share"):
            assert cell[f"mean_{metric}"] == pytest.approx(mine[metric].mean())
            se = mine[metric].std(ddof=1) / np.sqrt(len(mine))
            assert cell[f"se_{metric}"] == pytest.approx(se, abs=1e-12)
        counts = mine["class"].value_counts()
        assert all(cell[f"n_{c}"] == counts.get(c, 0) for c in ("harmful", "benign"))
    values = page.tables.values
    split = values[(values["metric"] == "gain_final") & (values["cell"] == 4)].iloc[0]
    assert split["text"].count("±") == 1 and split["seeds"] == SEEDS
    assert split["classes"] == "harmful 1, benign 2"


def test_undecided_cells_are_those_of_the_graded_map(page, tables):
    runs = classify(*tables)
    graded = maps.graded_cells(runs, "n_st_snr", "d_over_n")
    assert sorted(page.cells["undecided"]) == sorted(graded["undecided"])
    assert page.cells["undecided"].sum() == 1  # the cell whose seeds split
    values = page.tables.values
    marked = values[(values["metric"] == "class") & values["undecided"]]
    assert set(marked["category"]) == {"undecided"}
    assert marked["state"].str.startswith("undecided: a seed mean within one seed SE").all()


def test_the_d_infinity_row_stands_apart_labelled_infinity(page):
    over = page.tables.axes[1]
    finite = [over.positions[v] for v in sorted(over.positions) if v < INFINITE]
    assert finite == [0.0, 1.0, 2.0]
    assert over.positions[INFINITE] == 3.5 and over.labels[INFINITE] == INFINITY
    assert over.span == (-0.5, 4.0)
    assert f"'{INFINITY}'" in over.label_expr()
    # Without the limit engine the same value is an ordinary grid value.
    summary, trajectories = plane()
    for table in (summary, trajectories):
        table["engine"] = "wishart"
    assert explore((summary, trajectories)).tables.axes[1].labels[INFINITE] == "1000000"


def test_the_tau_line_is_the_fitted_constant(page, tables):
    runs = classify(*tables)
    finite = runs[runs["engine"] != "limit"]
    C = fit.fit_constant(fit.benign_outcome(finite, "class"), n_boot=0).C
    snr, over = page.tables.axes
    points = page.tables.points
    assert len(points) > 10
    tau = 0.4**2 * snr.value(points["px"]) ** 2 * over.value(points["py"])
    assert np.allclose(tau, C, rtol=1e-6)
    assert points["py"].max() <= 2.5  # never over the d = ∞ row
    assert f"tau = C = {C:.3g}" in page.tables.labels["text"].iloc[0]
    assert "Dashed line: tau = C" in page.tables.notes[0]


def test_no_tau_line_where_the_axes_are_not_the_plane(tables):
    summary, trajectories = tables
    page = explore((summary, trajectories), x="nu_norm", y="d")
    assert page.tables.points.empty
    assert page.tables.notes[0] == "No tau = C line: the axes are not (n_st·snr, d/n_st)"
    assert page.tables.axes[1].labels[INFINITE * 300] == INFINITY  # d of the limit engine


def test_clicking_a_cell_can_show_only_its_runs(page, spec, tables):
    summary, trajectories = tables
    curves = _csv(spec)
    assert list(curves.columns) == ["cell", "run", "seed", "step", *TRAJECTORIES]
    for cell, rows in curves.groupby("cell"):
        where = page.cells.loc[page.cells["cell"] == cell].iloc[0]
        mine = trajectories[
            np.isclose(trajectories["n_st_snr"], where["n_st_snr"], rtol=1e-3)
            & np.isclose(trajectories["d_over_n"], where["d_over_n"], rtol=1e-3)
        ].sort_values(["seed", "step"])
        rows = rows.sort_values(["seed", "step"])
        assert rows["seed"].tolist() == mine["seed"].tolist()
        assert rows["step"].tolist() == mine["step"].tolist()
        for column in TRAJECTORIES:
            assert np.allclose(rows[column], mine[column], rtol=1e-3, atol=1e-6)
    # The runs' panels and the heading read only the picked cell.
    text = json.dumps(spec["hconcat"][1])
    assert text.count('{"param": "pick", "empty": false}') >= 6


def test_the_page_requests_nothing(page):
    html = page.to_html()
    head, bundle = html.split("<script>\n", 1)
    outside = head + bundle.split("</script>", 1)[1]  # the Vega bundle's strings aside
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", outside)
    assert "vegaEmbed(" in html and '"renderer": "svg"' in html
    frame = page._repr_html_()
    assert frame.startswith("<iframe srcdoc=") and "&lt;script&gt;" in frame


def test_long_trajectories_are_thinned_to_the_budget(tables):
    from w2s_jax.analysis.explore import _OVERHEAD, _tables

    full, _ = _tables(tables)
    table = 3 * len(full.values.to_json(orient="records"))
    drawn, _ = _tables(tables, max_bytes=_OVERHEAD + table + len(full.csv) // 2)
    assert len(drawn.csv) <= len(full.csv) // 2
    curves = pd.read_csv(io.StringIO(drawn.csv))
    assert "thinned to one recorded step in" in drawn.notes[-1]
    steps = tables[1]["step"]
    kept = curves.groupby("run")["step"]
    assert (kept.min() == steps.min()).all() and (kept.max() == steps.max()).all()
    assert len(curves) < len(tables[1])


def test_several_studies_become_a_dropdown(tables):
    summary, trajectories = tables
    coin = (summary, trajectories, dict(name="coin"))
    other = plane(hard_labels="rule")
    page = explore(coin, (*other, dict(name="rule")), metric="class")
    assert page.tables.slices == ["hard_labels"]
    assert _params(page.chart.to_dict())["axis_hard_labels"]["bind"]["options"] == ["coin", "rule"]
    same = explore(coin, (summary, trajectories, dict(name="again")))
    assert same.tables.slices == ["study"] and len(same.cells) == 2 * len(page.cells) // 2


def test_one_swept_axis_gives_a_one_row_map(tables):
    summary, trajectories = tables
    keep = lambda t: t[np.isclose(t["d_over_n"], 55.0)]  # noqa: E731
    page = explore((keep(summary), keep(trajectories)))
    assert page.tables.axes[1].column is None and len(page.cells) == 3


def test_importing_w2s_jax_does_not_import_altair():
    probe = "import sys, w2s_jax; w2s_jax.explore; print('altair' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr


def test_cli_writes_the_page(tables, tmp_path, capsys):
    folder = write(tmp_path / "sweep", *tables)
    out = tmp_path / "pages" / "page.html"
    assert main(["explore", str(folder), "--out", str(out), "--metric", "class"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert out.stat().st_size < 8_000_000
    assert '"value": "class"' in out.read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (["{missing}", "--out", "{out}"], "holds no finished sweep"),
        (["{sweep}", "--out", "{tmp}/page.txt"], "--out: "),
        (["{sweep}", "--out", "{out}", "--x", "nope"], "--x: 'nope' is not a config field"),
        (["{sweep}", "--out", "{out}", "--y", "seed"], "--y: 'seed' is not a config field"),
        (["{sweep}", "--out", "{out}", "--x", "d", "--y", "d"], "--x/--y: both are 'd'"),
        (["{sweep}", "--out", "{sweep}/summary.parquet/page.html"], "--out: "),
        (["{sweep}", "--out", "{out}", "--metric", "nope"], "invalid choice"),
        (["{sweep}"], "--out"),
    ],
)
def test_cli_refuses_bad_input_with_one_line(tables, tmp_path, capsys, args, message):
    folder = write(tmp_path / "sweep", *tables)
    names = dict(missing=tmp_path / "none", out=tmp_path / "page.html", sweep=folder, tmp=tmp_path)
    code = main(["explore", *(a.format(**names) for a in args)])
    err = capsys.readouterr().err
    assert code == 2 and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
