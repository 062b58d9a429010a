"""What the page-fact modules share: which studies are there, their classified runs (read once
per process), and how a number, a range and a study's wall time are printed.

A study counts as there when `studies/<name>/summary.parquet` exists and its manifest says the
sweep finished (`status = "complete"`): a sweep still writing its chunks is waiting, like a
missing one, so a page never shows half a grid. `ROOT` can point elsewhere (a folder of smoke
studies) to try a module on data of the right shape.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd
from figures import FIGURES, STUDIES, num, waiting  # noqa: F401  (re-exported for the page modules)

from w2s_jax.analysis import classes
from w2s_jax.sweeping.results import load_results

#: Where the studies are read from (`figures.STUDIES`; a test may point it elsewhere).
ROOT = STUDIES
#: The figures of these pages: PNG at this resolution, at most about 1000 px wide, so that the
#: docs column (about 750 px) shows their 9-point text at 8 points or more.
DPI = 100


def ready(name: str) -> bool:
    """The study's data is there and its sweep finished."""
    folder = ROOT / name
    if not (folder / "summary.parquet").exists():
        return False
    manifest = json.loads((folder / "manifest.json").read_text())
    return manifest.get("status") == "complete"


@functools.cache
def study(name: str):
    """`(summary, trajectories, manifest)` of a study (read once)."""
    return load_results(ROOT / name)


@functools.cache
def runs(name: str) -> pd.DataFrame:
    """The study's runs as `classes.classify` gives them, with the teacher columns of the
    summary beside them (`pseudo_label_acc`, `teacher_rule_share`, ...)."""
    summary, trajectories, _ = study(name)
    out = classes.classify(summary, trajectories)
    keys = [c for c in ("cell", "seed") if c in out and c in summary]
    extra = [c for c in summary.columns if c not in out.columns]
    return out.merge(summary[keys + extra], on=keys, how="left", validate="one_to_one")


def manifest(name: str) -> dict:
    return study(name)[2]


def wall(name: str) -> str:
    """`84 s (14 s compiling 3 programs)` from the study's manifest."""
    m = manifest(name)
    text = seconds(m["wall_s"])
    compile_s, tiers = m.get("compile_s"), m.get("tiers") or []
    if compile_s is not None:
        programs = f" {len(tiers)} program{'s' if len(tiers) != 1 else ''}" if tiers else ""
        text += f" ({seconds(compile_s)} compiling{programs})"
    return text


def seconds(s: float) -> str:
    """A duration: seconds below 10 minutes, minutes below 2 hours, else hours."""
    s = float(s)
    if s < 600:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def f3(v: float, digits: int = 3) -> str:
    """A number with `digits` decimals and a true minus sign."""
    return num(float(v), digits)


def signed(v: float, digits: int = 3) -> str:
    """A difference with its sign: `+0.035`, `−0.112`."""
    v = float(v)
    text = num(v, digits)
    return text if text.startswith("−") else "+" + text


def span(values, digits: int = 3, sep: str = "–") -> str:
    """`lo–hi` of some values (one number where they agree at `digits`)."""
    values = np.asarray(list(values), dtype=float)
    lo, hi = num(values.min(), digits), num(values.max(), digits)
    return lo if lo == hi else f"{lo}{sep}{hi}"


def g(v: float, digits: int = 2) -> str:
    """A number to `digits` significant digits, true minus sign (`3e-05` as `3e−5`)."""
    text = f"{float(v):.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text.replace("-", "−")


def share(v: float) -> str:
    """A share as a percentage: `72%`."""
    return f"{100 * float(v):.0f}%"


def png(fig, name: str) -> Path:
    """Write `docs/figures/<name>.png` the same way on every run (no Software metadata)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    path = FIGURES / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return path


def figure(width: float, height: float):
    """A matplotlib Figure (no pyplot) with the pages' text sizes: 9 pt at least."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig


def regrid(fig, columns: int = 2, width: float = 4.0, height: float = 3.0):
    """Lay a library figure's panels out `columns` to a row (they come in one long row), so
    that its text stays readable at the page's width; returns the figure."""
    readable(fig)
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.get_subplotspec() is not None]
    if len(axes) <= columns:
        fig.set_size_inches(width * len(axes), height + 0.9)
        return fig
    rows = -(-len(axes) // columns)
    grid = fig.add_gridspec(rows, columns)
    for i, ax in enumerate(axes):
        ax.set_subplotspec(grid[i // columns, i % columns])
    fig.set_size_inches(width * columns, height * rows + 0.9)
    return fig


def readable(fig, least: float = 9.0) -> None:
    """Raise every legend's text to `least` points (library plots write some at 7)."""
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    for legend in legends:
        for text in legend.get_texts():
            text.set_fontsize(max(text.get_fontsize(), least))
        if legend.get_title() is not None:
            legend.get_title().set_fontsize(max(legend.get_title().get_fontsize(), least))


def legend_below(fig, ncols: int = 3, fontsize: float = 9) -> None:
    """Move the legend a library plot put inside one of its panels below the panels, in
    text the page can read."""
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        handles, labels = legend.legend_handles, [t.get_text() for t in legend.get_texts()]
        legend.remove()
        fig.legend(
            handles,
            labels,
            loc="outside lower center",
            ncols=ncols,
            fontsize=fontsize,
            frameon=False,
        )
        return


def matched(frame: pd.DataFrame, **values) -> pd.DataFrame:
    """The rows of `frame` whose columns are close to `values`."""
    mask = np.ones(len(frame), bool)
    for k, v in values.items():
        mask &= np.isclose(frame[k].to_numpy(float), float(v))
    return frame[mask]
