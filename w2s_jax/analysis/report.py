"""A Markdown report of a sweep directory: class counts, the fitted constant `C` of
`tau >= C`, the free exponents against Theorem 3.4's `(1, 2, 4, -4)`, the per-slice
boundaries, the early-stopping windows and the figures of `w2s_jax.analysis.plots`.

The report fits and draws only over axes that vary independently in the study. A fit takes
its coordinates in order and drops one that is constant over the cells it fits, or a linear
function in logs of those it kept (the design matrix of log-values would not gain rank: on a
grid of `n_st` and `nu_norm` at one `d`, `n_st = d / d_over_n`), and says so in a line
`skipped: n_st (determined by d_over_n in this study)` (`independent_features`). The figures
and the graded map draw over two axes whose values the study's cells cross (`maps.map_axes`),
never over derived coordinates that its grid only shears (there, `n_st_snr` and `d_over_n`).
"""

from __future__ import annotations

import dataclasses
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
    "Independent",
    "independent_features",
    "analyse",
    "default_axes",
    "axes_line",
    "make_figures",
    "write_report",
    "markdown_table",
]

KINDS = ("phase", "collapse", "trajectories", "window", "signal")


#: The spread of a coordinate's logs over a fit's cells below which it counts as constant
#: (all its values within about 1% of each other).
CONSTANT_SPREAD = 1e-2
#: The largest residual, relative to the coordinate's own spread in logs, at which it counts
#: as a function of the coordinates kept before it: derived coordinates come back to a
#: relative O(1/d) where `d` is rounded to an integer.
DETERMINED_RTOL = 1e-2
#: The coordinates the early-stopping law is fitted on, in order of preference.
LAW_FEATURES = ("n_st_snr", "d_over_n", "eta", "n_st")


def _and(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


@dataclasses.dataclass(frozen=True)
class Independent:
    """The coordinates a fit uses (`kept`, in order) and the ones it leaves out, each with
    its reason (`skipped`: name -> "constant" or "determined by ... in this study")."""

    kept: tuple[str, ...]
    skipped: dict[str, str]

    def line(self) -> str:
        """`skipped: eta (constant); n_st (determined by d_over_n in this study)`, or ""."""
        if not self.skipped:
            return ""
        by_reason: dict[str, list[str]] = {}
        for name, reason in self.skipped.items():
            by_reason.setdefault(reason, []).append(name)
        return "skipped: " + "; ".join(
            f"{', '.join(names)} ({reason})" for reason, names in by_reason.items()
        )


def independent_features(frame: pd.DataFrame, features) -> Independent:
    """Which of `features` vary independently over the distinct cells of `frame`.

    Features are taken in order; one is kept when the design matrix of the kept features'
    log-values (with a constant column) gains rank with it, i.e. when its logs are not
    constant (spread above `CONSTANT_SPREAD`) and not a linear function of the kept ones'
    (least-squares residual above `DETERMINED_RTOL` of its spread). A skipped feature names
    the kept features that determine it. Features absent from `frame` are ignored; one with
    values that are not positive (no logarithm) is skipped as such.
    """
    present = [f for f in dict.fromkeys(features) if f in frame]
    cells = frame[present].drop_duplicates()
    kept: list[str] = []
    skipped: dict[str, str] = {}
    design = [np.ones(len(cells))]
    for name in present:
        values = cells[name].to_numpy(float)
        if not (np.all(np.isfinite(values)) and np.all(values > 0)):
            skipped[name] = "not positive: no logarithm"
            continue
        logs = np.log(values)
        spread = float(np.ptp(logs)) if len(logs) else 0.0
        if spread <= CONSTANT_SPREAD:
            skipped[name] = "constant"
            continue
        matrix = np.column_stack(design)
        coef, *_ = np.linalg.lstsq(matrix, logs, rcond=None)
        if np.max(np.abs(logs - matrix @ coef)) <= DETERMINED_RTOL * spread:
            by = [k for k, c in zip(kept, coef[1:]) if abs(c) > 1e-3] or kept
            skipped[name] = f"determined by {_and(by)} in this study"
        else:
            kept.append(name)
            design.append(logs)
    return Independent(tuple(kept), skipped)


def default_axes(runs: pd.DataFrame) -> tuple[str, str]:
    """`(x, y)` of the figures: two axes that vary independently in the study
    (`maps.map_axes`); with one swept axis, it against `p_b`."""
    try:
        return maps.map_axes(runs)
    except ValueError:
        swept = [c for c in swept_columns(runs) if c not in ("p_e", "cell")]
        x = "n_st" if "n_st" in swept else (swept[0] if swept else "n_st")
        return x, "p_b"


def axes_line(runs: pd.DataFrame, x: str, y: str) -> str:
    """What the figures draw over, and the theory coordinates that vary but are not drawn
    over, with why: "Figures over `n_st` × `nu_norm`; skipped: n_st_snr (determined by n_st
    and nu_norm in this study); ..."."""
    drawn = [a for a in (x, y) if a in runs and runs[a].nunique() > 1]
    text = f"Figures over {' × '.join(f'`{a}`' for a in drawn) or 'one cell'}"
    plane = [c for c in ("n_st_snr", "d_over_n") if c in runs and runs[c].nunique() > 1]
    left = [c for c in plane if c not in drawn]
    if not left:
        return text + "."
    swept = [c for c in swept_columns(runs) if c not in ("p_e", "cell") and c not in drawn]
    found = independent_features(runs, [*drawn, *swept, *left])
    reasons = {c: found.skipped.get(c, "not crossed with the drawn axes") for c in left}
    share = maps.coverage(runs, *plane) if len(plane) == 2 else None
    tail = (
        f"; as a map's axes their cells would fill {share:.0%} of the grid of their values"
        if share is not None and share < maps.CROSSED
        else ""
    )
    return f"{text}; " + Independent((), reasons).line() + tail + "."


def analyse(
    summary: pd.DataFrame,
    trajectories: pd.DataFrame,
    rule: str = "class",
    n_boot: int = fit.BOOTSTRAP,
) -> dict:
    """Classification and every fit that the grid supports (None where it does not).

    The free exponents are fitted over the factors of tau that vary independently in the
    runs (`independent_features`; `exponent_axes` says which were kept and skipped)."""
    runs = classify(summary, trajectories)
    data = fit.benign_outcome(runs, rule)
    out = dict(
        runs=runs,
        data=data,
        rule=rule,
        constant=None,
        exponents=None,
        exponent_axes=None,
        slices=None,
    )
    both = len(data) and data["benign"].nunique() == 2
    if both and data["tau"].nunique() > 1:
        out["constant"] = fit.fit_constant(data, n_boot=n_boot)
        if "n_st" in data and data["n_st"].nunique() > 1:
            out["slices"] = fit.boundary_per_slice(data, n_boot=n_boot)
            axes = out["exponent_axes"] = independent_features(data, TAU_FEATURES)
            if axes.kept[:1] == ("n_st",) and len(axes.kept) > 1:
                out["exponents"] = fit.fit_exponents(data, list(axes.kept), n_boot=n_boot)
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
    skipped: dict[str, str] | None = None,
) -> dict[str, Path]:
    """Write the figures of `kinds` under `directory` (PNG and PDF); returns the PNG paths.

    A figure that would need more panels than its limit (`plots.TooManyPanels`) is left out
    with its message in `skipped` when that dict is given, and refused otherwise."""
    directory = Path(directory)
    runs = results["runs"]
    dx, dy = default_axes(runs)
    x, y = x or dx, y or dy
    C = results["constant"].C if results["constant"] is not None else None
    paths = {}
    for kind in kinds:
        if kind not in KINDS:
            raise ConfigError(f"--kind: must be one of {', '.join(KINDS)} or all, got {kind!r}")
        stem = directory / kind
        try:
            if kind == "phase":
                plots.phase_diagram(runs, x, y, C=C, path=stem)
            elif kind == "collapse":
                rule = results.get("rule", "class")
                plots.collapse(runs, C=C, along=x, rule=rule, path=stem)
            elif kind == "trajectories":
                plots.trajectories(trajectories, summary, cells=cells, path=stem)
            elif kind == "window":
                two = y in runs and runs[y].nunique() > 1
                plots.window_map(runs, x, y if two else None, path=stem)
            else:
                plots.signal_noise(trajectories, cells=cells, path=stem)
        except plots.TooManyPanels as refused:
            if skipped is None:
                raise
            skipped[kind] = str(refused)
            continue
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
    refused: dict[str, str] = {}
    figures = make_figures(results, trajectories, summary, out.parent / "figures", skipped=refused)
    runs = results["runs"]
    swept = [c for c in swept_columns(runs) if c not in ("p_e", "cell")]
    lines = [
        *_header_section(directory, manifest, runs, swept),
        *_classes_section(runs),
        *_boundary_section(results, rule),
        *_windows_section(runs, swept),
        *_band_section(runs, rule, n_boot),
        *_paper_section(runs),
        *_plane_section(runs, out.parent / "figures", figures),
        *_law_section(runs, out.parent / "figures", figures),
        *_graded_section(runs, out.parent / "figures", figures),
    ]
    # Last: the sections above add the figures they draw to `figures`.
    lines += _figures_section(figures, refused, out.parent)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    return out


def _header_section(
    directory: Path, manifest: dict, runs: pd.DataFrame, swept: list[str]
) -> list[str]:
    """The study's name and description, its cells, seeds and swept axes (`_runs_line`), and
    what the figures draw over (`axes_line`)."""
    config = manifest.get("config", {})
    lines = [f"# Sweep report: {config.get('name', directory.name)}", ""]
    if config.get("description"):
        lines += [config["description"], ""]
    return lines + [_runs_line(runs, swept, manifest), "", axes_line(runs, *default_axes(runs)), ""]


def _runs_line(runs: pd.DataFrame, swept: list[str], manifest: dict) -> str:
    """The line "81 cells × 8 seeds = 648 runs; swept: `d` (9), `sigma_p` (81).", followed by
    the sweep's time and where it ran ("Sweep time 234 s on cpu (cpu:0).") when the manifest
    has them."""
    text = (
        f"{runs['cell'].nunique() if 'cell' in runs else len(per_cell(runs))} cells × "
        f"{runs['seed'].nunique()} seeds = {len(runs)} runs; swept: "
        f"{', '.join(f'`{c}` ({runs[c].nunique()})' for c in swept) or 'nothing'}."
    )
    total = manifest.get("wall_s")
    if total is None:
        return text
    text += f" Sweep time {float(total):.0f} s"
    if manifest.get("platform"):
        text += f" on {manifest['platform']} ({', '.join(manifest.get('devices', []))})"
    return text + "."


def _classes_section(runs: pd.DataFrame) -> list[str]:
    """The classes' rule and counts, and the counts per `n_st` when it varies."""
    lines = [
        "## Classes",
        "",
        f"Rule (see `w2s_jax.analysis.rules`): {rules.classes_rule()}",
        "",
        markdown_table(class_counts(runs)),
        "",
    ]
    if "n_st" in runs and runs["n_st"].nunique() > 1:
        lines += ["Per `n_st`:", "", markdown_table(class_counts(runs, ["n_st"])), ""]
    return lines


def _boundary_section(results: dict, rule: str) -> list[str]:
    """The fits of `analyse` against tau: the benign indicator's counts, the constant `C`, the
    free exponents with the likelihood-ratio test of the theory's, the factors of tau they
    were fitted over (`_exponent_axes`) and the per-slice boundaries."""
    runs, data = results["runs"], results["data"]
    lines = [
        "## The boundary against tau = n_st·p_b²·nu_norm⁴/(sigma_p⁴·d)",
        "",
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
    lines += _exponent_axes(results["exponent_axes"], results["exponents"] is not None)
    if results["slices"] is not None:
        lines += [
            "**Per slice:** where the benign share crosses 1/2 along `n_st` "
            "(95% bootstrap over seeds).",
            "",
            markdown_table(results["slices"]),
            "",
        ]
    return lines


#: The most cells the table of early-stopping windows shows.
WINDOW_ROWS_MAX = 60


def _windows_section(runs: pd.DataFrame, swept: list[str]) -> list[str]:
    """The early-stopping window of each cell (means over seeds), its swept axes first; at
    most `WINDOW_ROWS_MAX` cells, with a line that counts the rest."""
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
    lines = [
        "## Early-stopping windows (mean over seeds)",
        "",
        f"Window: {rules.window_rule()}.",
        "",
        markdown_table(cells[columns].head(WINDOW_ROWS_MAX)),
        "",
    ]
    if len(cells) > WINDOW_ROWS_MAX:
        lines += [f"({len(cells) - WINDOW_ROWS_MAX} more cells not shown.)", ""]
    return lines


def _figures_section(figures: dict[str, Path], refused: dict[str, str], root: Path) -> list[str]:
    """The figures that were left out, each with why, then every figure drawn, linked
    relative to `root` (the report's folder)."""
    lines = ["## Figures", ""]
    for kind, reason in refused.items():
        lines += [f"skipped: the {kind} figure ({reason}).", ""]
    for kind, path in figures.items():
        lines += [f"![{kind}]({path.relative_to(root).as_posix()})", ""]
    return lines


def _exponent_axes(axes: Independent | None, fitted: bool) -> list[str]:
    """The line that says which factors of tau the free-exponent fit used and skipped."""
    if axes is None:
        return []
    used = ", ".join(f"`{f}`" for f in axes.kept)
    if fitted:
        text = f"Exponents fitted over {used}"
    else:
        text = f"No free exponents: only {used or 'no factor of tau'} varies independently"
    return [text + (f"; {axes.line()}" if axes.skipped else "") + ".", ""]


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
    if maps.coverage(runs, "n_st_snr", "d_over_n") < maps.CROSSED:
        return []  # not swept against each other: the grid only shears them
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
    """The early-stopping law, when the runs peak and the coordinates or the step vary; fitted
    over the coordinates of `LAW_FEATURES` that vary independently among the runs with a
    peak."""
    axes = independent_features(early_stopping.peaked(runs), LAW_FEATURES)
    if not axes.kept:
        return []
    features = list(axes.kept)
    # A target that every peaked run shares (a window of one width) has no R²: not an error.
    with np.errstate(divide="ignore", invalid="ignore"):
        fit_ = early_stopping.fit_law(runs, features)
        if fit_ is None:
            return []
        early_stopping.law_figure(runs, fit_, path=directory / "early_stopping_law")
        table = early_stopping.law_table(runs, features)
    figures["early_stopping_law"] = directory / "early_stopping_law.png"
    return [
        "## Early stopping as a law",
        "",
        f"Runs with a peak to time (degradation >= {rules.MIN_DEGRADATION}, best step "
        f">= {rules.MIN_STEP}): {fit_.n_runs} of {len(runs)}. Least squares in logs "
        "with one intercept per seed; 95% intervals.",
        "",
        f"Fitted over {', '.join(f'`{f}`' for f in features)}"
        + (f"; {axes.line()}" if axes.skipped else "")
        + ".",
        "",
        f"`{fit_.formula()}`",
        "",
        markdown_table(table),
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
    axes = independent_features(below, TAU_FEATURES)
    if axes.kept[:1] == ("n_st",) and len(axes.kept) > 1:
        e = fit.fit_exponents(below, list(axes.kept), n_boot=n_boot)
        lines += [
            "**Free exponents** (relative to `n_st`'s; theory `(1, 2, 4, -4, -1)`):",
            "",
            markdown_table(e.table),
            "",
            f"Likelihood-ratio test of the theory's exponents: chi² = {e.lr_statistic:.2f} "
            f"with {e.lr_dof} dof, p = {e.lr_p_value:.3g}.",
            "",
            *_exponent_axes(axes, True),
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
