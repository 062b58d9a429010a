"""Figures of a sweep: phase diagram, collapse against tau, trajectories, early-stopping
window map, and signal versus noise components over time.

Every function takes the tables of `w2s_jax.analysis.classes` (or the sweep's trajectories), returns
a `matplotlib.figure.Figure` and, given `path`, writes `path.png` and `path.pdf`. Figures are
built without pyplot (no global state, no GUI backend), so they work headless and in threads.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from w2s_jax.analysis.classes import CLASSES, parameter_columns, per_cell, swept_columns
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
]

CLASS_COLORS = {
    "harmful": "#d62728",
    "benign": "#1f77b4",
    "label_correction": "#2ca02c",
    "not_converged": "#7f7f7f",
}
_MAX_PANELS = 12
#: Resolution of the PNG files (the README's figures use a lower one).
DPI = 150


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


def save(fig: Figure, path: str | Path | None) -> Figure:
    """Write `fig` to `path.png` (at `DPI`) and `path.pdf` when `path` is given."""
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        FigureCanvasAgg(fig)
        stem = path.with_suffix("") if path.suffix in (".png", ".pdf") else path
        fig.savefig(stem.with_suffix(".png"), dpi=DPI, bbox_inches="tight")
        # The layout is computed: the PDF keeps it rather than computing it again; the
        # figure handed back lays itself out as before.
        engine = fig.get_layout_engine()
        fig.set_layout_engine("none")
        fig.savefig(stem.with_suffix(".pdf"), bbox_inches="tight")
        fig.set_layout_engine(engine)
    return fig


def _panels(n: int, width: float = 4.2, height: float = 3.4, columns: int = 4):
    columns = min(columns, max(n, 1))
    rows = -(-max(n, 1) // columns)
    fig = Figure(figsize=(width * columns, height * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def _slices(cells: pd.DataFrame, used: Sequence[str]):
    """Split cells by the swept axes not in `used`: [(title, frame), ...] (at most 12)."""
    others = [c for c in swept_columns(cells) if c not in used and c not in ("p_e", "cell")]
    if not others:
        return [("", cells)]
    out = []
    for key, frame in cells.groupby(others, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        out.append((", ".join(f"{k}={_fmt(v)}" for k, v in zip(others, key)), frame))
    return out[:_MAX_PANELS]


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


def _tau_line(ax, frame: pd.DataFrame, x: str, y: str, C: float, xlog: bool, ylog: bool):
    """Draw tau = C in the (x, y) plane at the slice's other parameter values."""
    fixed = {k: float(frame[k].iloc[0]) for k in THEORY_EXPONENTS}
    ys = frame[y].astype(float).unique()
    lo, hi = _edges(np.sort(ys), ylog)[[0, -1]]
    grid = np.geomspace(lo, hi, 200) if ylog else np.linspace(lo, hi, 200)
    if x in THEORY_EXPONENTS:
        base = tau_of(
            *(1.0 if k == x else (grid if k == y else fixed[k]) for k in THEORY_EXPONENTS)
        )
        # An axis outside tau (batch_size, ...) leaves the line vertical: broadcast it.
        xs = np.broadcast_to((C / base) ** (1.0 / THEORY_EXPONENTS[x]), grid.shape)
        ax.plot(xs, grid, color="black", lw=2, ls="--", label=f"theory: tau = {C:.3g}")


def phase_diagram(
    runs: pd.DataFrame,
    x: str = "n_st",
    y: str = "p_b",
    C: float | None = None,
    value: str = "class",
    path=None,
) -> Figure:
    """Phase diagram over axes `x` and `y`, one panel per value of the other swept axes.

    Args:
        runs: `analysis.classify` rows.
        value: `"class"` colours each cell by its most common class; `"benign"` by the
            share of seeds whose end state is benign.
        C: fitted constant; the theory's boundary `tau = C` is drawn as a dashed line.
    """
    cells = per_cell(runs)
    slices = _slices(cells, (x, y))
    fig, axes = _panels(len(slices))
    xlog, ylog = _is_log(cells[x]), _is_log(cells[y])
    xs, ys = np.sort(cells[x].unique()), np.sort(cells[y].unique())
    xe, ye = _edges(xs, xlog), _edges(ys, ylog)
    for ax, (title, frame) in zip(axes, slices):
        if value == "class":
            shares = frame[[f"p_{c}" for c in CLASSES]].to_numpy()
            code = shares.argmax(axis=1).astype(float)
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
        for xv, yv, c in zip(frame[x], frame[y], code):
            grid[np.searchsorted(ys, yv), np.searchsorted(xs, xv)] = c
        mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(grid), cmap=cmap, vmin=vmin, vmax=vmax)
        if xlog:
            ax.set_xscale("log")
        if ylog:
            ax.set_yscale("log")
        ax.set_xlim(xe[0], xe[-1])
        ax.set_ylim(ye[0], ye[-1])
        if C is not None:
            _tau_line(ax, frame, x, y, C, xlog, ylog)
            ax.set_xlim(xe[0], xe[-1])
        ax.set(xlabel=x, ylabel=y, title=title)
    handles = (
        [_patch(CLASS_COLORS[c], c.replace("_", " ")) for c in CLASSES] if value == "class" else []
    )
    if value != "class":
        fig.colorbar(mesh, ax=list(axes), label="share of seeds benign")
    if C is not None:
        handles.append(_line(f"theory: tau = {C:.3g}"))
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    fig.suptitle(f"Phase diagram over {x} and {y}")
    return save(fig, path)


def _patch(color, label):
    from matplotlib.patches import Patch

    return Patch(facecolor=color, label=label)


def _line(label):
    from matplotlib.lines import Line2D

    return Line2D([], [], color="black", lw=2, ls="--", label=label)


def collapse(
    runs: pd.DataFrame, C: float | None = None, along: str = "n_st", rule: str = "end", path=None
) -> Figure:
    """Benign share and test accuracy against `tau`, every slice of the grid on one axis.

    If Theorem 3.4 is right, the curves of all slices line up on a single curve in `tau`.
    `rule` picks the benign indicator as in `fit.benign_outcome` ("end" or "class").
    """
    sns = _sns()
    runs = runs.copy()
    benign = {
        "end": ("benign",),
        "class": ("benign", "label_correction"),
        "label_correction": ("label_correction",),
    }[rule]
    runs["benign_end"] = runs["end_class" if rule == "end" else "class"].isin(benign).astype(float)
    cells = per_cell(runs)
    others = [c for c in swept_columns(cells) if c not in (along, "p_e", "cell")]
    cells["slice"] = (
        cells[others]
        .astype(str)
        .agg(lambda r: ", ".join(f"{k}={_fmt(float(v))}" for k, v in zip(others, r)), axis=1)
        if others
        else "all"
    )
    fig, axes = _panels(3, columns=3)
    panels = [
        (
            "benign_end",
            {
                "end": "share of seeds benign at the end",
                "class": "share benign or label-correcting",
                "label_correction": "share label-correcting",
            }[rule],
        ),
        ("final_test_acc", "final test accuracy"),
        ("best_test_acc", "best test accuracy"),
    ]
    with _quiet():
        for ax, (column, label) in zip(axes, panels):
            sns.lineplot(
                data=cells,
                x="tau",
                y=column,
                hue="slice",
                marker="o",
                ax=ax,
                legend=ax is axes[0],
                errorbar=None,
                sort=True,
            )
            ax.set_xscale("log")
            ax.set(xlabel="tau = n_st p_b² nu⁴ / (sigma_p⁴ d)", ylabel=label)
            if C is not None:
                ax.axvline(C, color="black", ls="--", lw=1.5)
    weak = cells["weak_test_acc"].mean()
    for ax in axes[1:]:
        ax.axhline(weak, color="gray", ls=":", label="weak model")
    leg = axes[0].get_legend()
    if leg is not None:
        handles, labels = axes[0].get_legend_handles_labels()
        leg.remove()
        fig.legend(
            handles, labels, loc="outside right center", fontsize=7, frameon=False, title="slice"
        )
    fig.suptitle("Collapse against tau" + (f" (dashed: fitted C = {C:.3g})" if C else ""))
    return save(fig, path)


def _step_scale(ax, steps):
    """A symmetric-log step axis when the record schedule is log-spaced (uneven gaps)."""
    steps = np.unique(np.asarray(steps))
    gaps = np.diff(steps)
    if len(gaps) > 2 and gaps.max() > 3 * gaps.min():
        ax.set_xscale("symlog", linthresh=1.0)
        ax.set_xlim(0, steps.max() * 1.1)


def _select(frame: pd.DataFrame, cells: Sequence[dict] | None, limit: int = 6):
    """The sub-frames for `cells` (dicts of parameter values); default: up to `limit` cells
    spread along the swept axes."""
    keys = ["cell"] if "cell" in frame else parameter_columns(frame)
    if cells is None:
        uniq = frame.drop_duplicates(keys).sort_values(swept_columns(frame) or keys)
        pick = uniq.iloc[
            np.unique(np.linspace(0, len(uniq) - 1, min(limit, len(uniq))).astype(int))
        ]
        cells = [
            {k: r[k] for k in swept_columns(frame) if k not in ("cell", "p_e")}
            for _, r in pick.iterrows()
        ]
    out = []
    for cell in cells:
        mask = np.ones(len(frame), bool)
        for k, v in cell.items():
            mask &= np.isclose(frame[k].to_numpy(dtype=float), float(v))
        if mask.any():
            names = [f"{k}={_fmt(v)}" for k, v in cell.items()]
            title = ", ".join(names[:3]) + ("\n" + ", ".join(names[3:]) if len(names) > 3 else "")
            out.append((title, frame[mask]))
    return out


def trajectories(
    traj: pd.DataFrame,
    summary: pd.DataFrame | None = None,
    cells: Sequence[dict] | None = None,
    path=None,
) -> Figure:
    """Train (vs pseudo and true labels) and test accuracy over steps for chosen cells.

    Lines are the mean over seeds with a band of ± one standard deviation; the weak model's
    test accuracy is a dotted line.
    """
    sns = _sns()
    chosen = _select(traj, cells)
    fig, axes = _panels(len(chosen), columns=3)
    metrics = {
        "test_acc": "test",
        "train_acc_pseudo": "train (pseudo-labels)",
        "train_acc_true": "train (true labels)",
        "label_correction": "label correction",
    }
    for ax, (title, frame) in zip(axes, chosen):
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
                ax=ax,
                legend=ax is axes[0],
            )
        if summary is not None:
            keys = [k for k in parameter_columns(frame) if k in summary]
            match = summary.merge(frame[keys].drop_duplicates(), on=keys)
            if len(match):
                ax.axhline(match["weak_test_acc"].mean(), color="gray", ls=":", lw=1.5)
        ax.set(title=title, ylim=(-0.02, 1.02))
        _step_scale(ax, frame["step"])
    if len(axes):
        handles, labels = axes[0].get_legend_handles_labels()
        if axes[0].get_legend() is not None:
            axes[0].get_legend().remove()
        if summary is not None:
            from matplotlib.lines import Line2D

            handles.append(Line2D([], [], color="gray", ls=":", lw=1.5))
            labels.append("weak model (test)")
        fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), frameon=False)
    fig.suptitle("Training trajectories")
    return save(fig, path)


def window_map(runs: pd.DataFrame, x: str = "n_st", y: str | None = None, path=None) -> Figure:
    """The early-stopping window over one or two axes: best step, the window of steps within
    the tolerance of the best, best and final test accuracy."""
    cells = per_cell(runs)
    if y is None or y == x:
        sns = _sns()
        fig, axes = _panels(2, columns=2, width=5)
        slices = _slices(cells, (x,))
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
        for ax in axes:
            if _is_log(cells[x]):
                ax.set_xscale("log")
        axes[1].legend(fontsize=7)
    else:
        means = (
            cells.groupby([y, x])[["best_step", "window_length", "degradation", "best_test_acc"]]
            .mean()
            .reset_index()
        )
        fig, axes = _panels(4, columns=4, width=4)
        for ax, (column, label) in zip(
            axes,
            [
                ("best_step", "best step"),
                ("window_length", "window length (steps)"),
                ("best_test_acc", "best test accuracy"),
                ("degradation", "best - final test accuracy"),
            ],
        ):
            table = means.pivot(index=y, columns=x, values=column).sort_index(ascending=False)
            image = ax.imshow(table.to_numpy(dtype=float), aspect="auto", cmap="viridis")
            ax.set_xticks(range(table.shape[1]), [_fmt(v) for v in table.columns], rotation=45)
            ax.set_yticks(range(table.shape[0]), [_fmt(v) for v in table.index])
            ax.set(xlabel=x, ylabel=y, title=label)
            fig.colorbar(image, ax=ax)
    fig.suptitle("Early-stopping window")
    return save(fig, path)


def signal_noise(traj: pd.DataFrame, cells: Sequence[dict] | None = None, path=None) -> Figure:
    """Signal components (`gamma_mu`, `gamma_nu_pos`, `gamma_nu_neg`) and noise memorization
    (`rho_correct`, `rho_wrong`) of `W(t) - W(0)` over steps, mean over seeds."""
    chosen = _select(traj, cells, limit=4)
    fig, axes = _panels(len(chosen), columns=4)
    styles = {
        "gamma_mu": ("gamma mu (easy signal)", "-"),
        "gamma_nu_pos": ("gamma nu, +", "-"),
        "gamma_nu_neg": ("gamma nu, −", "-"),
        "rho_correct": ("rho, right pseudo-labels", "--"),
        "rho_wrong": ("rho, wrong pseudo-labels", "--"),
    }
    twins = []
    for ax, (title, frame) in zip(axes, chosen):
        means = frame.groupby("step")[list(styles)].mean()
        # Noise components are normalized by |xi|^2 ~ sigma_p^2 d, so they get their own axis.
        twin = ax.twinx()
        twins.append(twin)
        for k, (column, (label, ls)) in enumerate(styles.items()):
            target = twin if column.startswith("rho") else ax
            target.plot(means.index, means[column], ls=ls, label=label, color=f"C{k}")
        ax.set(title=title, xlabel="step", ylabel="signal component gamma")
        _step_scale(ax, means.index)
        twin.set_ylabel("noise component rho (dashed)")
    if len(axes):
        h1, l1 = axes[0].get_legend_handles_labels()
        h2, l2 = twins[0].get_legend_handles_labels()
        fig.legend(h1 + h2, l1 + l2, loc="outside lower center", ncols=len(l1 + l2), frameon=False)
    fig.suptitle("Signal learning versus noise memorization")
    return save(fig, path)
