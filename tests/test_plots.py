"""Figures and the report are written (PNG and PDF), and no seaborn/pandas warning leaks out."""

import json
import warnings

import _synthetic as S
import pytest

from w2s_jax.analysis import classes, fit, plots
from w2s_jax.cli.main import main


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
