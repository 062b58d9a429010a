"""The phase plane in the theory's coordinates: where each mechanism holds, its boundary, and
the figure.

The plane is spanned by `n_st·snr` (data abundance) and `d/n_st` (over-parameterization);
`tau = p_b²·(n_st·snr)²·(d/n_st)` is a line of slope -2 in `log(d/n_st)` against
`log(n_st·snr)`. The benign region is a band with harmful on both sides (noise memorization
below it; above it, at large `n_st·snr`, an early-stopping peak that degrades to the weak
model's level), so it has two edges, split at its ridge; label correction has one. Each edge is
fitted by a logistic regression in `(log n_st·snr, log d/n_st)`: the edge is the line where the
fitted share is 1/2, and its slope is compared with -2 (a boundary at constant `tau`).
Intervals: a bootstrap over whole seeds (cells that share a seed share their draws) with at
least five seeds, the delta method otherwise.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap

from w2s_jax.analysis import plots, rules
from w2s_jax.analysis.fit import BOOTSTRAP, logistic_fit, seed_bootstrap
from w2s_jax.analysis.rules import harmful_error_text

__all__ = [
    "EDGES",
    "snap",
    "region_indicator",
    "ridge_tau",
    "edge_runs",
    "PlaneBoundary",
    "fit_plane_boundary",
    "plane_boundaries",
    "DISPLAY",
    "display_region",
    "plane_map",
    "tau_plane",
]

#: The boundaries fitted: the benign band has two edges (harmful on both sides: noise
#: memorization below, the early-stopping peak that degrades to the weak model above), split
#: at the band's ridge (`ridge_tau`); label correction has one.
EDGES = {
    "benign_lower": ("benign", "runs with tau below the ridge: harmful (below) vs benign"),
    "benign_upper": ("benign", "runs with tau above the ridge: benign vs degraded (above)"),
    "label_correction": ("label_correction", "all runs: label correction vs the rest"),
}
COORDINATE_DIGITS = 4


def snap(runs: pd.DataFrame, columns=("tau", "snr", "n_st_snr", "d_over_n")) -> pd.DataFrame:
    """The theory coordinates rounded to `COORDINATE_DIGITS` significant digits, so cells that
    asked for the same value (and got it back to float rounding, or to `O(1/d)` where `d` was
    rounded to an integer) group together."""
    runs = runs.copy()
    for column in columns:
        if column in runs:
            values = runs[column].to_numpy(float)
            scale = 10.0 ** (COORDINATE_DIGITS - 1 - np.floor(np.log10(np.abs(values))))
            runs[column] = np.round(values * scale) / scale
    return runs


def region_indicator(runs: pd.DataFrame, region: str) -> pd.Series:
    """1 where a run is in `region` (`class`: harmful / label_correction; `end_class`: benign
    at the end), 0 elsewhere; runs that did not converge are left out (NaN)."""
    column = "end_class" if region == "benign" else "class"
    value = (runs[column] == region).astype(float)
    return value.where(runs["class"] != "not_converged")


def ridge_tau(runs: pd.DataFrame) -> float:
    """The benign band's ridge: the geometric mean of `tau` over the runs benign at the end
    (NaN if there are none)."""
    benign = runs.loc[region_indicator(runs, "benign") == 1, "tau"].to_numpy(float)
    return float(np.exp(np.mean(np.log(benign)))) if len(benign) else np.nan


@dataclasses.dataclass
class PlaneBoundary:
    """`logit P(region) = b0 + bx·log x + by·log y`; the boundary `log y = a + s·log x`.

    The slope's interval is a bootstrap over whole seeds when there are at least
    `MIN_BOOTSTRAP_SEEDS` seeds, else the delta method on the fit's covariance (`interval`
    says which). A boundary at constant `tau` has slope -2.
    """

    edge: str
    n_runs: int
    share: float  # share of runs in the region
    slope: float  # s = -bx/by
    slope_lo: float
    slope_hi: float
    intercept: float  # a = -b0/by
    accuracy: float  # runs on the side of the boundary their region says
    interval: str
    coefficients: tuple[float, float, float]

    def row(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "coefficients"}


MIN_BOOTSTRAP_SEEDS = 5


def _design(runs, x, y):
    return np.column_stack(
        [np.ones(len(runs)), np.log(runs[x].to_numpy(float)), np.log(runs[y].to_numpy(float))]
    )


def _slope(X, z):
    beta, _ = logistic_fit(X, z)
    return -beta[1] / beta[2] if beta[2] != 0 else np.nan


def fit_plane_boundary(
    runs: pd.DataFrame,
    region: str,
    x: str = "n_st_snr",
    y: str = "d_over_n",
    edge: str | None = None,
    n_boot: int = BOOTSTRAP,
    seed: int = 0,
) -> PlaneBoundary | None:
    """Fit one region's boundary over `runs`; None when every run is on one side."""
    z = region_indicator(runs, region)
    kept = runs[z.notna()]
    z = z[z.notna()].to_numpy()
    if len(kept) == 0 or z.min() == z.max():
        return None
    X = _design(kept, x, y)
    beta, cov = logistic_fit(X, z)
    if beta[2] == 0 or kept[y].nunique() < 2:
        return None
    slope = -beta[1] / beta[2]
    if kept["seed"].nunique() >= MIN_BOOTSTRAP_SEEDS:
        rng = np.random.default_rng(seed)
        boots = seed_bootstrap(kept, lambda i: _slope(X[i], z[i]), n_boot, rng)
        boots = boots[np.isfinite(boots)]
        lo, hi = np.quantile(boots, [0.025, 0.975]) if len(boots) >= 10 else (np.nan, np.nan)
        interval = "seed bootstrap"
    else:
        gradient = np.array([0.0, -1 / beta[2], beta[1] / beta[2] ** 2])
        se = float(np.sqrt(max(gradient @ cov @ gradient, 0.0)))
        lo, hi = slope - 1.96 * se, slope + 1.96 * se
        interval = "delta method"
    predicted = (X @ beta) > 0
    return PlaneBoundary(
        edge=edge or region,
        n_runs=len(kept),
        share=float(z.mean()),
        slope=float(slope),
        slope_lo=float(lo),
        slope_hi=float(hi),
        intercept=float(-beta[0] / beta[2]),
        accuracy=float(np.mean(predicted == (z == 1))),
        interval=interval,
        coefficients=tuple(map(float, beta)),
    )


def edge_runs(runs: pd.DataFrame, edge: str, ridge: float) -> pd.DataFrame:
    """The runs one edge is fitted on (see `EDGES`)."""
    if edge == "benign_lower":
        return runs[runs["tau"] < ridge]
    if edge == "benign_upper":
        return runs[runs["tau"] >= ridge]
    return runs


#: The columns of a fitted edge (NaN where every run is on one side).
FIT_COLUMNS = tuple(
    f.name
    for f in dataclasses.fields(PlaneBoundary)
    if f.name not in ("edge", "n_runs", "coefficients")
)


def plane_boundaries(runs: pd.DataFrame, by: str | None = "n_st", **kwargs) -> pd.DataFrame:
    """Every edge of `EDGES`, for all runs and (if `by`) per value of `by` (a collapse test:
    the same coordinates should give the same boundary at every `n_st`). The ridge that splits
    the benign band is taken from all runs, so every group uses the same one."""
    groups = [("all", runs)]
    if by is not None and runs[by].nunique() > 1:
        groups += [(f"{by}={v:g}", g) for v, g in runs.groupby(by)]
    ridge = ridge_tau(runs)
    rows = []
    for name, group in groups:
        for edge, (region, _) in EDGES.items():
            fit = fit_plane_boundary(edge_runs(group, edge, ridge), region, edge=edge, **kwargs)
            base = dict(runs=name, ridge_tau=ridge)
            empty = dict.fromkeys(FIT_COLUMNS, np.nan) | dict(edge=edge, n_runs=len(group))
            rows.append(base | (fit.row() if fit else empty))
    return pd.DataFrame(rows)


#: What the map shows per run: the three regions, with harmful split by mechanism.
DISPLAY = {
    "harmful": ("#d62728", f"harmful (test error never below {harmful_error_text()})"),
    "degraded": ("#f4a261", "harmful at the end after an early-stopping peak (no correction)"),
    "benign": ("#1f77b4", "benign at the end"),
    "label_correction": ("#2ca02c", "label correction at early stopping"),
    "not_converged": ("#7f7f7f", "not converged"),
}


def display_region(runs: pd.DataFrame) -> pd.Series:
    """Each run's region for the map (`DISPLAY`): label correction first, then benign at the
    end, then harmful split into `degraded` (its best step beat the harmful error: an
    early-stopping peak that training then loses) and `harmful` (it never did)."""
    peak = rules.below(1.0 - runs["best_test_acc"], 1.0 - runs["harmful_level"])
    region = np.select(
        [
            runs["class"] == "label_correction",
            runs["end_class"] == "benign",
            runs["class"] == "not_converged",
            peak,
        ],
        ["label_correction", "benign", "not_converged", "degraded"],
        "harmful",
    )
    return pd.Series(region, index=runs.index)


def plane_map(
    runs: pd.DataFrame,
    x: str = "n_st_snr",
    y: str = "d_over_n",
    panel: str = "n_st",
    boundaries: pd.DataFrame | None = None,
    C: float | None = None,
    p_b: float | None = None,
    path=None,
):
    """The map of regions: each cell coloured by its most common `display_region`, one panel
    per value of `panel`. Fitted edges (from `plane_boundaries`, the panel's own rows) are
    drawn as lines, and `tau = C` (slope -2) dashed when `C` and `p_b` are given."""
    runs = runs.assign(region=display_region(runs))
    names = list(DISPLAY)
    panels = sorted(runs[panel].unique())
    fig, axes = plots._panels(len(panels), width=5.0, height=4.2, columns=len(panels))
    xs, ys = np.sort(runs[x].unique()), np.sort(runs[y].unique())
    xe, ye = plots._edges(xs, True), plots._edges(ys, True)
    cmap = ListedColormap([DISPLAY[n][0] for n in names])
    colours = {"benign_lower": "#7a0f10", "benign_upper": "#0b3d66", "label_correction": "#145214"}
    for ax, value in zip(axes, panels):
        cells = runs[runs[panel] == value]
        grid = np.full((len(ys), len(xs)), np.nan)
        for (xv, yv), group in cells.groupby([x, y]):
            i, j = np.argmin(abs(np.log(ys / yv))), np.argmin(abs(np.log(xs / xv)))
            grid[i, j] = names.index(group["region"].value_counts().index[0])
        ax.pcolormesh(
            xe, ye, np.ma.masked_invalid(grid), cmap=cmap, vmin=-0.5, vmax=len(names) - 0.5
        )
        line_x = np.geomspace(xe[0], xe[-1], 50)
        if boundaries is not None:
            own = boundaries[
                (boundaries["runs"] == f"{panel}={value:g}") & boundaries["slope"].notna()
            ]
            for _, b in own.iterrows():
                ax.plot(
                    line_x,
                    np.exp(b["intercept"]) * line_x ** b["slope"],
                    color=colours[b["edge"]],
                    lw=2,
                    label=f"{b['edge'].replace('_', ' ')} edge (fit)",
                )
        if C is not None and p_b is not None:
            ax.plot(line_x, C / (p_b**2 * line_x**2), "k--", lw=1.5, label=f"tau = {C:.3g}")
        ax.set(
            xscale="log",
            yscale="log",
            xlim=(xe[0], xe[-1]),
            ylim=(ye[0], ye[-1]),
            xlabel="n_st · snr  (data abundance)",
            ylabel="d / n_st  (over-parameterization)",
            title=f"{panel} = {value:g}",
        )
    shown = [n for n in names if (runs["region"] == n).any()]
    handles = [plots._patch(DISPLAY[n][0], DISPLAY[n][1]) for n in shown]
    fig.legend(
        handles=handles + axes[0].get_legend_handles_labels()[0],
        loc="outside lower center",
        ncols=2,
        frameon=False,
        fontsize=8,
    )
    fig.suptitle("Phase plane: harmful, benign at the end, label correction at early stopping")
    return plots.save(fig, path)


def tau_plane(runs: pd.DataFrame, C: float | None = None, path=None):
    """Every run in the `(tau, n_st·snr)` plane, coloured by `display_region` (the same data
    as `plane_map`, in the coordinates of Theorem 3.4)."""
    fig, axes = plots._panels(1, width=6.0, height=4.5, columns=1)
    ax = axes[0]
    region = display_region(runs)
    for name, (colour, label) in DISPLAY.items():
        mask = region == name
        if mask.any():
            ax.scatter(
                runs.loc[mask, "tau"],
                runs.loc[mask, "n_st_snr"],
                s=18,
                alpha=0.7,
                color=colour,
                label=label,
            )
    if C is not None:
        ax.axvline(C, color="black", ls="--", lw=1.5, label=f"tau = {C:.3g}")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="tau = n_st p_b² nu⁴ / (sigma_p⁴ d)",
        ylabel="n_st · snr",
        title="Runs in the (tau, n_st·snr) plane",
    )
    ax.legend(fontsize=7)
    return plots.save(fig, path)
