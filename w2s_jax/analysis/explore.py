"""The explorer: a study's map and its runs on one self-contained, offline HTML page.

The page draws the study's map over the two axes it swept (`maps.map_axes`, or the user's
`x`, `y`), coloured by a quantity chosen in a dropdown (`METRICS`: the class, the gain over the
teacher at the last and at the best step, the share of wrong labels corrected, the best step,
the teacher's rule share, the imitation), with a dropdown for each other axis that splits the
cells (`n_st`, the teacher, the study, ...). Hovering a cell shows the seed mean ± the seed
standard error, the seeds and their classes; undecided cells (`maps.graded_cells`) have a
dashed outline; the limit engine's `d = ∞` row stands half a cell apart, labelled ∞. Over the
plane's coordinates `(n_st·snr, d/n_st)` the dashed line is `tau = C`, with `C` fitted to the
runs of the map shown (`fit.fit_constant` of `fit.benign_outcome(runs, "class")`, the constant
`w2s report` fits), an iso-`tau` line of slope −2 since `tau = p_b²·(n_st·snr)²·(d/n_st)`.
Clicking a cell draws its seeds' trajectories (`TRAJECTORIES`), with the teacher's test
accuracy and the harmful level marked.

The chart is Vega-Lite written with Altair (`explore_page`); docs/explore.md says why.

    page = explore("plane_coin", "plane_limit_coin")   # names, folders or (summary, traj)
    page.save("plane_coin.html")
    page                                                # inline in a notebook
"""

from __future__ import annotations

import dataclasses
import html
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from w2s_jax.analysis import explore_page, fit, maps, plane
from w2s_jax.analysis.classes import CLASSES, classify, parameter_columns, swept_columns
from w2s_jax.analysis.explore_page import label
from w2s_jax.model.config import ConfigError
from w2s_jax.model.coordinates import THEORY_COLUMNS
from w2s_jax.sweeping.results import load_results, resolve

__all__ = ["METRICS", "TRAJECTORIES", "MAX_BYTES", "Axis", "Tables", "Explorer", "explore", "label"]

#: What the map's colour can show: a column of the runs -> its name on the page.
METRICS = {
    "class": "class (most common over seeds)",
    "gain_final": "gain over the teacher, last step",
    "gain_best": "gain over the teacher, best step",
    "label_correction_best": "share of wrong labels corrected, best step",
    "best_step": "best step",
    "teacher_rule_share": "teacher's rule share (hard-only labels fixed by the patch)",
    "imitation_final": "imitation: agreement with the teacher on hard-only test points",
}
#: The recorded curves drawn for a clicked cell: a column of the trajectories -> its name.
TRAJECTORIES = {
    "test_acc": "test accuracy",
    "train_acc_pseudo": "train accuracy on pseudo-labels",
    "label_correction": "share of wrong pseudo-labels corrected",
    "gamma_mu": "easy signal component",
    "gamma_nu_pos": "hard signal component, +",
    "gamma_nu_neg": "hard signal component, −",
}
#: The largest page `explore` writes: longer trajectories are thinned (the page says so).
MAX_BYTES = 8_000_000
#: Room kept for the Vega JavaScript and the map's tables (the bundle is about 0.9 MB).
_OVERHEAD = 1_500_000
_TITLES = {"n_st_snr": "n_st·snr", "d_over_n": "d/n_st"}
INFINITY = "∞"


@dataclasses.dataclass(frozen=True)
class Axis:
    """Where the map puts each value of one column: finite values at 0, 1, ..., the limit
    engine's `d = ∞` half a cell apart after them (`column` None: a one-row map)."""

    column: str | None
    values: tuple
    positions: dict
    labels: dict
    infinite: frozenset

    @classmethod
    def of(cls, runs: pd.DataFrame, column: str | None) -> Axis:
        if column is None:
            return cls(None, (0,), {0: 0.0}, {0: ""}, frozenset())
        values = sorted(runs[column].dropna().unique().tolist())
        infinite = set()
        if column in ("d", "d_over_n") and "engine" in runs:
            limit = runs.groupby(column)["engine"].agg(lambda e: bool((e == "limit").all()))
            infinite = {v for v in values if limit.get(v, False)}
        finite = [v for v in values if v not in infinite]
        positions = {v: float(i) for i, v in enumerate(finite)}
        positions |= {v: len(finite) + 0.5 for v in infinite}
        labels = {v: label(v) for v in finite} | {v: INFINITY for v in infinite}
        return cls(column, tuple(finite + sorted(infinite)), positions, labels, frozenset(infinite))

    @property
    def title(self) -> str:
        return _TITLES.get(self.column, self.column or "")

    @property
    def span(self) -> tuple[float, float]:
        return -0.5, max(self.positions.values()) + 0.5

    @property
    def finite(self) -> np.ndarray:
        return np.asarray([v for v in self.values if v not in self.infinite], float)

    def position(self, value) -> np.ndarray:
        """The position of a value of the finite part, log-linear between grid values and
        extended past the ends (a numeric axis of positive values with two or more)."""
        logs, index = np.log(self.finite), np.arange(len(self.finite), dtype=float)
        return _extend(np.log(np.asarray(value, float)), logs, index)

    def value(self, position) -> np.ndarray:
        """The inverse of `position`."""
        logs, index = np.log(self.finite), np.arange(len(self.finite), dtype=float)
        return np.exp(_extend(np.asarray(position, float), index, logs))

    def label_expr(self) -> str:
        """A Vega expression giving each tick position its label."""
        expr = "''"
        for value in reversed(self.values):
            text = self.labels[value].replace("'", "\\'")
            expr = f"abs(datum.value - {self.positions[value]!r}) < 0.01 ? '{text}' : ({expr})"
        return expr


def _extend(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """`np.interp`, continued linearly past both ends."""
    low = fp[0] + (x - xp[0]) * (fp[1] - fp[0]) / (xp[1] - xp[0])
    high = fp[-1] + (x - xp[-1]) * (fp[-1] - fp[-2]) / (xp[-1] - xp[-2])
    return np.where(x < xp[0], low, np.where(x > xp[-1], high, np.interp(x, xp, fp)))


@dataclasses.dataclass
class Tables:
    """What the page is drawn from: `cells` (one row a cell: `cell` id, its keys, `mean_<m>`
    and `se_<m>` of every metric, `n_<class>` counts, `class`, `undecided`, the teacher's
    accuracy, `heading`), `values` (the cells once per metric, what the map colours), `csv`
    (the curves: `cell`, `run`, `seed`, `step` and the `TRAJECTORIES` columns), the `tau = C`
    line (`points`, in map positions) and its caption per slice (`labels`)."""

    cells: pd.DataFrame
    values: pd.DataFrame
    csv: str
    points: pd.DataFrame
    labels: pd.DataFrame
    axes: tuple[Axis, Axis]
    slices: list[str]
    metric: str
    metrics: list[str]
    notes: list[str]
    names: str
    last_step: float
    curve_columns: list[str]
    metric_names: dict = dataclasses.field(default_factory=lambda: dict(METRICS))
    curve_names: dict = dataclasses.field(default_factory=lambda: dict(TRAJECTORIES))


def _studies(studies) -> list[tuple[str, pd.DataFrame, pd.DataFrame]]:
    """`(name, summary, trajectories)` of each study given."""
    out = []
    for i, study in enumerate(studies):
        if isinstance(study, (str, os.PathLike)):
            summary, trajectories, _ = load_results(study)
            name = resolve(study).name or str(study)
        elif (
            isinstance(study, Sequence)
            and len(study) in (2, 3)
            and all(isinstance(t, pd.DataFrame) for t in study[:2])
        ):
            summary, trajectories = study[0], study[1]
            manifest = study[2] if len(study) == 3 and isinstance(study[2], dict) else {}
            name = str(manifest.get("name") or f"study {i + 1}")
        else:
            raise ConfigError(
                f"explore: study {i + 1} is a {type(study).__name__}; give a study name, a "
                "sweep folder or a (summary, trajectories) pair of tables"
            )
        taken = {n for n, _, _ in out}
        out.append((name if name not in taken else f"{name} ({i + 1})", summary, trajectories))
    return out


def _classified(studies) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The runs of every study (`classify` rows with `study`, a `run` id and the summary's
    teacher columns; the sweep's cell index as `sweep_cell`) and their curves (`run`, `step`
    and the `TRAJECTORIES` columns)."""
    all_runs, all_curves = [], []
    for name, summary, trajectories in studies:
        runs = classify(summary, trajectories)
        keys = (["cell"] if "cell" in runs else []) + parameter_columns(runs) + ["seed"]
        keys = [k for k in keys if k in summary and k in trajectories]
        extra = [c for c in METRICS if c in summary and c not in runs]
        if extra:
            runs = runs.merge(summary[keys + extra], on=keys, how="left", validate="one_to_one")
        first = sum(len(r) for r in all_runs)
        runs = runs.assign(study=name, run=first + np.arange(len(runs)))
        shown = [c for c in TRAJECTORIES if c in trajectories]
        curves = trajectories[keys + ["step", *shown]].merge(runs[keys + ["run"]], on=keys)
        all_runs.append(runs.rename(columns={"cell": "sweep_cell"}))
        all_curves.append(curves[["run", "step", *shown]])
    runs = pd.concat(all_runs, ignore_index=True)
    if "engine" in runs:
        runs["engine"] = runs["engine"].astype(str)
    return runs, pd.concat(all_curves, ignore_index=True)


def _map_axes(runs: pd.DataFrame, x: str | None, y: str | None) -> tuple[str, str | None]:
    swept = [c for c in swept_columns(runs) if c != "p_e"]
    varying = [c for c in ("n_st_snr", "d_over_n", "tau") if c in runs and runs[c].nunique() > 1]
    axes = set(parameter_columns(runs)) | {c for c in THEORY_COLUMNS if c in runs}
    for name, flag in ((x, "x"), (y, "y")):
        if name is not None and name not in axes:
            raise ConfigError(
                f"--{flag}: {name!r} is not a config field or coordinate of the study (its "
                f"axes: {', '.join(varying + swept) or 'none'}); choose one of them"
            )
    if x is not None and x == y:
        raise ConfigError(f"--x/--y: both are {x!r}; give two different axes")
    try:
        return maps.map_axes(runs, x, y)
    except ValueError:
        if x is None and y is None and len(swept) == 1:
            return swept[0], None
        if x is not None and y is None:
            return x, None
        raise ConfigError(
            f"--x/--y: the study sweeps {', '.join(swept) or 'no axis'}; name the map's axes"
        ) from None


def _slices(runs: pd.DataFrame, x: str, y: str | None) -> list[str]:
    """The columns that split the map's cells, as in `maps.slice_columns`, the study
    included: each becomes a dropdown."""
    keys: list[str] = []
    candidates = [c for c in swept_columns(runs) if c not in (x, y, "p_e")]
    candidates += ["study"] if runs["study"].nunique() > 1 else []
    for column in sorted(candidates, key=lambda c: runs[c].nunique()):
        spread = runs.groupby([x, *([y] if y else []), *keys], dropna=False)[column]
        if (spread.nunique(dropna=False) > 1).any():
            keys.append(column)
    return keys


def _class_text(row) -> str:
    counts = [f"{c.replace('_', ' ')} {int(row[f'n_{c}'])}" for c in CLASSES if row[f"n_{c}"]]
    return ", ".join(counts)


def _cells(runs: pd.DataFrame, x: str, y: str | None, slices: list[str]) -> pd.DataFrame:
    """One row a cell: its keys, `cell` id, seed means and standard errors of `METRICS`,
    class counts, and the most common class and `undecided` as `maps.graded_cells` has them."""
    keys = [*slices, x, *([y] if y else [])]
    metrics = [m for m in METRICS if m != "class" and m in runs]
    grouped = runs.groupby(keys, dropna=False, sort=True)
    n = grouped.size()
    cells = grouped[metrics].mean().add_prefix("mean_")
    cells = cells.join(grouped[metrics].std(ddof=1).div(np.sqrt(n), axis=0).add_prefix("se_"))
    cells["n_seeds"] = n
    counts = runs.groupby([*keys, "class"], dropna=False).size().unstack("class", fill_value=0)
    cells = cells.join(counts.reindex(columns=list(CLASSES), fill_value=0).add_prefix("n_"))
    cells = cells.join(grouped[["weak_test_acc", "harmful_level"]].mean()).reset_index()
    graded = []
    for key, group in runs.groupby(slices, dropna=False, sort=True) if slices else [((), runs)]:
        rows = maps.graded_cells(group.assign(_row=0), x, y or "_row")
        key = key if isinstance(key, tuple) else (key,)
        graded.append(rows.drop_duplicates([x, y or "_row"]).assign(**dict(zip(slices, key))))
    columns = ["class", "tie", "undecided", "nearest"]
    cells = cells.merge(pd.concat(graded)[keys + columns], on=keys, how="left")
    cells["tie"] = cells["tie"].fillna(False).astype(bool)
    cells["undecided"] = cells["undecided"].fillna(False).astype(bool) & ~cells["tie"]
    cells.insert(0, "cell", np.arange(len(cells)))
    return cells


def _tau_line(runs: pd.DataFrame, axes: tuple[Axis, Axis], slices: list[str]):
    """Per slice, `tau = C` in map positions (`points`), its caption (`labels`), and the
    page's sentence about it."""
    ax, ay = axes
    if {ax.column, ay.column} != {"n_st_snr", "d_over_n"}:
        return (
            pd.DataFrame(),
            pd.DataFrame(),
            "No tau = C line: the axes are not (n_st·snr, d/n_st)",
        )
    snr, over = (ax, ay) if ax.column == "n_st_snr" else (ay, ax)
    finite = runs[~runs["d_over_n"].isin(over.infinite)]
    groups = finite.groupby(slices, dropna=False, sort=True) if slices else [((), finite)]
    points, labels, reasons = [], [], set()
    for key, group in groups:
        key = dict(zip(slices, key if isinstance(key, tuple) else (key,)))
        data = fit.benign_outcome(group, "class")
        reason, constant = None, None
        if data["benign"].nunique() < 2 or data["tau"].nunique() < 2:
            reason = "all runs of the map are harmful, or none"
        elif group["p_b"].nunique() > 1 or len(snr.finite) < 2 or len(over.finite) < 2:
            reason = "p_b varies within the map, or an axis has one value"
        else:
            constant = fit.fit_constant(data, n_boot=0)
            if not (constant.k > 0 and np.isfinite(constant.C)):
                reason = "the share of runs not harmful does not rise with tau"
        if reason is not None:
            reasons.add(reason)
            labels.append(key | dict(text=f"no tau = C line: {reason}"))
            continue
        u = np.linspace(*snr.span, 400)
        p_b = float(group["p_b"].iloc[0])
        v = over.position(constant.C / (p_b**2 * snr.value(u) ** 2))
        inside = (v >= -0.5) & (v <= len(over.finite) - 0.5)
        xs, ys = (u, v) if ax is snr else (v, u)
        points += [key | dict(px=xs[i], py=ys[i], order=int(i)) for i in np.flatnonzero(inside)]
        labels.append(key | dict(text=f"dashed: tau = C = {constant.C:.3g} (fitted)"))
    sentence = (
        "Dashed line: tau = C, C fitted to the runs of the map shown (logistic fit of "
        "P(not harmful) in log tau, the constant of w2s report)"
    )
    if not points:
        sentence = "No tau = C line: C cannot be fitted (" + "; ".join(sorted(reasons)) + ")"
    return pd.DataFrame(points), pd.DataFrame(labels), sentence


def _values(cells: pd.DataFrame, metrics: list[str], axes, slices) -> pd.DataFrame:
    """The cells once per metric: what the map colours and its tooltip reads."""
    ax, ay = axes
    base = pd.DataFrame(
        {
            "cell": cells["cell"],
            "px": cells[ax.column].map(ax.positions),
            "py": cells[ay.column].map(ay.positions) if ay.column else 0.0,
            "xlabel": cells[ax.column].map(ax.labels),
            "ylabel": cells[ay.column].map(ay.labels) if ay.column else "",
            "seeds": cells["n_seeds"],
            "classes": cells.apply(_class_text, axis=1),
            "undecided": cells["undecided"],
        }
    )
    for s in slices:
        base[f"s_{s}"] = cells[s].map(label)
    cutoffs = {c.name: c.text for c in maps.CUTOFFS}
    base["state"] = np.where(
        cells["undecided"],
        "undecided: a seed mean within one seed SE of the cutoff "
        + cells["nearest"].map(cutoffs).fillna(""),
        np.where(cells["tie"], "tie: its seeds split equally between classes", "decided"),
    )
    majority = cells["class"].fillna("not_converged").str.replace("_", " ")
    base["category"] = np.where(
        cells["undecided"], maps.UNDECIDED[0], np.where(cells["tie"], "tie", majority)
    )
    frames = []
    for m in metrics:
        frame = base.assign(metric=m, label=METRICS[m])
        if m == "class":
            frame["value"], frame["text"] = np.nan, majority + " (most common over seeds)"
        else:
            mean, se = cells[f"mean_{m}"], cells[f"se_{m}"]
            frame["value"] = mean
            frame["text"] = [
                f"{a:.4g}" + (f" ± {b:.2g}" if np.isfinite(b) else "") if np.isfinite(a) else "–"
                for a, b in zip(mean, se)
            ]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _heading(cells: pd.DataFrame, axes, slices) -> list[str]:
    """What the page writes over a clicked cell's runs."""
    ax, ay = axes
    out = []
    for _, row in cells.iterrows():
        where = [f"{ax.title} = {ax.labels[row[ax.column]]}"]
        where += [f"{ay.title} = {ay.labels[row[ay.column]]}"] if ay.column else []
        where += [f"{s} = {label(row[s])}" for s in slices]
        out.append(", ".join(where) + f": {int(row['n_seeds'])} seeds ({_class_text(row)})")
    return out


def _curves_csv(curves: pd.DataFrame, runs: pd.DataFrame, budget: int) -> tuple[str, int]:
    """The curves as CSV (floats to four digits), every `k`-th recorded step of each run (its
    first and last always) with the least `k` whose text fits `budget` bytes."""
    curves = curves.merge(runs[["run", "cell", "seed"]], on="run").sort_values(["run", "step"])
    curves = curves[["cell", "run", "seed", "step", *[c for c in TRAJECTORIES if c in curves]]]
    rank = curves.groupby("run").cumcount().to_numpy()
    last = rank == curves.groupby("run")["step"].transform("size").to_numpy() - 1
    every = 1
    while True:
        kept = curves[(rank % every == 0) | last]
        text = kept.to_csv(index=False, float_format="%.4g", lineterminator="\n")
        if len(text) <= budget or every >= rank.max(initial=0):
            return text, every
        every = max(every + 1, math.ceil(every * len(text) / budget))


def _tables(*studies, x=None, y=None, metric="gain_final", max_bytes=MAX_BYTES):
    """`(Tables, runs)` of the explorer of `studies` (arguments as `explore`)."""
    if not studies:
        raise ConfigError("DIR: no study given; name a study or a sweep folder")
    runs, curves = _classified(_studies(studies))
    x, y = _map_axes(runs, x, y)
    coordinates = [c for c in (x, y, "n_st_snr", "d_over_n", "tau") if c and c in runs]
    numeric = [c for c in coordinates if pd.api.types.is_numeric_dtype(runs[c])]
    runs = plane.snap(runs, [c for c in numeric if (runs[c] > 0).all()])
    metrics = [m for m in METRICS if m == "class" or (m in runs and runs[m].notna().any())]
    if metric not in metrics:
        raise ConfigError(f"metric: {metric!r} is not one of {', '.join(metrics)}")
    slices = _slices(runs, x, y)
    cells = _cells(runs, x, y, slices)
    keys = [*slices, x, *([y] if y else [])]
    runs = runs.merge(cells[keys + ["cell"]], on=keys, how="left")
    axes = (Axis.of(runs, x), Axis.of(runs, y))
    cells["heading"] = _heading(cells, axes, slices)
    points, labels, sentence = _tau_line(runs, axes, slices)
    values = _values(cells, metrics, axes, slices)
    room = max_bytes - _OVERHEAD - 3 * len(values.to_json(orient="records"))
    csv, every = _curves_csv(curves, runs, room)
    notes = [sentence]
    if every > 1:
        notes.append(
            f"trajectories thinned to one recorded step in {every} (and each run's last) to keep "
            f"the page under {max_bytes / 1e6:g} MB"
        )
    return Tables(
        cells=cells,
        values=values,
        csv=csv,
        points=points,
        labels=labels,
        axes=axes,
        slices=slices,
        metric=metric,
        metrics=metrics,
        notes=notes,
        names=", ".join(dict.fromkeys(runs["study"])),
        last_step=float(curves["step"].max()),
        curve_columns=[c for c in TRAJECTORIES if c in curves],
    ), runs


@dataclasses.dataclass
class Explorer:
    """An explorer: `chart` (the Altair chart), `tables` (what it is drawn from: `Tables`),
    `runs` (the classified runs with their map `cell` and `run` ids). `save(path)` writes the
    page, `to_html()` returns it; in a notebook it shows inline."""

    chart: object = dataclasses.field(repr=False)
    tables: Tables = dataclasses.field(repr=False)
    runs: pd.DataFrame = dataclasses.field(repr=False)

    def __repr__(self) -> str:
        x, y = (a.title for a in self.tables.axes)
        axes = f"{x} x {y}" if y else x
        by = f", a dropdown for {', '.join(self.tables.slices)}" if self.tables.slices else ""
        return f"Explorer({self.tables.names}: {len(self.cells)} cells over {axes}{by})"

    @property
    def cells(self) -> pd.DataFrame:
        return self.tables.cells

    def to_html(self) -> str:
        """The page: one HTML file with the Vega JavaScript inline, no network request."""
        return explore_page.html(self.chart.to_dict())

    def save(self, path) -> Path:
        """Write the page to `path` (its folder is made)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_html(), encoding="utf-8")
        return path

    def _repr_html_(self) -> str:
        page = html.escape(self.to_html(), quote=True)
        return (
            f'<iframe srcdoc="{page}" title="w2s explorer" '
            'style="width: 100%; height: 760px; border: none;"></iframe>'
        )


def explore(
    *studies, x: str | None = None, y: str | None = None, metric: str = "gain_final"
) -> Explorer:
    """The explorer of one or more studies (docs/explore.md).

    Args:
        *studies: study names or sweep folders (`load_results`), or `(summary,
            trajectories)` pairs (a third item, the manifest, names the study); several are
            concatenated (where they share cells, the study becomes a dropdown).
        x: the map's horizontal axis (default `maps.map_axes`: the plane's `n_st·snr`, else
            one of two axes the study sweeps against each other).
        y: its vertical axis (default likewise: `d/n_st`; one swept axis: a one-row map).
        metric: what the colour shows first (a key of `METRICS`).

    Returns:
        An `Explorer`: `.save(path)`, `.to_html()`, `.chart`; shown inline in a notebook.
    """
    drawn, runs = _tables(*studies, x=x, y=y, metric=metric)
    return Explorer(explore_page.chart(drawn), drawn, runs)
