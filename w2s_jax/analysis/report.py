"""A Markdown report of a sweep directory: class counts, the fitted constant `C` of
`tau >= C`, the free exponents against Theorem 3.4's `(1, 2, 4, -4)`, the per-slice
boundaries, the early-stopping windows and the figures of `w2s_jax.analysis.plots`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from w2s_jax.analysis import early_stopping, fit, maps, paper, plane, plots, rules
from w2s_jax.analysis.classes import CLASSES, class_counts, classify, per_cell, swept_columns
from w2s_jax.model.config import ConfigError
from w2s_jax.model.theory import TAU_FEATURES
from w2s_jax.sweeping.results import load_results

__all__ = [
    "load_results",
    "analyse",
    "default_axes",
    "make_figures",
    "write_report",
    "markdown_table",
]

KINDS = ("phase", "collapse", "trajectories", "window", "signal")


def default_axes(runs: pd.DataFrame) -> tuple[str, str]:
    """`(x, y)` for the phase diagram: `n_st` against the swept axis with the most values."""
    swept = [c for c in swept_columns(runs) if c not in ("p_e", "cell")]
    x = "n_st" if "n_st" in swept else (swept[0] if swept else "n_st")
    rest = sorted((c for c in swept if c != x), key=lambda c: -runs[c].nunique())
    return x, (rest[0] if rest else "p_b")


def analyse(
    summary: pd.DataFrame,
    trajectories: pd.DataFrame,
    rule: str = "class",
    n_boot: int = fit.BOOTSTRAP,
) -> dict:
    """Classification and every fit that the grid supports (None where it does not)."""
    runs = classify(summary, trajectories)
    data = fit.benign_outcome(runs, rule)
    out = dict(runs=runs, data=data, rule=rule, constant=None, exponents=None, slices=None)
    both = len(data) and data["benign"].nunique() == 2
    if both and data["tau"].nunique() > 1:
        out["constant"] = fit.fit_constant(data, n_boot=n_boot)
        if "n_st" in data and data["n_st"].nunique() > 1:
            out["slices"] = fit.boundary_per_slice(data, n_boot=n_boot)
            varying = [f for f in TAU_FEATURES if f in data and data[f].nunique() > 1]
            if len(varying) > 1:
                out["exponents"] = fit.fit_exponents(data, n_boot=n_boot)
    return out


def make_figures(
    results: dict,
    trajectories: pd.DataFrame,
    summary: pd.DataFrame,
    directory: str | Path,
    kinds=KINDS,
    x: str | None = None,
    y: str | None = None,
    cells=None,
) -> dict[str, Path]:
    """Write the figures of `kinds` under `directory` (PNG and PDF); returns the PNG paths."""
    directory = Path(directory)
    runs = results["runs"]
    dx, dy = default_axes(runs)
    x, y = x or dx, y or dy
    C = results["constant"].C if results["constant"] is not None else None
    paths = {}
    for kind in kinds:
        stem = directory / kind
        if kind == "phase":
            plots.phase_diagram(runs, x, y, C=C, path=stem)
        elif kind == "collapse":
            plots.collapse(runs, C=C, rule=results.get("rule", "class"), path=stem)
        elif kind == "trajectories":
            plots.trajectories(trajectories, summary, cells=cells, path=stem)
        elif kind == "window":
            plots.window_map(runs, x, y if runs[y].nunique() > 1 else None, path=stem)
        elif kind == "signal":
            plots.signal_noise(trajectories, cells=cells, path=stem)
        else:
            raise ConfigError(f"--kind: must be one of {', '.join(KINDS)} or all, got {kind!r}")
        paths[kind] = stem.with_suffix(".png")
    return paths


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub Markdown table (no tabulate dependency)."""

    def cell(v):
        if isinstance(v, (float, np.floating)):
            return "–" if not np.isfinite(v) else f"{v:.{digits}g}"
        return str(v)

    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def write_report(
    directory: str | Path,
    out: str | Path | None = None,
    rule: str = "class",
    n_boot: int = fit.BOOTSTRAP,
) -> Path:
    """Analyse the sweep in `directory` and write `report.md` with its figures beside it."""
    directory = Path(directory)
    summary, trajectories, manifest = load_results(directory)
    results = analyse(summary, trajectories, rule, n_boot)
    out = Path(out) if out is not None else directory / "report.md"
    figures = make_figures(results, trajectories, summary, out.parent / "figures")
    runs = results["runs"]
    config = manifest.get("config", {})
    name = config.get("name", directory.name)
    swept = [c for c in swept_columns(runs) if c not in ("p_e", "cell")]
    lines = [f"# Sweep report: {name}", ""]
    if config.get("description"):
        lines += [config["description"], ""]
    lines += [
        f"{runs['cell'].nunique() if 'cell' in runs else len(per_cell(runs))} cells × "
        f"{runs['seed'].nunique()} seeds = {len(runs)} runs; swept: "
        f"{', '.join(f'`{c}` ({runs[c].nunique()})' for c in swept) or 'nothing'}."
    ]
    total = manifest.get("wall_s")
    if total is not None:
        lines[-1] += f" Sweep time {float(total):.0f} s"
        if manifest.get("platform"):
            lines[-1] += f" on {manifest['platform']} ({', '.join(manifest.get('devices', []))})"
        lines[-1] += "."
    lines += [
        "",
        "## Classes",
        "",
        f"Rule (see `w2s_jax.analysis.rules`): {rules.classes_rule()}",
        "",
        markdown_table(class_counts(runs)),
        "",
    ]
    if "n_st" in runs and runs["n_st"].nunique() > 1:
        lines += ["Per `n_st`:", "", markdown_table(class_counts(runs, ["n_st"])), ""]
    lines += ["## The boundary against tau = n_st·p_b²·nu_norm⁴/(sigma_p⁴·d)", ""]
    data = results["data"]
    lines += [
        f"Benign indicator: rule `{rule}` ({int(data['benign'].sum())} benign of "
        f"{len(data)} runs; {len(runs) - len(data)} not converged and left out).",
        "",
    ]
    if results["constant"] is not None:
        lines += [f"**Fitted constant:** {results['constant']}.", ""]
    else:
        lines += ["No constant fitted: every run is on one side, or tau takes one value.", ""]
    if results["exponents"] is not None:
        e = results["exponents"]
        lines += [
            "**Free exponents** (relative to `n_st`'s; theory `(1, 2, 4, -4)`, and -1 for `d`):",
            "",
            markdown_table(e.table),
            "",
            f"Likelihood-ratio test of the theory's exponents against the free fit: "
            f"chi² = {e.lr_statistic:.2f} with {e.lr_dof} dof, p = {e.lr_p_value:.3g}.",
            "",
        ]
    if results["slices"] is not None:
        lines += [
            "**Per slice:** where the benign share crosses 1/2 along `n_st` "
            "(95% bootstrap over seeds).",
            "",
            markdown_table(results["slices"]),
            "",
        ]
    cells = per_cell(runs)
    columns = (
        [c for c in swept if c in cells]
        + [
            "tau",
            "weak_test_acc",
            "best_step",
            "best_test_acc",
            "window_start",
            "window_end",
            "final_test_acc",
            "degradation",
            "label_correction_best",
        ]
        + [f"p_{c}" for c in CLASSES]
    )
    lines += [
        "## Early-stopping windows (mean over seeds)",
        "",
        f"Window: {rules.window_rule()}.",
        "",
        markdown_table(cells[columns].head(60)),
        "",
    ]
    if len(cells) > 60:
        lines += [f"({len(cells) - 60} more cells not shown.)", ""]
    lines += _band_section(runs, rule, n_boot)
    lines += _paper_section(runs)
    lines += _plane_section(runs, out.parent / "figures", figures)
    lines += _law_section(runs, out.parent / "figures", figures)
    lines += _graded_section(runs, out.parent / "figures", figures)
    lines += ["## Figures", ""]
    for kind, path in figures.items():
        lines += [f"![{kind}]({path.relative_to(out.parent).as_posix()})", ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    return out


def _paper_section(runs: pd.DataFrame) -> list[str]:
    """The paper's table beside ours, when the sweep has the paper's `n_st`."""
    if "n_st" not in runs or not set(paper.PAPER) & set(runs["n_st"].unique()):
        return []
    return [
        "## The paper's table (paper vs ours, means over seeds)",
        "",
        "`meets`: seeds that show the paper's regime by the rule of `w2s_jax.analysis.paper`.",
        "",
        markdown_table(paper.paper_table(runs)),
        "",
    ]


def _plane_section(runs: pd.DataFrame, directory: Path, figures: dict) -> list[str]:
    """The phase plane in `(n_st·snr, d/n_st)`, when both are swept."""
    if not {"n_st_snr", "d_over_n"} <= set(runs):
        return []
    by_n = runs.groupby("n_st")[["n_st_snr", "d_over_n"]].nunique()
    if not ((by_n["n_st_snr"] > 1) & (by_n["d_over_n"] > 1)).any():
        return []  # a plane needs both coordinates to vary at some n_st
    runs = plane.snap(runs)
    edges = plane.plane_boundaries(runs)
    plane.plane_map(runs, boundaries=edges, path=directory / "plane")
    plane.tau_plane(runs, path=directory / "tau_plane")
    figures["plane"], figures["tau_plane"] = (
        directory / f"{n}.png" for n in ("plane", "tau_plane")
    )
    shown = [
        c
        for c in (
            "runs",
            "edge",
            "n_runs",
            "share",
            "slope",
            "slope_lo",
            "slope_hi",
            "intercept",
            "accuracy",
            "interval",
            "ridge_tau",
        )
        if c in edges
    ]
    return [
        "## The phase plane (n_st·snr, d/n_st)",
        "",
        "Edges `log(d/n_st) = intercept + slope·log(n_st·snr)` where the fitted share is 1/2; "
        "a boundary at constant tau has slope -2. The benign band is split at its ridge "
        "(`ridge_tau`, the geometric mean tau of the benign runs).",
        "",
        markdown_table(edges[shown]),
        "",
    ]


def _law_section(runs: pd.DataFrame, directory: Path, figures: dict) -> list[str]:
    """The early-stopping law, when the runs peak and the coordinates or the step vary."""
    features = [f for f in ("n_st_snr", "d_over_n", "eta", "n_st") if f in runs]
    fit_ = early_stopping.fit_law(runs, features)
    if fit_ is None:
        return []
    early_stopping.law_figure(runs, fit_, path=directory / "early_stopping_law")
    figures["early_stopping_law"] = directory / "early_stopping_law.png"
    return [
        "## Early stopping as a law",
        "",
        f"Runs with a peak to time (degradation >= {rules.MIN_DEGRADATION}, best step "
        f">= {rules.MIN_STEP}): {fit_.n_runs} of {len(runs)}. Least squares in logs "
        "with one intercept per seed; 95% intervals.",
        "",
        f"`{fit_.formula()}`",
        "",
        markdown_table(early_stopping.law_table(runs, features)),
        "",
    ]


def _band_section(runs: pd.DataFrame, rule: str, n_boot: int) -> list[str]:
    """With the `end` rule: Theorem 3.4's one-sided model fitted on the runs below the benign
    band's ridge (the theorem's side; above it the phase plane shows harmful runs again), and
    the constant and the transition's width per value of `d`."""
    if rule != "end" or "tau" not in runs:
        return []
    ridge = plane.ridge_tau(runs)
    if not np.isfinite(ridge):
        return []
    below = fit.benign_outcome(runs[runs["tau"] < ridge], "end")
    if below["benign"].nunique() < 2:
        return []
    lines = [
        f"## Below the benign band's ridge (tau < {ridge:.3g})",
        "",
        f"{len(below)} runs. **Fitted constant:** {fit.fit_constant(below, n_boot=n_boot)}.",
        "",
    ]
    varying = [
        f for f in ("p_b", "nu_norm", "sigma_p", "d") if f in below and below[f].nunique() > 1
    ]
    if "n_st" in below and below["n_st"].nunique() > 1 and varying:
        e = fit.fit_exponents(below, n_boot=n_boot)
        lines += [
            "**Free exponents** (relative to `n_st`'s; theory `(1, 2, 4, -4, -1)`):",
            "",
            markdown_table(e.table),
            "",
            f"Likelihood-ratio test of the theory's exponents: chi² = {e.lr_statistic:.2f} "
            f"with {e.lr_dof} dof, p = {e.lr_p_value:.3g}.",
            "",
        ]
    if "d" in below and below["d"].nunique() > 1:
        rows = []
        for d, group in below.groupby("d"):
            if group["benign"].nunique() == 2:
                c = fit.fit_constant(group, n_boot=n_boot)
                width = 2 * np.log(3) / c.k if c.k > 0 else np.nan
                rows.append(
                    dict(
                        d=d,
                        runs=c.n_runs,
                        C=c.C,
                        C_lo=c.C_lo,
                        C_hi=c.C_hi,
                        k=c.k,
                        width_log_tau=width,
                        accuracy=c.accuracy,
                    )
                )
        if rows:
            lines += [
                "**Per `d`:** the constant, the slope `k` of `P(benign) = σ(k·log(tau/C))` and "
                "the transition's width in log tau (from 25% to 75%, `2·ln 3 / k`).",
                "",
                markdown_table(pd.DataFrame(rows)),
                "",
            ]
    return lines


#: The most rows of panels (values of the other swept axes) a graded map in the report draws.
GRADED_ROWS_MAX = 6


def _graded_section(runs: pd.DataFrame, directory: Path, figures: dict) -> list[str]:
    """Graded maps (`analysis.maps`), when the study has two swept axes (and at most
    `GRADED_ROWS_MAX` values of the others)."""
    try:
        x, y = maps.map_axes(runs)
    except ValueError:
        return []
    cells = maps.graded_cells(runs, x, y)
    slices = maps.slice_columns(runs, x, y)
    rows = len(cells.groupby(slices)) if slices else 1
    if rows > GRADED_ROWS_MAX:
        return []
    maps.graded_map(runs, x, y, path=directory / "graded")
    figures["graded"] = directory / "graded.png"
    undecided = cells[cells["undecided"]]
    lines = [
        f"## Graded maps over {x} and {y}",
        "",
        "Seed means (± seed standard error) per cell of the gain over the teacher at the last "
        "and the best step, the share of wrong pseudo-labels corrected at the best step and "
        "the best step in gradient-flow time eta·t, with the class edges drawn over them. A "
        "cell whose seed mean lies within one seed standard error of a cutoff that decides "
        "its class is undecided (hatched grey).",
        "",
        f"{len(undecided)} of {len(cells)} cells undecided. `w2s check DIR` reruns the cells "
        "nearest a cutoff with a smaller step, a longer run, more filters, a smaller "
        "initialization and float64, and says whether their class and gain stand.",
        "",
    ]
    if len(undecided):
        shown = [*dict.fromkeys([x, y, *slices]), "class", "nearest", "margin", "n_seeds"]
        lines += [markdown_table(undecided[shown].head(60)), ""]
    return lines
