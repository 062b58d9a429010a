"""Figures of a sweep: phase diagram, collapse against tau, trajectories, early-stopping
window map, and signal versus noise components over time.

Every function takes the runs of `w2s_jax.analysis.classes.classify` (or a sweep's summary
with `trajectories=`, which it then classifies itself; the trajectory figures take the
trajectories table), checks them and names what is missing, and returns a
`matplotlib.figure.Figure`; given `path`, it also writes `path.png` and `path.pdf`. With `ax=`
it draws into the caller's Axes (one per panel) and returns their figure; without, it builds
its own figure, without pyplot (no global state, no GUI backend), so it works headless and in
threads.

The legend of a figure built here lies inside its canvas, so a plain `fig.savefig` keeps it
whole; on the caller's Axes it goes inside the first one. A figure that would need more panels
(or curves) than its limit is refused with `TooManyPanels`, which names the axes to narrow,
never cut short. A cell whose seeds split equally between classes is drawn as a tie (`TIE`),
not in the colour of whichever class comes first.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from w2s_jax.analysis.classes import (
    CLASSES,
    classify,
    parameter_columns,
    per_cell,
    swept_columns,
)
from w2s_jax.model.config import ConfigError
from w2s_jax.model.theory import THEORY_EXPONENTS
from w2s_jax.model.theory import tau as tau_of

__all__ = [
    "phase_diagram",
    "collapse",
    "trajectories",
    "window_map",
    "signal_noise",
    "save",
    "CLASS_COLORS",
    "TIE",
    "MAX_PANELS",
    "MAX_CURVES",
    "TooManyPanels",
    "fit_legends",
]

CLASS_COLORS = {
    "harmful": "#d62728",
    "benign": "#1f77b4",
    "label_correction": "#2ca02c",
    "not_converged": "#7f7f7f",
}
#: How a cell whose seeds split equally between two or more classes is drawn:
#: label, face colour, hatch, hatch colour.
TIE = ("tie", "#f3e3a0", "xx", "#8a6d00")
#: The most panels a figure draws unless told otherwise (`max_panels=`).
MAX_PANELS = 12
#: The most curves (slices of the grid, each named in the legend) unless told otherwise
#: (`max_curves=`).
MAX_CURVES = 24
#: Resolution of the PNG files (the README's figures use a lower one).
DPI = 150
_CLASSIFY = "`w2s_jax.analysis.classes.classify(summary, trajectories)`"
_TRAJECTORIES = "pass the sweep's trajectories table (`w2s.load_results(...).trajectories`)"


class TooManyPanels(ConfigError):
    """A figure would need more panels (or curves) than its limit (`max_panels`,
    `max_curves`); the message names the axes to narrow."""


@contextlib.contextmanager
def _quiet():
    """Hide the FutureWarnings that seaborn 0.13 raises under pandas 3 (not the user's doing)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"seaborn(\..*)?")
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"pandas(\..*)?")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"seaborn(\..*)?")
        yield


def _sns():
    with _quiet():
        import seaborn as sns
    return sns


def save(fig: Figure, path: str | Path | None, *, legends_inside: bool = True) -> Figure:
    """Write `fig` to `path.png` (at `DPI`) and `path.pdf` when `path` is given.

    With `legends_inside` (the default, for figures built here) the figure's legends are first
    made to fit its canvas (`fit_legends`), whether or not `path` is given."""
    if legends_inside:
        fit_legends(fig)
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        FigureCanvasAgg(fig)
        stem = path.with_suffix("") if path.suffix in (".png", ".pdf") else path
        fig.savefig(
            stem.with_suffix(".png"), dpi=DPI, bbox_inches="tight", metadata={"Software": None}
        )
        # The layout is computed: the PDF keeps it rather than computing it again; the
        # figure handed back lays itself out as before.
        engine = fig.get_layout_engine()
        fig.set_layout_engine("none")
        fig.savefig(stem.with_suffix(".pdf"), bbox_inches="tight", metadata={"CreationDate": None})
        fig.set_layout_engine(engine)
    return fig


def fit_legends(fig: Figure, pad: float = 2.0) -> Figure:
    """Make every figure-level legend of `fig` lie inside its canvas: fewer columns where one
    is wider than the figure, more where it is taller, and a larger figure where that is not
    enough (the layout engine then makes room for it). `pad`: margin in pixels."""
    if not fig.legends:
        return fig
    canvas = FigureCanvasAgg(fig)
    for _ in range(8):
        canvas.draw()
        renderer = canvas.get_renderer()
        width, height = fig.get_size_inches()
        box, dpi = fig.bbox, fig.dpi
        changed = False
        for legend in fig.legends:
            bb = legend.get_window_extent(renderer)
            inside = (
                bb.x0 >= box.x0 - 0.5
                and bb.x1 <= box.x1 + 0.5
                and bb.y0 >= box.y0 - 0.5
                and bb.y1 <= box.y1 + 0.5
            )
            if inside:
                continue
            changed = True
            entries = max(len(legend.legend_handles), 1)
            ncols = max(int(getattr(legend, "_ncols", 1)), 1)
            recipe = getattr(legend, "_w2s_recipe", None)
            if bb.width > box.width - 2 * pad and ncols > 1 and recipe is not None:
                fewer = min(max(int(ncols * (box.width - 2 * pad) / bb.width), 1), ncols - 1)
                _relegend(fig, legend, fewer)
                # The rows this adds need room beneath the panels: grow the figure by them.
                added = bb.height * (math.ceil(entries / fewer) / math.ceil(entries / ncols) - 1)
                fig.set_size_inches(width, height + added / dpi)
            elif bb.width > box.width - 2 * pad:
                fig.set_size_inches((bb.width + 4 * pad) / dpi + 0.2, height)
            elif bb.height > box.height - 2 * pad and ncols < entries and recipe is not None:
                more = min(
                    max(ncols * math.ceil(bb.height / (box.height - 2 * pad)), ncols + 1), entries
                )
                _relegend(fig, legend, more)
                fig.set_size_inches(width + bb.width * (more / ncols - 1) / dpi, height)
            else:
                over_x = max(box.x0 - bb.x0, bb.x1 - box.x1, 0.0)
                over_y = max(box.y0 - bb.y0, bb.y1 - box.y1, 0.0)
                fig.set_size_inches(
                    width + 2 * (over_x + pad) / dpi, height + 2 * (over_y + pad) / dpi
                )
            break  # lay out again before judging the next legend
        if not changed:
            return fig
    return fig


def _relegend(fig: Figure, legend, ncols: int):
    """Replace a legend that `_legend` made with the same one in `ncols` columns (matplotlib
    lays a legend's entries out once, when it is made)."""
    handles, labels, kw = legend._w2s_recipe
    legend.remove()
    kw = {**kw, "ncols": ncols}
    new = fig.legend(handles, labels, **kw)
    new._w2s_recipe = (handles, labels, kw)
    return new


def _panels(n: int, width: float = 4.2, height: float = 3.4, columns: int = 4):
    columns = min(columns, max(n, 1))
    rows = -(-max(n, 1) // columns)
    fig = Figure(figsize=(width * columns, height * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def _figure_of(ax: Axes) -> Figure:
    try:
        return ax.get_figure(root=True)
    except TypeError:  # matplotlib < 3.10
        return ax.figure


def _target(ax, n: int, who: str, what: str, **panels) -> tuple[Figure, list, bool]:
    """`(figure, axes, own)`: a new figure of `n` panels when `ax` is None, else the caller's
    Axes (an Axes, or a sequence or array of them, one per panel)."""
    if ax is None:
        fig, axes = _panels(n, **panels)
        return fig, list(axes), True
    axes = list(np.ravel(np.asarray(ax, dtype=object)))
    if not all(isinstance(a, Axes) for a in axes):
        raise ConfigError(f"{who}: ax= takes matplotlib Axes, got {type(ax).__name__}")
    if len(axes) != n:
        raise ConfigError(f"{who}: ax= takes {n} Axes ({what}), got {len(axes)}")
    return _figure_of(axes[0]), axes, False


def _legend(fig: Figure, axes, own: bool, handles, labels=None, **kw):
    """The figure's legend: beneath (or beside) the panels of a figure built here; inside the
    first of the caller's Axes otherwise (nothing of theirs is moved)."""
    if labels is None:
        labels = [h.get_label() for h in handles]
    if own:
        kw.setdefault("loc", "outside lower center")
        kw.setdefault("ncols", len(labels))
        kw.setdefault("frameon", False)
        legend = fig.legend(handles, labels, **kw)
        legend._w2s_recipe = (list(handles), list(labels), kw)  # for `fit_legends`
        return legend
    kw.pop("ncols", None)
    kw.pop("loc", None)
    kw.setdefault("fontsize", 7)
    return axes[0].legend(handles, labels, loc="best", framealpha=0.85, **kw)


def _names(columns: Sequence[str]) -> str:
    return ", ".join(f"`{c}`" for c in columns)


def _require(frame, columns: Sequence[str], who: str, source: str) -> None:
    """Refuse a table that is not a DataFrame, has no rows or lacks `columns`."""
    if not isinstance(frame, pd.DataFrame):
        raise ConfigError(f"{who}: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame]
    if missing:
        raise ConfigError(f"{who}: the table lacks {_names(missing)}; {source}")
    if not len(frame):
        raise ConfigError(f"{who}: the table has no rows")


def _classified(runs, trajectories, who: str, need: Sequence[str] = ()) -> pd.DataFrame:
    """The classified runs: `runs` as given when it has `class`, else `classify(runs,
    trajectories)`; refused with what to call when neither works."""
    if not isinstance(runs, pd.DataFrame):
        raise ConfigError(f"{who}: expected a pandas DataFrame of runs, got {type(runs).__name__}")
    if "class" not in runs:
        if trajectories is not None:
            runs = classify(runs, trajectories)
        elif "step" in runs:
            raise ConfigError(
                f"{who}: got a trajectories table (one row a recorded step), not runs: pass "
                f"the rows of {_CLASSIFY}, or the summary with trajectories="
            )
        else:
            raise ConfigError(
                f"{who}: the runs have no `class` column (a summary, not classified runs): "
                f"call {_CLASSIFY} first, or pass trajectories= and {who} classifies them"
            )
    _require(runs, need, who, f"the classified runs of {_CLASSIFY} have them")
    return runs


def _axis(frame: pd.DataFrame, name: str, flag: str, who: str) -> None:
    """Refuse an axis that is not a numeric column of `frame`, naming the ones that vary."""
    if name not in frame:
        varying = [c for c in swept_columns(frame) if c not in ("p_e", "cell")]
        varying += [
            c for c in ("tau", "n_st_snr", "d_over_n") if c in frame and frame[c].nunique() > 1
        ]
        raise ConfigError(
            f"{who}: {flag}={name!r} is not a column of the runs "
            f"(columns that vary: {', '.join(varying) or 'none'})"
        )
    if not pd.api.types.is_numeric_dtype(frame[name]):
        raise ConfigError(f"{who}: {flag}={name!r} is not a numeric column")


def _other_axes(frame: pd.DataFrame, used: Sequence[str]) -> list[str]:
    """The swept columns that still vary once `used` (and the columns already taken) are
    fixed, fewest values first: they split a figure into panels. Columns that `used`
    determine (`d` and `sigma_p` on a plane swept in `n_st_snr` and `d_over_n`) split
    nothing."""
    keys: list[str] = []
    candidates = [c for c in swept_columns(frame) if c not in used and c not in ("p_e", "cell")]
    for column in sorted(candidates, key=lambda c: frame[c].nunique(dropna=False)):
        spread = frame.groupby([*used, *keys], dropna=False)[column].nunique(dropna=False)
        if (spread > 1).any():
            keys.append(column)
    return keys


def _too_many(
    who: str, n: int, limit: int, others: Sequence[str], frame, what="panels", flag="max_panels"
):
    example = f"runs[runs[{others[0]!r}] == {_fmt(np.sort(frame[others[0]].unique())[0])}]"
    return TooManyPanels(
        f"{who}: {n} {what} (one per value of {' × '.join(others)}) exceed the limit of "
        f"{limit}: narrow the runs to fewer values of {', '.join(others)} (e.g. {example}) "
        f"or pass {flag}={n}"
    )


def _slices(
    cells: pd.DataFrame,
    used: Sequence[str],
    who: str,
    limit: int,
    what: str = "panels",
    flag: str = "max_panels",
):
    """Split cells by the axes that `used` leaves free: [(title, frame), ...]; more than
    `limit` is refused (`TooManyPanels`)."""
    others = _other_axes(cells, used)
    if not others:
        return [("", cells)]
    groups = list(cells.groupby(others, sort=True, dropna=False))
    if len(groups) > limit:
        raise _too_many(who, len(groups), limit, others, cells, what, flag)
    out = []
    for key, frame in groups:
        key = key if isinstance(key, tuple) else (key,)
        out.append((", ".join(f"{k}={_fmt(v)}" for k, v in zip(others, key)), frame))
    return out


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, (float, np.floating, int, np.integer)) else str(v)


def _edges(values: np.ndarray, log: bool) -> np.ndarray:
    """Cell edges around sorted grid values (geometric midpoints on a log axis)."""
    v = np.log(values) if log else values.astype(float)
    if len(v) == 1:
        mid = np.array([v[0] - 0.5, v[0] + 0.5]) if not log else np.array([v[0] - 0.3, v[0] + 0.3])
    else:
        inner = (v[1:] + v[:-1]) / 2
        mid = np.r_[2 * v[0] - inner[0], inner, 2 * v[-1] - inner[-1]]
    return np.exp(mid) if log else mid


def _is_log(values) -> bool:
    values = np.asarray(values, dtype=float)
    return bool(np.all(values > 0) and values.max() / values.min() >= 4)


def _tau_line(ax, frame: pd.DataFrame, x: str, y: str, C: float, xlog: bool, ylog: bool) -> bool:
    """Draw tau = C in the (x, y) plane at the slice's other parameter values; False where
    it cannot be drawn (`x` is not a factor of tau, or a factor is missing)."""
    if x not in THEORY_EXPONENTS or not all(k in frame for k in THEORY_EXPONENTS):
        return False
    fixed = {k: float(frame[k].iloc[0]) for k in THEORY_EXPONENTS}
    ys = frame[y].astype(float).unique()
    lo, hi = _edges(np.sort(ys), ylog)[[0, -1]]
    grid = np.geomspace(lo, hi, 200) if ylog else np.linspace(lo, hi, 200)
    base = tau_of(*(1.0 if k == x else (grid if k == y else fixed[k]) for k in THEORY_EXPONENTS))
    # An axis outside tau (batch_size, ...) leaves the line vertical: broadcast it.
    xs = np.broadcast_to((C / base) ** (1.0 / THEORY_EXPONENTS[x]), grid.shape)
    ax.plot(xs, grid, color="black", lw=2, ls="--", label=f"theory: tau = {C:.3g}")
    return True


def _majority(shares: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`(code, tie)` of rows of class shares: the index of the most common class, and whether
    two or more classes share the top (then `code` is NaN)."""
    top = shares.max(axis=1, keepdims=True)
    tie = (np.isclose(shares, top, rtol=0, atol=1e-9) & (top > 0)).sum(axis=1) > 1
    return np.where(tie, np.nan, shares.argmax(axis=1).astype(float)), tie


def _draw_ties(ax, xe, ye, tie: np.ndarray) -> None:
    """Hatch the cells where `tie` is 1 in the tie style (nothing where there is none)."""
    if not np.any(tie == 1):
        return
    ax.pcolor(
        xe,
        ye,
        np.ma.masked_where(tie != 1, np.zeros_like(tie, dtype=float)),
        cmap=ListedColormap([TIE[1]]),
        hatch=TIE[2],
        edgecolor=TIE[3],
        lw=0.0,
    )


def _tie_handle(label: str = "tie: seeds split equally between classes"):
    """The legend entry of a tie cell."""
    from matplotlib.patches import Patch

    return Patch(facecolor=TIE[1], hatch=TIE[2], edgecolor=TIE[3], label=label)


def phase_diagram(
    runs: pd.DataFrame,
    x: str = "n_st",
    y: str = "p_b",
    C: float | None = None,
    value: str = "class",
    path=None,
    *,
    trajectories: pd.DataFrame | None = None,
    ax=None,
    max_panels: int = MAX_PANELS,
) -> Figure:
    """Phase diagram over axes `x` and `y`, one panel per value of the swept axes they leave
    free.

    Args:
        runs: `classes.classify` rows, or a sweep's summary with `trajectories`.
        x: a numeric column of the runs (a swept parameter or a theory coordinate).
        y: another such column.
        C: fitted constant; the theory's boundary `tau = C` is drawn as a dashed line where
            `x` is a factor of tau.
        value: `"class"` colours each cell by its most common class over seeds (a tie between
            classes is hatched, `TIE`); `"benign"` by the share of seeds whose end state is
            benign.
        path: write `path.png` and `path.pdf`.
        trajectories: the sweep's trajectories; with them, `runs` may be the summary.
        ax: draw into this Axes (or one Axes per panel) instead of a new figure.
        max_panels: the most panels; more is refused (`TooManyPanels`) with the axes to narrow.

    Returns:
        The figure drawn into.
    """
    who = "phase_diagram"
    if value not in ("class", "benign"):
        raise ConfigError(f"{who}: value must be 'class' or 'benign', got {value!r}")
    runs = _classified(runs, trajectories, who, need=("end_class",))
    for name, flag in ((x, "x"), (y, "y")):
        _axis(runs, name, flag, who)
    if x == y:
        raise ConfigError(f"{who}: x and y are both {x!r}; give two different axes")
    cells = per_cell(runs)
    slices = _slices(cells, (x, y), who, max_panels)
    fig, axes, own = _target(
        ax, len(slices), who, "one per panel: a value of the axes x and y leave free"
    )
    xlog, ylog = _is_log(cells[x]), _is_log(cells[y])
    xs, ys = np.sort(cells[x].unique()), np.sort(cells[y].unique())
    xe, ye = _edges(xs, xlog), _edges(ys, ylog)
    ties = line = False
    for panel, (title, frame) in zip(axes, slices):
        tie = np.zeros(len(frame))
        if value == "class":
            code, tie = _majority(frame[[f"p_{c}" for c in CLASSES]].to_numpy(float))
            cmap = ListedColormap([CLASS_COLORS[c] for c in CLASSES])
            vmin, vmax = -0.5, len(CLASSES) - 0.5
        else:
            code = (
                frame["p_benign_end"].to_numpy()
                if "p_benign_end" in frame
                else (frame["p_benign"] + frame["p_label_correction"]).to_numpy()
            )
            cmap, vmin, vmax = "RdBu", 0.0, 1.0
        grid = np.full((len(ys), len(xs)), np.nan)
        tied = np.zeros_like(grid)
        for xv, yv, c, t in zip(frame[x], frame[y], code, tie):
            i, j = np.searchsorted(ys, yv), np.searchsorted(xs, xv)
            grid[i, j], tied[i, j] = c, float(t)
        mesh = panel.pcolormesh(xe, ye, np.ma.masked_invalid(grid), cmap=cmap, vmin=vmin, vmax=vmax)
        _draw_ties(panel, xe, ye, tied)
        ties = ties or bool(tied.any())
        if xlog:
            panel.set_xscale("log")
        if ylog:
            panel.set_yscale("log")
        if C is not None:
            line = _tau_line(panel, frame, x, y, C, xlog, ylog) or line
        panel.set(xlim=(xe[0], xe[-1]), ylim=(ye[0], ye[-1]), xlabel=x, ylabel=y)
        panel.set_title(title or ("" if own else f"Phase diagram over {x} and {y}"))
    handles = (
        [_patch(CLASS_COLORS[c], c.replace("_", " ")) for c in CLASSES] if value == "class" else []
    )
    if ties:
        handles.append(_tie_handle("tie (seeds split equally)"))
    if value != "class":
        fig.colorbar(mesh, ax=list(axes), label="share of seeds benign")
    if line:
        handles.append(_line(f"theory: tau = {C:.3g}"))
    if handles:
        _legend(fig, axes, own, handles)
    if own:
        fig.suptitle(f"Phase diagram over {x} and {y}")
    return save(fig, path, legends_inside=own)


def _patch(color, label):
    from matplotlib.patches import Patch

    return Patch(facecolor=color, label=label)


def _line(label):
    from matplotlib.lines import Line2D

    return Line2D([], [], color="black", lw=2, ls="--", label=label)


_RULES = {
    "end": (("benign",), "share of seeds benign at the end"),
    "class": (("benign", "label_correction"), "share benign or label-correcting"),
    "label_correction": (("label_correction",), "share label-correcting"),
}


def collapse(
    runs: pd.DataFrame,
    C: float | None = None,
    along: str = "n_st",
    rule: str = "end",
    path=None,
    *,
    trajectories: pd.DataFrame | None = None,
    ax=None,
    max_curves: int = MAX_CURVES,
) -> Figure:
    """Benign share and test accuracy against `tau`, every slice of the grid on one axis.

    If Theorem 3.4 is right, the curves of all slices line up on a single curve in `tau`.

    Args:
        runs: `classes.classify` rows, or a sweep's summary with `trajectories`.
        C: fitted constant, drawn as a dashed vertical line.
        along: the axis each curve runs along; the swept axes it leaves free make the
            curves (at most `max_curves`; more is refused with `TooManyPanels`).
        rule: the benign indicator as in `fit.benign_outcome` ("end", "class" or
            "label_correction").
        path: write `path.png` and `path.pdf`.
        trajectories: the sweep's trajectories; with them, `runs` may be the summary.
        ax: one Axes (the benign share only) or three (benign share, final and best test
            accuracy) to draw into instead of a new figure.
    """
    who = "collapse"
    if rule not in _RULES:
        raise ConfigError(f"{who}: rule must be one of {', '.join(_RULES)}, got {rule!r}")
    need = ("tau", "end_class", "final_test_acc", "best_test_acc", "weak_test_acc")
    runs = _classified(runs, trajectories, who, need=need)
    sns = _sns()
    good, label = _RULES[rule]
    runs = runs.copy()
    runs["benign_end"] = runs["end_class" if rule == "end" else "class"].isin(good).astype(float)
    cells = per_cell(runs)
    _axis(cells, along, "along", who)
    others = _other_axes(cells, (along,))
    n_curves = len(cells.groupby(others, dropna=False)) if others else 1
    if n_curves > max_curves:
        raise _too_many(who, n_curves, max_curves, others, cells, "curves", "max_curves")
    if others:
        keys = cells[others].itertuples(index=False, name=None)
        cells["slice"] = [", ".join(f"{k}={_fmt(v)}" for k, v in zip(others, key)) for key in keys]
    else:
        cells["slice"] = "all"
    panels = [
        ("benign_end", label),
        ("final_test_acc", "final test accuracy"),
        ("best_test_acc", "best test accuracy"),
    ]
    if ax is not None and len(np.ravel(np.asarray(ax, dtype=object))) == 1:
        panels = panels[:1]
    fig, axes, own = _target(ax, len(panels), who, "one for the benign share, or three", columns=3)
    with _quiet():
        for panel, (column, ylabel) in zip(axes, panels):
            sns.lineplot(
                data=cells,
                x="tau",
                y=column,
                hue="slice",
                marker="o",
                ax=panel,
                legend=panel is axes[0],
                errorbar=None,
                sort=True,
            )
            panel.set_xscale("log")
            panel.set(xlabel="tau = n_st p_b² nu⁴ / (sigma_p⁴ d)", ylabel=ylabel)
            if C is not None:
                panel.axvline(C, color="black", ls="--", lw=1.5)
    weak = cells["weak_test_acc"].mean()
    for panel in axes[1:]:
        panel.axhline(weak, color="gray", ls=":", label="weak model")
    leg = axes[0].get_legend()
    if leg is not None:
        handles, names = axes[0].get_legend_handles_labels()
        leg.remove()
        _legend(
            fig,
            axes,
            own,
            handles,
            names,
            loc="outside right center",
            ncols=1,
            title="slice",
            fontsize=7,
        )
    title = "Collapse against tau" + (f" (dashed: fitted C = {C:.3g})" if C else "")
    if own:
        fig.suptitle(title)
    else:
        axes[0].set_title(title)
    return save(fig, path, legends_inside=own)


def _step_scale(ax, steps):
    """A symmetric-log step axis when the record schedule is log-spaced (uneven gaps)."""
    steps = np.unique(np.asarray(steps))
    gaps = np.diff(steps)
    if len(gaps) > 2 and gaps.max() > 3 * gaps.min():
        ax.set_xscale("symlog", linthresh=1.0)
        ax.set_xlim(0, steps.max() * 1.1)


def _select(
    frame: pd.DataFrame,
    cells: Sequence[dict] | None,
    limit: int = 6,
    who: str = "trajectories",
    max_panels: int = MAX_PANELS,
):
    """The sub-frames for `cells` (dicts of parameter values); default: up to `limit` cells
    spread along the swept axes. A cell that matches no run, or more than `max_panels`
    cells, is refused."""
    keys = ["cell"] if "cell" in frame else parameter_columns(frame)
    swept = [k for k in swept_columns(frame) if k not in ("cell", "p_e")]
    if cells is None:
        uniq = frame.drop_duplicates(keys).sort_values(swept or keys)
        pick = uniq.iloc[
            np.unique(np.linspace(0, len(uniq) - 1, min(limit, len(uniq))).astype(int))
        ]
        cells = [{k: r[k] for k in swept} for _, r in pick.iterrows()]
    cells = list(cells)
    if len(cells) > max_panels:
        raise TooManyPanels(
            f"{who}: {len(cells)} cells (one panel each) exceed the limit of {max_panels}: "
            f"choose fewer cells or pass max_panels={len(cells)}"
        )
    out = []
    for cell in cells:
        if not isinstance(cell, dict):
            raise ConfigError(f"{who}: a cell is a dict of parameter values, got {cell!r}")
        mask = np.ones(len(frame), bool)
        for k, v in cell.items():
            if k not in frame:
                raise ConfigError(
                    f"{who}: cell {cell}: {k!r} is not a column (swept: {', '.join(swept)})"
                )
            mask &= np.isclose(frame[k].to_numpy(dtype=float), float(v))
        if not mask.any():
            there = "; ".join(
                f"{k} takes {', '.join(_fmt(v) for v in np.sort(frame[k].unique())[:12])}"
                for k in cell
            )
            raise ConfigError(f"{who}: no run matches cell {cell} ({there})")
        names = [f"{k}={_fmt(v)}" for k, v in cell.items()]
        title = ", ".join(names[:3]) + ("\n" + ", ".join(names[3:]) if len(names) > 3 else "")
        out.append((title, frame[mask]))
    return out


_METRICS = {
    "test_acc": "test",
    "train_acc_pseudo": "train (pseudo-labels)",
    "train_acc_true": "train (true labels)",
    "label_correction": "label correction",
}


def trajectories(
    traj: pd.DataFrame,
    summary: pd.DataFrame | None = None,
    cells: Sequence[dict] | None = None,
    path=None,
    *,
    ax=None,
    max_panels: int = MAX_PANELS,
) -> Figure:
    """Train (vs pseudo and true labels) and test accuracy over steps for chosen cells.

    Lines are the mean over seeds with a band of ± one standard deviation; the weak model's
    test accuracy (from `summary`) is a dotted line.

    Args:
        traj: the sweep's trajectories table (one row a recorded step).
        summary: the sweep's summary, for the weak model's accuracy.
        cells: dicts of parameter values, one panel each (default: up to six cells spread
            over the grid); a cell that matches no run is refused.
        path: write `path.png` and `path.pdf`.
        ax: one Axes per cell to draw into instead of a new figure.
        max_panels: the most cells.
    """
    who = "trajectories"
    _require(traj, ("seed", "step", "test_acc"), who, _TRAJECTORIES)
    if summary is not None:
        _require(summary, ("weak_test_acc",), who, "pass the sweep's summary as `summary`")
    sns = _sns()
    chosen = _select(traj, cells, who=who, max_panels=max_panels)
    fig, axes, own = _target(ax, len(chosen), who, "one per cell", columns=3)
    metrics = {k: v for k, v in _METRICS.items() if k in traj}
    for panel, (title, frame) in zip(axes, chosen):
        long = frame.melt(
            id_vars=["seed", "step"],
            value_vars=list(metrics),
            var_name="metric",
            value_name="accuracy",
        )
        long["metric"] = long["metric"].map(metrics)
        with _quiet():
            sns.lineplot(
                data=long,
                x="step",
                y="accuracy",
                hue="metric",
                errorbar="sd",
                ax=panel,
                legend=panel is axes[0],
            )
        if summary is not None:
            keys = [k for k in parameter_columns(frame) if k in summary]
            match = summary.merge(frame[keys].drop_duplicates(), on=keys)
            if len(match):
                panel.axhline(match["weak_test_acc"].mean(), color="gray", ls=":", lw=1.5)
        panel.set(title=title, ylim=(-0.02, 1.02))
        _step_scale(panel, frame["step"])
    if len(axes):
        handles, labels = axes[0].get_legend_handles_labels()
        if axes[0].get_legend() is not None:
            axes[0].get_legend().remove()
        if summary is not None:
            from matplotlib.lines import Line2D

            handles.append(Line2D([], [], color="gray", ls=":", lw=1.5))
            labels.append("weak model (test)")
        _legend(fig, axes, own, handles, labels)
    if own:
        fig.suptitle("Training trajectories")
    return save(fig, path, legends_inside=own)


_WINDOW = (
    "best_step",
    "window_start",
    "window_end",
    "window_length",
    "best_test_acc",
    "final_test_acc",
    "degradation",
    "weak_test_acc",
)


def window_map(
    runs: pd.DataFrame,
    x: str = "n_st",
    y: str | None = None,
    path=None,
    *,
    trajectories: pd.DataFrame | None = None,
    ax=None,
    max_curves: int = MAX_CURVES,
) -> Figure:
    """The early-stopping window over one or two axes: best step, the window of steps within
    the tolerance of the best, best and final test accuracy.

    Args:
        runs: `classes.classify` rows, or a sweep's summary with `trajectories`.
        x: the horizontal axis.
        y: the vertical axis of a two-axis map (None: one axis, one curve per value of the
            swept axes `x` leaves free, at most `max_curves`).
        path: write `path.png` and `path.pdf`.
        trajectories: the sweep's trajectories; with them, `runs` may be the summary.
        ax: two Axes (one axis: step and accuracy) or four (two axes: best step, window
            length, best accuracy, degradation) to draw into instead of a new figure.
        max_curves: the most curves of a one-axis map; more is refused (`TooManyPanels`).
    """
    who = "window_map"
    runs = _classified(runs, trajectories, who, need=_WINDOW)
    _axis(runs, x, "x", who)
    if y is not None:
        _axis(runs, y, "y", who)
    cells = per_cell(runs)
    if y is None or y == x:
        sns = _sns()
        fig, axes, own = _target(ax, 2, who, "best step, test accuracy", columns=2, width=5)
        slices = _slices(cells, (x,), who, max_curves, "curves", "max_curves")
        palette = sns.color_palette("viridis", len(slices))
        for color, (title, frame) in zip(palette, slices):
            frame = frame.sort_values(x)
            label = title or "all"
            axes[0].fill_between(
                frame[x], frame["window_start"], frame["window_end"], color=color, alpha=0.25
            )
            axes[0].plot(frame[x], frame["best_step"], "o-", color=color, label=label)
            axes[1].plot(frame[x], frame["best_test_acc"], "o-", color=color, label=label)
            axes[1].plot(frame[x], frame["final_test_acc"], "s--", color=color, alpha=0.7)
        axes[0].set(xlabel=x, ylabel="step", title="best step and window (shaded)")
        axes[1].set(xlabel=x, ylabel="test accuracy", title="best (solid) and final (dashed)")
        axes[1].axhline(cells["weak_test_acc"].mean(), color="gray", ls=":", label="weak model")
        for panel in axes:
            if _is_log(cells[x]):
                panel.set_xscale("log")
        axes[1].legend(fontsize=7)
        suffix = ""
    else:
        means = (
            cells.groupby([y, x])[["best_step", "window_length", "degradation", "best_test_acc"]]
            .mean()
            .reset_index()
        )
        others = _other_axes(cells, (x, y))
        suffix = f" (mean over {', '.join(others)})" if others else ""
        fig, axes, own = _target(
            ax, 4, who, "best step, window length, best accuracy, degradation", columns=4, width=4
        )
        for panel, (column, label) in zip(
            axes,
            [
                ("best_step", "best step"),
                ("window_length", "window length (steps)"),
                ("best_test_acc", "best test accuracy"),
                ("degradation", "best - final test accuracy"),
            ],
        ):
            table = means.pivot(index=y, columns=x, values=column).sort_index(ascending=False)
            image = panel.imshow(table.to_numpy(dtype=float), aspect="auto", cmap="viridis")
            panel.set_xticks(range(table.shape[1]), [_fmt(v) for v in table.columns], rotation=45)
            panel.set_yticks(range(table.shape[0]), [_fmt(v) for v in table.index])
            panel.set(xlabel=x, ylabel=y, title=label)
            fig.colorbar(image, ax=panel)
    if own:
        fig.suptitle("Early-stopping window" + suffix)
    return save(fig, path, legends_inside=own)


_SIGNAL = {
    "gamma_mu": ("gamma mu (easy signal)", "-"),
    "gamma_nu_pos": ("gamma nu, +", "-"),
    "gamma_nu_neg": ("gamma nu, −", "-"),
    "rho_correct": ("rho, right pseudo-labels", "--"),
    "rho_wrong": ("rho, wrong pseudo-labels", "--"),
}


def signal_noise(
    traj: pd.DataFrame,
    cells: Sequence[dict] | None = None,
    path=None,
    *,
    ax=None,
    max_panels: int = MAX_PANELS,
) -> Figure:
    """Signal components (`gamma_mu`, `gamma_nu_pos`, `gamma_nu_neg`) and noise memorization
    (`rho_correct`, `rho_wrong`) of `W(t) - W(0)` over steps, mean over seeds.

    Args:
        traj: the sweep's trajectories table (one row a recorded step).
        cells: dicts of parameter values, one panel each (default: up to four cells spread
            over the grid); a cell that matches no run is refused.
        path: write `path.png` and `path.pdf`.
        ax: one Axes per cell to draw into instead of a new figure.
        max_panels: the most cells.
    """
    who = "signal_noise"
    _require(traj, ("seed", "step", *_SIGNAL), who, _TRAJECTORIES)
    chosen = _select(traj, cells, limit=4, who=who, max_panels=max_panels)
    fig, axes, own = _target(ax, len(chosen), who, "one per cell", columns=4)
    twins = []
    for panel, (title, frame) in zip(axes, chosen):
        means = frame.groupby("step")[list(_SIGNAL)].mean()
        # Noise components are normalized by |xi|^2 ~ sigma_p^2 d, so they get their own axis.
        twin = panel.twinx()
        twins.append(twin)
        for k, (column, (label, ls)) in enumerate(_SIGNAL.items()):
            target = twin if column.startswith("rho") else panel
            target.plot(means.index, means[column], ls=ls, label=label, color=f"C{k}")
        panel.set(title=title, xlabel="step", ylabel="signal component gamma")
        _step_scale(panel, means.index)
        twin.set_ylabel("noise component rho (dashed)")
    if len(axes):
        h1, l1 = axes[0].get_legend_handles_labels()
        h2, l2 = twins[0].get_legend_handles_labels()
        # On the caller's Axes the legend goes on the twin, which is drawn over the panel.
        _legend(fig, axes if own else twins, own, h1 + h2, l1 + l2)
    if own:
        fig.suptitle("Signal learning versus noise memorization")
    return save(fig, path, legends_inside=own)
