"""Graded maps of a two-axis study: what the student gains, not only which class it falls in.

For every cell of a two-axis grid (the phase plane `n_st·snr × d/n_st`, or any two axes that
vary independently in the study: `map_axes`) the seed means and seed standard errors of

- `gain_final`, `gain_best`: the student's test accuracy minus the teacher's at the last
  step and at its best step (the columns of summary.parquet),
- `label_correction_best`: the share of wrongly pseudo-labelled training points that get
  their true label at the best step,
- `best_time`: the best step in gradient-flow time `eta·t`,

are drawn as heatmaps, one row of panels per value of the other swept axes (several `n_st`,
a teacher switch, ...), with the cells' class edges drawn over them and `mean ± se` written
in each cell. The class panel prints its rule (`rules.classes_rule`) on the figure, and a
cell whose seed means lie within one seed standard error of a cutoff that decides its class
is drawn *undecided* (hatched grey) instead of in a class colour; a cell whose seeds split
equally between classes is drawn as a *tie* (`plots.TIE`).

`graded_cells` is the table behind the figure; `decisive_cells` ranks cells by how close
they sit to a cutoff (what `w2s check` reruns by default).
"""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap, LogNorm
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from w2s_jax.analysis import plots, rules
from w2s_jax.analysis.classes import CLASSES, class_rule, swept_columns
from w2s_jax.analysis.rules import FIT_MIN, LC_MIN
from w2s_jax.model.config import ConfigError

__all__ = [
    "QUANTITIES",
    "CUTOFFS",
    "Cutoff",
    "class_of",
    "CROSSED",
    "coverage",
    "map_axes",
    "slice_columns",
    "graded_cells",
    "with_gains",
    "decisive_cells",
    "graded_map",
    "UNDECIDED",
]

#: The graded quantities drawn: column -> (panel title, colour map, colour range or None).
QUANTITIES = {
    "gain_final": ("gain over the teacher, last step\n(test accuracy − teacher's)", "RdBu", None),
    "gain_best": ("gain over the teacher, best step\n(test accuracy − teacher's)", "RdBu", None),
    "label_correction_best": ("wrong pseudo-labels corrected, best step", "viridis", (0.0, 1.0)),
    "best_time": ("best step in gradient-flow time eta·t", "magma", None),
}
#: The label and colour of a cell within one seed standard error of a deciding cutoff.
UNDECIDED = ("undecided", "#bdbdbd")
#: The seed standard error below which a cell is never undecided (float noise of identical runs).
SE_FLOOR = 1e-12


@dataclasses.dataclass(frozen=True)
class Cutoff:
    """One comparison of the classification: `column` against `threshold(row)`; a run is on
    the upper side when `column >= threshold` (`fit`, `correction`) or `> threshold`, both up
    to `rules.ROUNDING`."""

    name: str
    column: str
    text: str

    def threshold(self, frame: pd.DataFrame) -> np.ndarray:
        if self.name == "fit":
            return np.full(len(frame), FIT_MIN)
        if self.name == "correction":
            return np.full(len(frame), LC_MIN)
        return rules.harmful_level(frame["p_h"])


#: The cutoffs of `classes.classify`, with the thresholds of `analysis.rules`.
CUTOFFS = (
    Cutoff("fit", "final_train_acc_pseudo", f"final train accuracy on pseudo-labels {FIT_MIN:g}"),
    Cutoff("harmful_end", "final_test_acc", f"final test error {rules.harmful_error_text()}"),
    Cutoff("harmful_best", "best_test_acc", f"best-step test error {rules.harmful_error_text()}"),
    Cutoff("correction", "label_correction_best", f"share corrected at the best step {LC_MIN:g}"),
)


def class_of(frame: pd.DataFrame, ok=None) -> np.ndarray:
    """The class `classes.classify` gives to rows holding its per-run columns
    (`final_train_acc_pseudo`, `final_test_acc`, `best_test_acc`, `label_correction_best`,
    `p_h`), here applied to seed means. `ok`: the rows whose runs finished (default all)."""
    return class_rule(frame, ok)[1]


#: The share of the grid of two axes' values that a study's cells must cover for the two to
#: count as swept against each other (crossed), so that a map may be drawn over them.
CROSSED = 0.75


def _rounded(values: pd.Series) -> pd.Series:
    """Numbers to six significant digits, so that float noise in derived coordinates does not
    make two cells of one grid value."""
    if not pd.api.types.is_numeric_dtype(values):
        return values
    table = {v: float(f"{v:.6g}") for v in values.unique()}
    return values.map(table)


def coverage(runs: pd.DataFrame, a: str, b: str) -> float:
    """The share of the grid of `a`'s and `b`'s values that the cells of `runs` occupy: 1 when
    the two are swept against each other, about `1/n` when one of them is a function of the
    other and of a third axis with `n` values (`n_st_snr` and `d_over_n` on a grid of `n_st`
    and `nu_norm` at one `d`), where a map over them would be mostly empty."""
    pairs = pd.DataFrame({a: _rounded(runs[a]), b: _rounded(runs[b])}).drop_duplicates()
    if not len(pairs):
        return 0.0
    return len(pairs) / (pairs[a].nunique() * pairs[b].nunique())


def map_axes(runs: pd.DataFrame, x: str | None = None, y: str | None = None) -> tuple[str, str]:
    """The two axes of the map: axes that vary independently in the study, i.e. whose values
    its cells cross (`coverage` at least `CROSSED`). The phase plane's `(n_st_snr, d_over_n)`
    when both vary and are crossed, else the first crossed pair of swept axes (`n_st` first,
    then the axes with the most values), else the pair of swept axes whose cells cover the
    most of their grid. Given one of `x`, `y`, the other is chosen the same way.

    Raises:
        ValueError: the study has fewer than two swept axes (the plane's coordinates of a
            study that sweeps only `n_st` vary, but along one line).
    """
    if x is not None and y is not None:
        return x, y
    plane = [c for c in ("n_st_snr", "d_over_n") if c in runs and runs[c].nunique() > 1]
    swept = [c for c in swept_columns(runs) if c not in ("p_e", "cell")]
    swept = [c for c in swept if pd.api.types.is_numeric_dtype(runs[c])]
    ranked = sorted(swept, key=lambda c: (c != "n_st", -runs[c].nunique()))
    pairs = [tuple(plane)] if len(plane) == 2 else []
    pairs += [(a, b) for i, a in enumerate(ranked) for b in ranked[i + 1 :]]
    given = x or y
    if given is not None:
        pairs = [(given, c) for c in dict.fromkeys([*plane, *ranked]) if c != given]
    crossed = [(a, b) for a, b in pairs if coverage(runs, a, b) >= CROSSED]
    swept_pairs = [(a, b) for a, b in pairs if b in ranked and (a in ranked or a == given)]
    if crossed:
        a, b = crossed[0]
    elif swept_pairs:
        a, b = max(swept_pairs, key=lambda p: coverage(runs, *p))  # the first of equals
    else:
        raise ValueError(
            f"a graded map needs two swept numeric axes; this study sweeps {ranked or 'none'}"
        )
    return (b, a) if y is not None and x is None else (a, b)


def slice_columns(runs: pd.DataFrame, x: str, y: str) -> list[str]:
    """The swept columns that split the map into rows of panels: those not fixed by `x`, `y`
    and the columns already chosen (so `d` and `sigma_p`, which the plane's coordinates
    resolve to, do not split it, while a second `n_st` or a teacher switch does)."""
    runs = _prepare(runs, x, y)
    keys: list[str] = []
    candidates = [c for c in swept_columns(runs) if c not in (x, y, "p_e", "cell")]
    for column in sorted(candidates, key=lambda c: runs[c].nunique()):
        spread = runs.groupby([x, y, *keys], dropna=False)[column].nunique(dropna=False)
        if (spread > 1).any():
            keys.append(column)
    return keys


def _prepare(runs: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    from w2s_jax.analysis.plane import snap

    coordinates = dict.fromkeys(c for c in (x, y, "n_st_snr", "d_over_n", "tau") if c in runs)
    runs = snap(runs, [c for c in coordinates if c != "cell" and (runs[c] > 0).all()])
    runs = with_gains(runs)
    if "best_time" not in runs:
        eta = runs["eta"].to_numpy(float) if "eta" in runs else 1.0
        runs = runs.assign(best_time=eta * runs["best_step"].to_numpy(float))
    return runs


def with_gains(runs: pd.DataFrame) -> pd.DataFrame:
    """`runs` with `gain_final` and `gain_best` as summary.parquet defines them: the test
    accuracy minus the teacher's (`weak_test_acc`), at the last and at the best step, for
    tables that do not carry them (`classes.classify` gives the same columns)."""
    weak = runs["weak_test_acc"].to_numpy(float)
    return runs.assign(
        gain_final=runs["final_test_acc"].to_numpy(float) - weak,
        gain_best=runs["best_test_acc"].to_numpy(float) - weak,
    )


def graded_cells(runs: pd.DataFrame, x: str | None = None, y: str | None = None) -> pd.DataFrame:
    """Per cell of the map: axis values, `<q>` (seed mean) and `<q>_se` (seed standard
    error; NaN with one seed) of every `QUANTITIES` column and every cutoff's column,
    `n_seeds`, `class` (the most common class over seeds, ties in `CLASSES` order), `tie`
    (two or more classes share the most seeds: the map draws the cell as a tie),
    `class_of_means`, `margin` (the least distance, in seed standard errors, of a seed mean
    to a cutoff that would change `class_of_means`), `nearest` (that cutoff) and
    `undecided` (`margin <= 1`).

    Args:
        runs: `classes.classify` rows.
        x: the horizontal axis (default `map_axes`).
        y: the vertical axis (default `map_axes`).
    """
    x, y = map_axes(runs, x, y)
    runs = _prepare(runs, x, y)
    return _cell_stats(runs, [x, y, *slice_columns(runs, x, y)])


def _cell_stats(runs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """`graded_cells` over the cells that `keys` identify (runs already `_prepare`d)."""
    columns = list(dict.fromkeys([*QUANTITIES, *(c.column for c in CUTOFFS)]))
    columns = [c for c in columns if c in runs]
    grouped = runs.groupby(keys, dropna=False, sort=True)
    mean = grouped[columns].mean()
    se = grouped[columns].std(ddof=1) / np.sqrt(grouped.size().to_numpy()[:, None])
    cells = mean.join(se.add_suffix("_se")).reset_index()
    cells["n_seeds"] = grouped.size().to_numpy()
    cells["p_h"] = grouped["p_h"].first().to_numpy()
    ok = grouped["status"].apply(lambda s: (s == "ok").mean() >= 0.5).to_numpy()
    cells["ok"] = ok

    def majority(s):
        counts = s.value_counts()
        top = counts[counts == counts.max()].index
        return next(c for c in CLASSES if c in top)

    def tied(s):
        counts = s.value_counts()
        return bool((counts == counts.max()).sum() > 1)

    cells["class"] = grouped["class"].apply(majority).to_numpy()
    cells["tie"] = grouped["class"].apply(tied).to_numpy(bool)
    own = class_of(cells, ok)
    cells["class_of_means"] = own
    margin = np.full(len(cells), np.inf)
    nearest = np.full(len(cells), "", dtype=object)
    for cutoff in CUTOFFS:
        if cutoff.column not in cells:
            continue
        value = cells[cutoff.column].to_numpy(float)
        spread = cells[f"{cutoff.column}_se"].to_numpy(float)
        threshold = cutoff.threshold(cells)
        # Move the mean just across the cutoff (beyond the rules' rounding): does the class
        # of the means change?
        if cutoff.name in ("fit", "correction"):
            upper = rules.at_least(value, threshold)
        else:
            upper = rules.below(1.0 - value, 1.0 - threshold)
        step = 2.0 * rules.ROUNDING
        across = np.where(upper, threshold - step, threshold + step)
        flipped = cells.assign(**{cutoff.column: across})
        matters = (class_of(flipped, ok) != own) & np.isfinite(value)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.abs(value - threshold) / spread
        z = np.where(np.isfinite(spread) & (spread > SE_FLOOR), z, np.inf)
        z = np.where(matters, z, np.inf)
        closer = z < margin
        margin, nearest = np.where(closer, z, margin), np.where(closer, cutoff.name, nearest)
    cells["margin"] = margin
    cells["nearest"] = nearest
    cells["undecided"] = margin <= 1.0
    return cells


def decisive_cells(runs: pd.DataFrame, n: int = 4) -> pd.DataFrame:
    """The `n` cells (rows of `classes.per_cell`-style keys with the sweep's `cell` index)
    nearest a class cutoff: least `margin` first; among cells of equal margin (e.g. seeds that
    agree exactly), the least distance of a seed mean to a deciding cutoff in its own units.
    Works on any study (one axis or more): cells are the sweep's `cell` index."""
    if "cell" not in runs:
        raise ValueError("decisive_cells needs the sweep's `cell` column")
    cells = _cell_stats(_prepare(runs, "cell", "cell"), ["cell"])
    distance = np.full(len(cells), np.inf)
    for cutoff in CUTOFFS:
        if cutoff.column in cells:
            gap = np.abs(cells[cutoff.column].to_numpy(float) - cutoff.threshold(cells))
            distance = np.fmin(distance, gap)
    cells["distance"] = distance
    order = cells.sort_values(["margin", "distance", "cell"], kind="stable")
    return order.head(n).reset_index(drop=True)


def _grid(frame: pd.DataFrame, x: str, y: str, xs, ys, column) -> np.ndarray:
    grid = np.full((len(ys), len(xs)), np.nan)
    for xv, yv, v in zip(frame[x], frame[y], frame[column]):
        grid[_nearest(ys, yv), _nearest(xs, xv)] = v
    return grid


def _nearest(values, v) -> int:
    return int(np.argmin(np.abs(np.asarray(values, float) - float(v))))


def _class_edges(ax, codes: np.ndarray, xe, ye):
    """Black lines on the cell borders where neighbouring cells differ in class."""
    rows, cols = codes.shape
    for i in range(rows):
        for j in range(cols):
            here = codes[i, j]
            right = codes[i, j + 1] if j + 1 < cols else -1
            above = codes[i + 1, j] if i + 1 < rows else -1
            if here >= 0 and right >= 0 and here != right:
                ax.plot([xe[j + 1]] * 2, [ye[i], ye[i + 1]], color="black", lw=1.6)
            if here >= 0 and above >= 0 and here != above:
                ax.plot([xe[j], xe[j + 1]], [ye[i + 1]] * 2, color="black", lw=1.6)


def _label(v: float, digits: int = 2) -> str:
    if not np.isfinite(v):
        return ""
    if abs(v) >= 100:
        return f"{v:.3g}"
    return f"{v:.{digits}f}"


#: The columns of the classified runs that a graded map reads.
_NEEDED = (
    "class",
    "status",
    "p_h",
    "weak_test_acc",
    "best_step",
    "best_test_acc",
    "final_test_acc",
    "final_train_acc_pseudo",
    "label_correction_best",
)


def graded_map(
    runs: pd.DataFrame,
    x: str | None = None,
    y: str | None = None,
    quantities: Sequence[str] = tuple(QUANTITIES),
    annotate: bool = True,
    title: str | None = None,
    path=None,
    *,
    trajectories: pd.DataFrame | None = None,
    ax=None,
    max_rows: int = plots.MAX_PANELS,
) -> Figure:
    """The class panel and one heatmap per graded quantity, one row per slice.

    Each heatmap shows the seed mean of its cell (`graded_cells`), written as `mean ± se` in
    the cell when `annotate`; black lines are the class edges (between cells of different
    class). The class panel colours each cell by its most common class, hatches undecided
    cells grey and cells whose seeds split equally between classes as ties (`plots.TIE`),
    and prints the classification rule beneath.

    Args:
        runs: `classes.classify` rows, or a sweep's summary with `trajectories`.
        x: the horizontal axis (default `map_axes`: of two axes that vary independently).
        y: the vertical axis (default `map_axes`).
        quantities: columns of `QUANTITIES` to draw.
        annotate: write `mean ± se` in every cell.
        title: the figure's title (its start; the seeds are appended).
        path: write `path.png` and `path.pdf`.
        trajectories: the sweep's trajectories; with them, `runs` may be the summary.
        ax: Axes to draw into instead of a new figure, one per panel: rows (slices) of
            `1 + len(quantities)` panels (as `fig.subplots(rows, 1 + len(quantities))` gives),
            or a single Axes for the class panel alone (`quantities=()`, one slice).
        max_rows: the most rows (values of the swept axes `x` and `y` leave free); more is
            refused (`plots.TooManyPanels`) with the axes to narrow.
    """
    who = "graded_map"
    runs = _runs_to_map(runs, trajectories, quantities, x, y, who)
    x, y = map_axes(runs, x, y)
    cells = graded_cells(runs, x, y)
    slices = slice_columns(runs, x, y)
    slice_rows = _slice_rows(cells, slices, max_rows, who)
    grid = _cell_grid(cells, x, y)
    ncol = 1 + len(quantities)
    fig, axes, own = _panel_axes(ax, len(slice_rows), ncol, who)
    ranges = _colour_ranges(cells, quantities)
    for panels, (key, frame) in zip(axes, slice_rows):
        label = _slice_label(slices, key)
        _draw_row(fig, panels, frame, grid, quantities, ranges, annotate, label)
    _legend_and_heading(fig, axes, own, cells, title, ncol)
    return plots.save(fig, path, legends_inside=own)


def _runs_to_map(
    runs, trajectories, quantities: Sequence[str], x: str | None, y: str | None, who: str
) -> pd.DataFrame:
    """The classified runs (`plots._classified`), once every quantity is one of `QUANTITIES`
    and each axis given is a numeric column of the runs; refused with `ConfigError`
    otherwise."""
    runs = plots._classified(runs, trajectories, who, need=_NEEDED)
    unknown = [q for q in quantities if q not in QUANTITIES]
    if unknown:
        raise ConfigError(
            f"{who}: quantities {', '.join(map(repr, unknown))} are not among "
            f"{', '.join(QUANTITIES)}"
        )
    for name, flag in ((x, "x"), (y, "y")):
        if name is not None:
            plots._axis(runs, name, flag, who)
    return runs


def _slice_rows(cells: pd.DataFrame, slices: list[str], max_rows: int, who: str) -> list:
    """The rows of panels: `(value of the slice columns, its cells)` per slice, sorted, or
    one row of all cells when nothing slices the map; more than `max_rows` is refused
    (`plots.TooManyPanels`)."""
    slice_rows = [("", cells)] if not slices else list(cells.groupby(slices, sort=True))
    if len(slice_rows) > max_rows:
        raise plots._too_many(who, len(slice_rows), max_rows, slices, cells, what="rows of panels")
    return slice_rows


@dataclasses.dataclass(frozen=True)
class _CellGrid:
    """The map's cells on its two axes `x` and `y`: their sorted values `xs` and `ys`, whether
    each axis is drawn on a log scale, and the cell borders `xe` and `ye` (one more than the
    values)."""

    x: str
    y: str
    xs: np.ndarray
    ys: np.ndarray
    xlog: bool
    ylog: bool
    xe: np.ndarray
    ye: np.ndarray

    def values(self, frame: pd.DataFrame, column: str) -> np.ndarray:
        """`column` of the cells in `frame` as a `(len(ys), len(xs))` array; NaN where no
        cell of `frame` lies."""
        return _grid(frame, self.x, self.y, self.xs, self.ys, column)

    def centre(self, i: int, j: int) -> tuple[float, float]:
        """The centre of cell `(i, j)` (row `i` of `ys`, column `j` of `xs`), geometric on a
        log axis."""
        xe, ye = self.xe, self.ye
        cx = np.sqrt(xe[j] * xe[j + 1]) if self.xlog else (xe[j] + xe[j + 1]) / 2
        cy = np.sqrt(ye[i] * ye[i + 1]) if self.ylog else (ye[i] + ye[i + 1]) / 2
        return cx, cy


def _cell_grid(cells: pd.DataFrame, x: str, y: str) -> _CellGrid:
    """The grid of every value of `x` and `y` that a cell of the map takes, shared by all its
    rows of panels."""
    xs, ys = np.sort(cells[x].unique()), np.sort(cells[y].unique())
    xlog, ylog = plots._is_log(xs), plots._is_log(ys)
    return _CellGrid(x, y, xs, ys, xlog, ylog, plots._edges(xs, xlog), plots._edges(ys, ylog))


def _panel_axes(ax, rows: int, ncol: int, who: str) -> tuple[Figure, np.ndarray, bool]:
    """`(figure, axes, own)`: the Axes of `rows` rows of `ncol` panels as a `(rows, ncol)`
    array, in a new figure (`own`) when `ax` is None, else the caller's (`plots._target`)."""
    if ax is None:
        fig = Figure(figsize=(3.9 * ncol, 3.5 * rows + 1.2), layout="constrained")
        return fig, fig.subplots(rows, ncol, squeeze=False), True
    fig, flat, own = plots._target(ax, rows * ncol, who, f"{rows} row(s) of {ncol} panels")
    return fig, np.asarray(flat, dtype=object).reshape(rows, ncol), own


def _colour_ranges(cells: pd.DataFrame, quantities: Sequence[str]) -> dict:
    """Each quantity's colour range `(lo, hi)`, shared by all rows: the gains diverge from
    white at no gain, over one range symmetric about 0 for both gains; a quantity without a
    fixed range in `QUANTITIES` spans its finite positive cell means."""
    ranges = {}
    for q in quantities:
        lo_hi = QUANTITIES[q][2]
        if q.startswith("gain"):
            top = np.nanmax(np.abs(cells[[c for c in QUANTITIES if c.startswith("gain")]]))
            lo_hi = (-max(top, 1e-3), max(top, 1e-3))
        elif lo_hi is None:
            values = cells[q].to_numpy(float)
            values = values[np.isfinite(values) & (values > 0)]
            lo_hi = (values.min(), values.max()) if len(values) else (1e-3, 1.0)
        ranges[q] = lo_hi
    return ranges


def _slice_label(slices: list[str], key) -> str:
    """`column = value` of each slice column for a row's panel titles ('' with no slices)."""
    key = key if isinstance(key, tuple) else (key,)
    return ", ".join(f"{k} = {plots._fmt(v)}" for k, v in zip(slices, key))


def _draw_row(
    fig: Figure,
    panels,
    frame: pd.DataFrame,
    grid: _CellGrid,
    quantities: Sequence[str],
    ranges: dict,
    annotate: bool,
    label: str,
) -> None:
    """One row of panels for the cells in `frame`: the class panel, then one heatmap per
    quantity, all on the grid's scales and limits."""
    codes = _class_codes(frame, grid)
    _class_panel(panels[0], frame, grid, codes, label)
    for q, ax in zip(quantities, panels[1:]):
        _quantity_panel(fig, ax, frame, grid, codes, q, ranges[q], annotate, label)
    for ax in panels:
        if grid.xlog:
            ax.set_xscale("log")
        if grid.ylog:
            ax.set_yscale("log")
        ax.set(
            xlim=(grid.xe[0], grid.xe[-1]),
            ylim=(grid.ye[0], grid.ye[-1]),
            xlabel=grid.x,
            ylabel=grid.y,
        )


def _class_codes(frame: pd.DataFrame, grid: _CellGrid) -> np.ndarray:
    """Each cell's class as an integer array on the grid: its index in `CLASSES`, or
    `len(CLASSES)` for a tie (its own code, so the class edges run around a tie as around a
    class), and -1 where no cell lies."""
    names = list(CLASSES)
    code = [len(names) if t else names.index(c) for c, t in zip(frame["class"], frame["tie"])]
    codes = grid.values(frame.assign(code=code), "code")
    return np.where(np.isfinite(codes), codes, -1).astype(int)


def _class_panel(ax, frame: pd.DataFrame, grid: _CellGrid, codes: np.ndarray, label: str):
    """The class panel: each cell in its class colour, undecided cells hatched grey, ties
    drawn as `plots.TIE`, and the class edges."""
    names = list(CLASSES)
    cmap = ListedColormap([plots.CLASS_COLORS[c] for c in names])
    undecided = grid.values(frame.assign(u=frame["undecided"].astype(float)), "u")
    tie = (codes == len(names)).astype(float)
    undecided = np.where(tie == 1, 0.0, undecided)
    shown = np.where((undecided == 1) | (tie == 1), np.nan, np.where(codes >= 0, codes, np.nan))
    xe, ye = grid.xe, grid.ye
    ax.pcolormesh(xe, ye, np.ma.masked_invalid(shown), cmap=cmap, vmin=-0.5, vmax=len(names) - 0.5)
    hatch = np.ma.masked_where(undecided != 1, np.zeros_like(undecided))
    ax.pcolor(
        xe, ye, hatch, cmap=ListedColormap([UNDECIDED[1]]), hatch="///", edgecolor="white", lw=0.0
    )
    plots._draw_ties(ax, xe, ye, tie)
    _class_edges(ax, codes, xe, ye)
    ax.set_title(f"class{' · ' + label if label else ''}", fontsize=9)


def _quantity_panel(
    fig: Figure,
    ax,
    frame: pd.DataFrame,
    grid: _CellGrid,
    codes: np.ndarray,
    q: str,
    colour_range: tuple,
    annotate: bool,
    label: str,
) -> None:
    """The heatmap of quantity `q`'s seed means (`best_time` on a log colour scale), with the
    class edges, `mean ± se` in each cell when `annotate`, and a colour bar."""
    means = grid.values(frame, q)
    lo, hi = colour_range
    shown = np.ma.masked_invalid(means)
    if q == "best_time":
        norm = LogNorm(vmin=lo, vmax=max(hi, lo * 1.0001))
        mesh = ax.pcolormesh(grid.xe, grid.ye, shown, cmap=QUANTITIES[q][1], norm=norm)
    else:
        mesh = ax.pcolormesh(grid.xe, grid.ye, shown, cmap=QUANTITIES[q][1], vmin=lo, vmax=hi)
    _class_edges(ax, codes, grid.xe, grid.ye)
    if annotate:
        _write_mean_and_se(ax, grid, means, grid.values(frame, f"{q}_se"))
    fig.colorbar(mesh, ax=ax, shrink=0.85)
    ax.set_title(QUANTITIES[q][0] + (f"\n{label}" if label else ""), fontsize=9)


def _write_mean_and_se(ax, grid: _CellGrid, means: np.ndarray, spread: np.ndarray) -> None:
    """`mean` and, beneath it, `±se` (when the standard error is finite) at the centre of every
    cell that has a mean."""
    for i in range(len(grid.ys)):
        for j in range(len(grid.xs)):
            if not np.isfinite(means[i, j]):
                continue
            text = _label(means[i, j])
            if np.isfinite(spread[i, j]):
                text += f"\n±{_label(spread[i, j])}"
            cx, cy = grid.centre(i, j)
            ax.text(
                cx,
                cy,
                text,
                ha="center",
                va="center",
                fontsize=5.5,
                color="black",
                bbox=dict(facecolor="white", alpha=0.55, lw=0, pad=0.4),
            )


def _legend_and_heading(
    fig: Figure, axes: np.ndarray, own: bool, cells: pd.DataFrame, title: str | None, ncol: int
) -> None:
    """The legend (the classes drawn, tie, undecided, class edge) and, on a figure built here,
    the classification rule as the legend's title and the heading with the seed counts; on
    the caller's Axes, a small legend in the first of them."""
    handles = _legend_handles(cells)
    if own:
        rule = "Classes (most common over seeds): " + rules.classes_rule().replace("`", "")
        plots._legend(
            fig,
            axes.ravel(),
            own,
            handles,
            ncols=min(len(handles), 4),
            fontsize=8,
            title="\n".join(textwrap.wrap(rule, 40 * ncol)),
            title_fontsize=7.5,
        )
        fig.suptitle(_heading(cells, title))
    else:
        plots._legend(fig, axes.ravel(), own, handles, fontsize=6)


def _legend_handles(cells: pd.DataFrame) -> list:
    """One patch per class that some untied cell takes (in `CLASSES` order), the tie when a
    cell is tied, the undecided hatch and the class edge."""
    present = [c for c in CLASSES if (cells["class"][~cells["tie"]] == c).any()]
    handles = [plots._patch(plots.CLASS_COLORS[c], c.replace("_", " ")) for c in present]
    if cells["tie"].any():
        handles.append(plots._tie_handle())
    handles.append(
        Patch(
            facecolor=UNDECIDED[1],
            hatch="///",
            edgecolor="white",
            label="undecided: a seed mean within one seed SE of a deciding cutoff",
        )
    )
    handles.append(_edge_handle())
    return handles


def _heading(cells: pd.DataFrame, title: str | None) -> str:
    """The figure's title: `title` (default 'Graded map') and the number of seeds per cell."""
    lo, hi = int(cells["n_seeds"].min()), int(cells["n_seeds"].max())
    seeds = f"{lo} seed{'s' if hi > 1 else ''}" if lo == hi else f"{lo}–{hi} seeds"
    return (title or "Graded map") + f": seed mean (± seed standard error, {seeds}) per cell"


def _edge_handle():
    from matplotlib.lines import Line2D

    return Line2D([], [], color="black", lw=1.6, label="class edge (cells of different class)")
