"""docs/check.md: the convergence checks of the headline plane (n_st = 300 and 1000) and of the
main job. Which cells a check takes and their own numbers come from the study's data
(`maps.decisive_cells`, as `w2s check` chooses them); the variants' numbers come from what
`w2s check studies/<study>` writes beside the data, `studies/<study>/check/check.parquet` (the
table of `analysis.check.compare`) and `check/VARIANT/cell-K` (the variant runs), and wait for
it where it is not committed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from w2s_jax.analysis import check, maps
from w2s_jax.analysis.classes import classify
from w2s_jax.analysis.report import markdown_table
from w2s_jax.sweeping.results import load_results

from . import _data
from ._data import f3, g, png, ready, regrid, runs, seconds, signed, span, waiting

#: What the page calls each variant.
WORDS = {
    "small_step": f"a {check.FACTOR}× smaller step with `eta·T` held",
    "long_T": f"{ {2: 'two', 4: 'four', 10: 'ten'}.get(check.FACTOR, check.FACTOR) } times the "
    "training",
    "wide": f"a {check.FACTOR}× wider student",
    "small_init": "a 10× smaller initialization",
    "float64": "float64",
    "rerun": "a rerun",
}
#: Differences of seed means below this are float32 storage of one count, not a change.
SAME = 1e-6
KEYS = ("chosen", "time", "table", "figure", "findings")


def facts(draw: bool = False) -> tuple[dict[str, str], list[str]]:
    out, missing = {}, []
    sections = (
        ("coin", "plane_coin", dict(n_cells=3), None),
        ("coin_1000", "plane_coin_1000", dict(n_cells=3), None),
        ("paper", "paper", dict(cells=[0, 1, 2]), [0, 1]),
        ("paper_20000", "paper", dict(cells=[0, 1, 2]), [2]),
    )
    for key, name, choose, shown in sections:
        f, m = _section(key, name, choose, shown, draw)
        out |= f
        missing += m
    return out, sorted(set(missing))


def _command(name: str, choose: dict) -> str:
    if "cells" in choose:
        return f"w2s check studies/{name} --cells {','.join(map(str, choose['cells']))}"
    return f"w2s check studies/{name} --n-cells {choose['n_cells']}"


def _section(key, name, choose, shown, draw) -> tuple[dict[str, str], list[str]]:
    prefix = f"check_{key}_"
    keys = KEYS + (("seeds",) if key == "paper_20000" else ())
    if not ready(name):
        return {prefix + k: "" for k in keys} | {prefix + "chosen": waiting(name)}, [name]
    study_runs = runs(name)
    cells = _cells(study_runs, choose)
    if shown is not None:
        cells = cells[cells["cell"].isin(shown)]
    if cells.empty:
        text = f"*(`studies/{name}` has no cell {', '.join(map(str, shown or []))})*"
        return {prefix + k: "" for k in keys} | {prefix + "chosen": text}, []
    out = {prefix + "chosen": _chosen(name, study_runs, cells, choose, key)}
    table = _check_table(name)
    if table is not None:
        table = table[table["cell"].isin(cells["cell"])]
    if table is None or table.empty:
        out |= {prefix + k: "" for k in keys if k != "chosen"}
        out[prefix + "table"] = "The variant runs: " + waiting(
            f"{name}/check", _command(name, choose)
        )
        return out, [f"{name}/check"]
    out[prefix + "time"] = (
        f"The variant sweeps took {seconds(table['wall_s'].sum())} together "
        f"({_per_variant(table, study_runs)} runs per variant)."
    )
    out[prefix + "table"] = _markdown(table)
    figure = f"check_{name}" + ("_20000" if key == "paper_20000" else "")
    out[prefix + "figure"] = f"![check of {name}](figures/{figure}.png)"
    out[prefix + "findings"] = _findings(table, cells)
    if key == "paper_20000":
        out[prefix + "seeds"] = _per_seed(name, study_runs, int(cells["cell"].iloc[0]), table)
    if draw:
        _figure(table, figure)
    return out, []


# -- the cells ---------------------------------------------------------------------------------


def _cells(study_runs: pd.DataFrame, choose: dict) -> pd.DataFrame:
    """Per cell of the study: seed means and errors, class, margin to the nearest cutoff, in
    the order `w2s check` takes them."""
    every = maps.decisive_cells(study_runs, n=study_runs["cell"].nunique())
    if "cells" in choose:
        known = [c for c in choose["cells"] if c in set(every["cell"])]
        return every.set_index("cell").loc[known].reset_index()
    return every.head(choose["n_cells"])


def _coordinates(study_runs: pd.DataFrame, cell: int) -> str:
    row = study_runs[study_runs["cell"] == cell].iloc[0]
    return f"({row.n_st_snr:g}, {row.d_over_n:g})"


def _chosen(name, study_runs, cells, choose, key) -> str:
    """Which cells the check takes and what they are in the study, with a table."""
    n_st = sorted({int(v) for v in study_runs[study_runs["cell"].isin(cells["cell"])]["n_st"]})
    seeds = study_runs["seed"].nunique()
    names = [str(int(c)) for c in cells["cell"]]
    where = [_coordinates(study_runs, int(c)) for c in cells["cell"]]
    rows = []
    for c in cells.itertuples():
        at = study_runs[study_runs["cell"] == c.cell]
        counts = at["class"].value_counts()
        rows.append(
            {
                "cell": int(c.cell),
                "n_st": int(at["n_st"].iloc[0]),
                "(n_st·snr, d/n_st)": _coordinates(study_runs, int(c.cell)),
                "class (seeds)": ", ".join(
                    f"{k.replace('_', ' ')} {v}/{len(at)}" for k, v in counts.items()
                ),
                "final test": f"{f3(c.final_test_acc)} ± {f3(c.final_test_acc_se)}",
                "best test": f"{f3(c.best_test_acc)} ± {f3(c.best_test_acc_se)}",
                "gain final": signed(c.gain_final),
                "gain best": signed(c.gain_best),
                "nearest cutoff (seed SEs)": _cutoff(c.nearest, c.margin),
            }
        )
    table = markdown_table(pd.DataFrame(rows))
    owner = "The row's" if len(cells) == 1 else "The rows'"
    if key.startswith("paper"):
        return (
            f"{owner} runs in the study ({seeds} seeds, "
            "seed mean ± standard error; the "
            "nearest cutoff is the one whose threshold lies fewest seed standard errors from "
            f"its seed mean):\n\n{table}"
        )
    nearest = {c for c in cells["nearest"] if c}
    cutoff = (
        f"all {_count(len(cells))} nearest one cutoff, {_cutoff_text(nearest.pop())};"
        if len(nearest) == 1
        else "nearest cutoffs: " + ", ".join(_cutoff_text(n) for n in sorted(nearest)) + ";"
    )
    return (
        f"`{_command(name, choose)}` takes cells {_and(names)} of its "
        f"{study_runs['cell'].nunique()} (`n_st = {', '.join(map(str, n_st))}`, {seeds} seeds), "
        f"`(n_st·snr, d/n_st)` = {_and(where)}: the cells whose seed means lie nearest a class "
        f"cutoff ({cutoff} final test accuracy {span(cells['final_test_acc'])}). In the "
        f"study (seed mean ± standard error):\n\n{table}"
    )


def _cutoff_text(name: str) -> str:
    return next(c.text for c in maps.CUTOFFS if c.name == name)


def _cutoff(name: str, margin: float) -> str:
    if not name or not np.isfinite(margin):
        return "none that changes the class"
    return f"{_cutoff_text(name)} ({margin:.2f})"


def _count(n: int) -> str:
    return {2: "two", 3: "three", 4: "four"}.get(n, str(n))


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# -- the variants ------------------------------------------------------------------------------


def _check_table(name: str) -> pd.DataFrame | None:
    path = _data.ROOT / name / "check" / "check.parquet"
    return pd.read_parquet(path) if path.exists() else None


def _per_variant(table: pd.DataFrame, study_runs: pd.DataFrame) -> str:
    """Runs per variant: the seeds of every cell the variant reran."""
    seeds = study_runs.groupby("cell")["seed"].nunique()
    counts = {
        v: int(sum(seeds.get(c, 0) for c in group["cell"])) for v, group in table.groupby("variant")
    }
    values = sorted(set(counts.values()))
    return str(values[0]) if len(values) == 1 else " to ".join(map(str, (values[0], values[-1])))


def _markdown(table: pd.DataFrame) -> str:
    """The check's table as `analysis.check.markdown` writes it (its table lines)."""
    text = check.markdown(table)
    return "\n".join(line for line in text.splitlines() if line.startswith("|"))


def _findings(table: pd.DataFrame, cells: pd.DataFrame) -> str:
    """What the table shows, read from it: the largest change per variant, float64, the rows
    that disagree and why."""
    lines = ["What it shows:", ""]
    variants = list(dict.fromkeys(table["variant"]))
    numeric = [v for v in variants if v != "float64"]
    over = table[~table["gain_agrees"].astype(bool)]
    if numeric:
        rows = table[table["variant"].isin(numeric)]
        largest = max(rows["delta_gain_final"].abs().max(), rows["delta_gain_best"].abs().max())
        parts = []
        for v in numeric:
            at = table[table["variant"] == v]
            final = at.loc[at["delta_gain_final"].abs().idxmax(), "delta_gain_final"]
            best = at.loc[at["delta_gain_best"].abs().idxmax(), "delta_gain_best"]
            parts.append(f"{WORDS[v]} {_delta(final)} ({_delta(best)})")
        head = (
            f"**No variant moves a seed-mean gain by more than {g(largest)}.**"
            if over.empty
            else "**Not every gain stays within its tolerance.**"
        )
        lines.append(
            f"- {head} Largest change of the final gain, variant minus original (best-step gain "
            f"in brackets): {_and(parts)}. The tolerances are {g(_tolerance(table))} or more."
        )
    if "float64" in variants:
        at = table[table["variant"] == "float64"]
        moved = max(at["delta_gain_final"].abs().max(), at["delta_gain_best"].abs().max())
        if moved < SAME:
            lines.append(
                "- **float64 changes nothing.** Every run draws its variates in 32 bits whatever "
                "its dtype (`model.streams`), so the float64 rows are paired: the same data, "
                "noise and initial filters computed in 64 bits. The seed means of the final and "
                + (
                    f"the best gain move by at most {g(moved, 1)}, the float32 storage of an "
                    "accuracy: the same counts."
                    if moved > 0
                    else "the best gain do not move at all: the same counts."
                )
            )
        else:
            lines.append(
                f"- **float64 moves the gains** by up to {g(moved)} (seed means): float32 is "
                "not exact for these runs."
            )
    for r in over.itertuples():
        tol = r.tol_gain_final if abs(r.delta_gain_final) > r.tol_gain_final else r.tol_gain_best
        lines.append(
            f"- Cell {int(r.cell)} under `{r.variant}` moves a gain beyond its tolerance: final "
            f"{_delta(r.delta_gain_final)}, best {_delta(r.delta_gain_best)} against "
            f"{g(tol)} (paired SE {g(r.paired_se_gain_final)}): "
            + (
                "its end state is not converged at the study's settings."
                if r.variant == "long_T"
                else "the cell is not converged in this variant."
            )
        )
    flips = table[~table["class_agrees"].astype(bool) & table["gain_agrees"].astype(bool)]
    if len(flips):
        undecided = set(int(c) for c in cells.loc[cells["margin"] <= 1.0, "cell"])
        parts = []
        for r in flips.itertuples():
            parts.append(
                f"cell {int(r.cell)} under `{r.variant}` ({r.class_original.replace('_', ' ')} → "
                f"{r.class_variant.replace('_', ' ')}, {r.same_class_seeds} seeds keep their "
                f"class, Δ final gain {_delta(r.delta_gain_final)})"
            )
        marked = sorted(undecided & set(int(c) for c in flips["cell"]))
        lines.append(
            f"- **{_count(len(flips)).capitalize()} row{'s' if len(flips) > 1 else ''} change"
            f"{'' if len(flips) > 1 else 's'} class with the gain inside its tolerance**: "
            + "; ".join(parts)
            + ". A seed at the cutoff crosses it, the numerics stay"
            + (
                f"; the map draws cell{'s' if len(marked) > 1 else ''} "
                f"{_and([str(c) for c in marked])} undecided."
                if marked
                else "."
            )
        )
    if over.empty and not len(flips):
        lines.append("- **Every row agrees.**")
    lines.append("")
    if over.empty:
        lines.append(
            "So these cells are converged in "
            + _and([_what(v) for v in variants if v != "rerun"])
            + (
                "; what the variants move is which side of a cutoff a seed at the cutoff falls on."
                if len(flips)
                else "."
            )
        )
    else:
        lines.append(
            "So these cells are not converged under "
            + _and(sorted({f"`{v}`" for v in over["variant"]}))
            + "; the other variants leave them as they are."
        )
    return "\n".join(lines)


def _what(variant: str) -> str:
    return {
        "small_step": "step",
        "long_T": "length",
        "wide": "width",
        "small_init": "initialization",
        "float64": "precision",
    }[variant]


def _delta(v: float) -> str:
    return "0" if abs(v) < SAME else signed(v, 4 if abs(v) < 0.01 else 3)


def _tolerance(table: pd.DataFrame) -> float:
    return float(min(table["tol_gain_final"].min(), table["tol_gain_best"].min()))


def _per_seed(name: str, study_runs: pd.DataFrame, cell: int, table: pd.DataFrame) -> str:
    """The cell's runs seed by seed, originally and under each variant whose runs are
    committed: best test accuracy and step, final test accuracy and fit of the pseudo-labels."""
    frames = [("original", study_runs[study_runs["cell"] == cell])]
    for variant in dict.fromkeys(table["variant"]):
        folder = _data.ROOT / name / "check" / variant / f"cell-{cell}"
        if (folder / "summary.parquet").exists():
            summary, trajectories, _ = load_results(folder)
            frames.append((variant, classify(summary, trajectories)))
    if len(frames) == 1:
        return (
            f"*(the variant runs seed by seed wait for `studies/{name}/check/VARIANT/cell-{cell}`)*"
        )
    rows = []
    for variant, frame in frames:
        for r in frame.sort_values("seed").to_dict("records"):
            rows.append(
                {
                    "run": variant,
                    "seed": int(r["seed"]),
                    "T": int(r["final_step"]),
                    "best test (step)": f"{f3(r['best_test_acc'])} ({int(r['best_step'])})",
                    "corrected at best": f3(r["label_correction_best"], 2),
                    "train (pseudo) at best / final": f"{f3(r['train_acc_pseudo_best'])} / "
                    f"{f3(r['final_train_acc_pseudo'], 4)}",
                    "final test": f3(r["final_test_acc"]),
                    "class": r["class"].replace("_", " "),
                }
            )
    return "Seed by seed (the original runs and each variant's):\n\n" + markdown_table(
        pd.DataFrame(rows)
    )


def _figure(table: pd.DataFrame, name: str, columns: int = 3) -> None:
    """`analysis.check.check_figure`, its panels laid out `columns` to a row so that the
    figure keeps its text readable at the width of the page."""
    png(regrid(check.check_figure(table, None), columns, 3.2, 2.9), name)
