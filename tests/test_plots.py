"""Figures and the report are written (PNG and PDF), and no seaborn/pandas warning leaks out;
every plot draws into a caller's Axes, checks its input, keeps its legend inside the canvas,
refuses more panels than its limit and draws a split of seeds as a tie."""

import io
import json
import warnings

import _synthetic as S
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from w2s_jax.analysis import classes, fit, maps, plots, report
from w2s_jax.cli.main import main
from w2s_jax.model.config import ConfigError


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    summary, traj = S.planted_boundary(seeds=2)
    summary = summary[summary["nu_norm"] == 5.0]
    traj = traj[traj["nu_norm"] == 5.0]
    root = tmp_path_factory.mktemp("sweep")
    summary.to_parquet(root / "summary.parquet", index=False)
    traj.to_parquet(root / "trajectories.parquet", index=False)
    (root / "manifest.json").write_text(json.dumps({"config": {"name": "planted"}}))
    return root, summary, traj


def _both(stem):
    return stem.with_suffix(".png").stat().st_size > 1000 and stem.with_suffix(".pdf").exists()


@pytest.mark.slow
def test_every_figure_without_warnings(sweep_dir, tmp_path):
    _, summary, traj = sweep_dir
    runs = classes.classify(summary, traj)
    C = fit.fit_constant(fit.benign_outcome(runs), n_boot=10).C
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plots.phase_diagram(runs, "n_st", "p_b", C=C, path=tmp_path / "phase")
        plots.phase_diagram(runs, "n_st", "sigma_p", value="benign", path=tmp_path / "phase_b")
        plots.collapse(runs, C=C, path=tmp_path / "collapse")
        plots.trajectories(
            traj, summary, cells=[dict(n_st=25, p_b=0.4, sigma_p=0.8)], path=tmp_path / "traj"
        )
        plots.window_map(runs, "n_st", path=tmp_path / "window")
        plots.window_map(runs, "n_st", "p_b", path=tmp_path / "window2")
        plots.signal_noise(traj, path=tmp_path / "signal")
    for name in ("phase", "phase_b", "collapse", "traj", "window", "window2", "signal"):
        assert _both(tmp_path / name), name


@pytest.mark.slow
def test_plot_and_report_commands(sweep_dir, capsys):
    root, *_ = sweep_dir
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["plot", str(root), "--kind", "phase", "--x", "n_st", "--y", "p_b"]) == 0
        assert main(["plot", str(root), "--kind", "trajectories", "--cell", "n_st=25,p_b=0.4"]) == 0
        assert main(["report", str(root), "--bootstrap", "10"]) == 0
    assert _both(root / "figures" / "phase") and _both(root / "figures" / "trajectories")
    text = (root / "report.md").read_text()
    for needle in (
        "Fitted constant",
        "Free exponents",
        "![phase](figures/phase.png)",
        "| harmful |",
    ):
        assert needle in text
    assert "wrote" in capsys.readouterr().out


def test_plot_errors_name_the_problem(tmp_path, capsys):
    assert main(["plot", str(tmp_path)]) == 2
    assert "holds no finished sweep" in capsys.readouterr().err


def test_phase_diagram_against_an_axis_outside_tau(sweep_dir, tmp_path):
    """A y axis that tau does not contain (batch_size, eta_a, n_classes): the line is vertical."""
    _, summary, traj = sweep_dir
    runs = classes.classify(summary, traj)
    runs = runs.assign(batch_size=(runs["p_b"] * 100).round().astype(int))
    plots.phase_diagram(runs, "n_st", "batch_size", C=10.0, path=tmp_path / "phase")
    assert _both(tmp_path / "phase")


# --- The plotting API: ax=, checked input, legends inside the canvas, panel limits, ties ---


@pytest.fixture(scope="module")
def one_panel(sweep_dir):
    """Runs of one slice (sigma_p = 0.8): every figure of them has one panel per kind."""
    _, summary, traj = sweep_dir
    summary = summary[summary["sigma_p"] == 0.8]
    traj = traj[traj["sigma_p"] == 0.8]
    return summary, traj, classes.classify(summary, traj)


def _legends(fig):
    return [*fig.legends, *(a.get_legend() for a in fig.axes if a.get_legend() is not None)]


def _assert_legends_inside(fig, required=True):
    """After a plain `savefig` (no bbox_inches), every legend's drawn extent lies inside the
    figure's canvas."""
    FigureCanvasAgg(fig)
    fig.savefig(io.BytesIO(), format="png")
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    legends = _legends(fig)
    assert legends or not required, "the figure has no legend"
    for legend in legends:
        bb = legend.get_window_extent(renderer)
        assert box.x0 - 1 <= bb.x0 and bb.x1 <= box.x1 + 1, (bb.bounds, box.bounds)
        assert box.y0 - 1 <= bb.y0 and bb.y1 <= box.y1 + 1, (bb.bounds, box.bounds)


def test_legends_lie_inside_the_canvas(one_panel):
    """One-panel figures used to put a legend wider than the figure beneath it: a plain
    savefig cut it off on both sides."""
    summary, traj, runs = one_panel
    cell = [dict(n_st=25, p_b=0.4)]
    for fig in (
        plots.phase_diagram(runs, "n_st", "p_b", C=3.0),
        plots.trajectories(traj, summary, cells=cell),
        plots.signal_noise(traj, cells=cell),
        plots.collapse(runs, C=3.0),
        plots.window_map(runs, "n_st"),
        maps.graded_map(runs, "n_st", "p_b", quantities=()),
    ):
        _assert_legends_inside(fig)


def test_every_plot_draws_into_the_callers_axes(sweep_dir, one_panel):
    summary, traj, runs = one_panel
    cell = [dict(n_st=25, p_b=0.4)]
    calls = [
        (lambda ax: plots.phase_diagram(runs, "n_st", "p_b", C=3.0, ax=ax), 1),
        (lambda ax: plots.collapse(runs, ax=ax), 1),
        (lambda ax: plots.collapse(runs, ax=ax), 3),
        (lambda ax: plots.trajectories(traj, summary, cells=cell, ax=ax), 1),
        (lambda ax: plots.signal_noise(traj, cells=cell, ax=ax), 1),
        (lambda ax: plots.window_map(runs, "n_st", ax=ax), 2),
        (lambda ax: plots.window_map(runs, "n_st", "p_b", ax=ax), 4),
        (lambda ax: maps.graded_map(runs, "n_st", "p_b", quantities=(), ax=ax), 1),
        (lambda ax: maps.graded_map(runs, "n_st", "p_b", quantities=("gain_final",), ax=ax), 2),
    ]
    for draw, n in calls:
        fig = Figure(figsize=(4 * n, 3.5), layout="constrained")
        axes = fig.subplots(1, n)
        assert draw(axes) is fig
        for ax in np.ravel(axes):
            assert ax.has_data(), draw
        assert not fig.legends  # nothing placed where the caller's layout knows nothing of it
        _assert_legends_inside(fig, required=n != 4)  # the two-axis window map has none
    # A wrong number of Axes is refused with the number wanted.
    _, summary2, traj2 = sweep_dir
    two = classes.classify(summary2, traj2)  # sigma_p takes two values: two panels
    ax = Figure().add_subplot()
    with pytest.raises(ConfigError, match="ax= takes 2 Axes"):
        plots.phase_diagram(two, "n_st", "p_b", ax=ax)


def test_plots_check_their_input(sweep_dir, one_panel):
    _, summary, traj = sweep_dir
    with pytest.raises(ConfigError, match=r"no `class` column.*classify\(summary, trajectories\)"):
        plots.phase_diagram(summary)
    with pytest.raises(ConfigError, match="got a trajectories table"):
        plots.phase_diagram(traj)
    for draw in (plots.collapse, plots.window_map, maps.graded_map):
        with pytest.raises(ConfigError, match=r"classify\(summary, trajectories\)"):
            draw(summary)
    # Given the trajectories, a function classifies the summary itself.
    fig = plots.phase_diagram(summary, "n_st", "p_b", trajectories=traj)
    assert len([a for a in fig.axes if a.get_visible()]) == 2
    _, _, runs = one_panel
    with pytest.raises(ConfigError, match=r"x='nu' is not a column.*n_st"):
        plots.phase_diagram(runs, "nu", "p_b")
    with pytest.raises(ConfigError, match="value must be"):
        plots.phase_diagram(runs, value="share")
    with pytest.raises(ConfigError, match="rule must be"):
        plots.collapse(runs, rule="best")
    with pytest.raises(ConfigError, match="lacks `step`"):
        plots.trajectories(summary)
    with pytest.raises(ConfigError, match="lacks `gamma_mu`"):
        plots.signal_noise(traj.drop(columns="gamma_mu"))
    with pytest.raises(ConfigError, match=r"no run matches cell \{'n_st': 26\}.*n_st takes 25"):
        plots.trajectories(traj, cells=[dict(n_st=26)])
    with pytest.raises(ConfigError, match="'batch' is not a column"):
        plots.trajectories(traj, cells=[dict(batch=4)])
    with pytest.raises(ConfigError, match="are not among"):
        maps.graded_map(runs, "n_st", "p_b", quantities=("gain",))


@pytest.fixture(scope="module")
def thirteen():
    """Thirteen values of sigma_p beside two of n_st: one panel (or curve) more than the
    limit of twelve."""
    params = [dict(n_st=n, sigma_p=s) for s in np.linspace(0.8, 1.4, 13) for n in (100, 1000)]
    summary, traj = S.frames({(c, 0): "benign" for c in range(len(params))}, params, 1)
    return summary, traj, classes.classify(summary, traj)


def test_more_panels_than_the_limit_are_refused_not_dropped(thirteen, tmp_path, capsys):
    summary, traj, runs = thirteen
    with pytest.raises(plots.TooManyPanels, match=r"13 panels \(one per value of sigma_p\) "):
        plots.phase_diagram(runs, "n_st", "p_b")
    with pytest.raises(plots.TooManyPanels, match=r"limit of 12.*sigma_p.*max_panels=13"):
        plots.phase_diagram(runs, "n_st", "p_b")
    fig = plots.phase_diagram(runs, "n_st", "p_b", max_panels=13)
    assert len([a for a in fig.axes if a.get_visible()]) == 13  # all of them, none dropped
    # Curves: thirteen are within their limit (24) and all drawn; past a limit, refused.
    window = plots.window_map(runs, "n_st")
    assert len(window.axes[0].get_lines()) == 13
    with pytest.raises(plots.TooManyPanels, match=r"13 curves.*sigma_p.*max_curves=13"):
        plots.window_map(runs, "n_st", max_curves=12)
    with pytest.raises(plots.TooManyPanels, match=r"13 curves.*sigma_p.*max_curves=13"):
        plots.collapse(runs, max_curves=12)
    cells = [dict(n_st=100, sigma_p=s) for s in np.linspace(0.8, 1.4, 13)]
    with pytest.raises(plots.TooManyPanels, match=r"13 cells.*max_panels=13"):
        plots.trajectories(traj, cells=cells)
    # The report leaves such a figure out and says why; `w2s plot --kind phase` refuses it.
    results = report.analyse(summary, traj, n_boot=5)
    skipped = {}
    paths = report.make_figures(
        results, traj, summary, tmp_path, ("phase", "trajectories"), "n_st", "p_b", None, skipped
    )
    assert set(paths) == {"trajectories"} and "max_panels=13" in skipped["phase"]
    with pytest.raises(plots.TooManyPanels):
        report.make_figures(results, traj, summary, tmp_path, ("phase",), "n_st", "p_b")
    summary.to_parquet(tmp_path / "summary.parquet", index=False)
    traj.to_parquet(tmp_path / "trajectories.parquet", index=False)
    assert main(["plot", str(tmp_path), "--kind", "phase", "--x", "n_st", "--y", "p_b"]) == 2
    assert "max_panels=13" in capsys.readouterr().err


def test_a_one_of_two_seed_split_is_drawn_as_a_tie():
    """Seed 0 harmful, seed 1 benign: the cell is a tie, not harmful (the first of CLASSES)."""
    params = [dict(n_st=n, p_b=p) for p in (0.2, 0.4) for n in (100, 1000)]
    kinds = {(c, s): ("harmful" if c == 0 else "benign") for c in range(4) for s in range(2)}
    kinds[3, 0] = "harmful"  # n_st = 1000, p_b = 0.4
    summary, traj = S.frames(kinds, params, 2)
    runs = classes.classify(summary, traj)
    fig = plots.phase_diagram(runs, "n_st", "p_b")
    ax = fig.axes[0]
    colours = np.ma.getmaskarray(ax.collections[0].get_array()).reshape(2, 2)
    assert colours.tolist() == [[False, False], [False, True]]  # no class colour at the tie
    hatched = np.ma.getmaskarray(ax.collections[1].get_array()).reshape(2, 2)
    assert hatched.tolist() == [[True, True], [True, False]]  # the tie layer, only there
    assert ax.collections[1].get_hatch() == plots.TIE[2]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(label.startswith("tie") for label in labels)
    # Without a tie there is no tie layer and no tie in the legend.
    kinds[3, 0] = "benign"
    clean = plots.phase_diagram(classes.classify(*S.frames(kinds, params, 2)), "n_st", "p_b")
    assert len(clean.axes[0].collections) == 1
    assert not any(t.get_text().startswith("tie") for t in clean.legends[0].get_texts())
