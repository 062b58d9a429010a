"""Convergence check of a finished study: rerun chosen cells under numerical variants and say
whether their class and gain stand.

A variant changes only how a cell is computed, never what it models:

- `small_step`: `eta/4` for `4·T` steps (the gradient-flow time `eta·T` held),
- `long_T`: `4·T` steps at the same `eta` (does the end state still move?),
- `wide`: `4·m` filters, with the step scaled so that training runs at the same speed. With
  the default output `F_s = (1/m)·Σ_r Σ_p ReLU(<w_{s,r}, x_p>)` the gradient on one filter
  carries the factor `1/m`, so a filter moves by `O(eta/m)` a step, and the output, an
  average of `m` filters, by `O(eta/m)` too: `eta·4` holds both. With `output_scale = "1"`
  (a sum) the output moves by `O(eta·m)` a step, so `eta/4` holds the output's speed.
- `small_init`: `sigma_0/10` (is the result set by the initial scale?),
- `float64`: the same run in 64-bit floats (`TrainConfig.dtype`),
- `rerun`: the original settings (reproduces the stored numbers; not run by default).

Each variant of each cell is one sweep run by the ordinary driver
(`sweeping.driver.run_sweep`) from the study's manifest config with the cell's grid values and
the variant's changes, into `DIR/check/VARIANT/cell-K` (resumable like any sweep). The seeds and
`base_seed` are the study's, so a variant's run sees the same data as the original run of the
same seed. The comparison (`compare`) is per cell and variant: the most common class, the final
and best test accuracy and the gain over the teacher (test accuracy minus the teacher's, as in
summary.parquet) of the original and of the variant, and

- `class_agrees`: the most common class is the same,
- `gain_agrees`: `|Δ gain_final|` and `|Δ gain_best|` (variant minus original, seed means) are
  both at most `tolerance = max(2·sqrt(se_o² + se_v²), GAIN_TOL)`, the seed standard errors of
  the two means (with one seed only `GAIN_TOL` remains),
- `agrees`: both,
- `paired`: the variant saw the same data as the original, seed by seed (equal teacher test
  accuracy and wrong pseudo-labels). Every variant is paired, `float64` included: a run
  draws its variates in 32 bits whatever its dtype (`model.streams`), so a float64 row
  compares two precisions of one draw. A row that is not paired (a study made before that)
  compares two draws of the data.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from w2s_jax.analysis.classes import CLASSES, classify
from w2s_jax.analysis.maps import decisive_cells, with_gains
from w2s_jax.analysis.report import load_results, markdown_table
from w2s_jax.model.config import ConfigError, TrainConfig
from w2s_jax.sweeping.config_file import load_config
from w2s_jax.sweeping.driver import SweepResult, run_sweep
from w2s_jax.sweeping.plan import smoke_config
from w2s_jax.sweeping.store import atomic_write_text

__all__ = [
    "VARIANTS",
    "DEFAULT_VARIANTS",
    "GAIN_TOL",
    "FACTOR",
    "Variant",
    "variant_config",
    "run_check",
    "compare",
    "select_cells",
    "check_figure",
    "markdown",
]

#: How much each variant scales its knob.
FACTOR = 4
#: The least tolerance on a gain difference (with one seed it is the whole tolerance).
GAIN_TOL = 0.02


@dataclasses.dataclass(frozen=True)
class Variant:
    """A change of a cell's resolved training fields: `changes(train) -> {field: value}`."""

    name: str
    description: str
    changes: Callable[[dict], dict]


def _longer(train: dict, factor: int) -> dict:
    """`T·factor`; a linear record schedule records every `record_every·factor` steps, so
    both runs record the same number of points."""
    out = {"T": int(train["T"]) * factor}
    if train.get("record_schedule", "linear") == "linear":
        out["record_every"] = int(train["record_every"]) * factor
    return out


def _wide(train: dict) -> dict:
    scale = FACTOR if train.get("output_scale", "1/m") == "1/m" else 1 / FACTOR
    return {"m": int(train["m"]) * FACTOR, "eta": float(train["eta"]) * scale}


VARIANTS = {
    v.name: v
    for v in (
        Variant(
            "small_step",
            f"eta/{FACTOR}, T·{FACTOR} (eta·T held)",
            lambda t: {"eta": float(t["eta"]) / FACTOR} | _longer(t, FACTOR),
        ),
        Variant("long_T", f"T·{FACTOR} (eta held)", lambda t: _longer(t, FACTOR)),
        Variant(
            "wide",
            f"m·{FACTOR}, eta·{FACTOR} with the 1/m output (eta/{FACTOR} with output_scale 1): "
            "training speed held",
            _wide,
        ),
        Variant("small_init", "sigma_0/10", lambda t: {"sigma_0": float(t["sigma_0"]) / 10}),
        Variant("float64", "dtype float64", lambda t: {"dtype": "float64"}),
        Variant("rerun", "the original settings (reproduces the stored numbers)", lambda t: {}),
    )
}
#: What `w2s check` runs when no variant is named.
DEFAULT_VARIANTS = ("small_step", "long_T", "wide", "small_init", "float64")


def _train_fields(summary: pd.DataFrame, cell: int) -> dict:
    """The resolved training fields of one cell, as the summary table stores them."""
    row = summary.loc[summary["cell"] == cell].iloc[0]
    fields = {}
    for f in dataclasses.fields(TrainConfig):
        if f.name in row.index:
            value = row[f.name]
            fields[f.name] = value.item() if hasattr(value, "item") else value
    return fields


def variant_config(config: dict, cell: int, variant: Variant, summary: pd.DataFrame) -> dict:
    """The sweep config (a dict) of one cell of the study under `variant`.

    Args:
        config: the study's config (`manifest.json`'s `config`).
        cell: the cell index (`summary.parquet`'s `cell` column, grid order).
        variant: what changes.
        summary: the study's summary (the cell's resolved fields: a step given as `eta_rel`
            becomes the `eta` it resolved to before it is scaled).
    """
    study = load_config(config)
    cells = list(study.cells())
    if not 0 <= cell < len(cells):
        raise ConfigError(f"--cells: cell {cell} is not in the study (cells 0..{len(cells) - 1})")
    values = cells[cell]
    changes = variant.changes(_train_fields(summary, cell))
    data, train = dict(study.data), dict(study.train)
    grid = {k: [v] for k, v in values.items()}
    for key, value in changes.items():
        grid.pop(key, None)
        if key == "eta":
            grid.pop("eta_rel", None)
            train.pop("eta_rel", None)
        train[key] = value
    return dict(
        name=f"{study.name}-check-{variant.name}-cell{cell}",
        description=f"{variant.description}; cell {cell} of {study.name}",
        seeds=study.seeds,
        base_seed=study.base_seed,
        data=data,
        train=train,
        grid=grid,
        sweep=dict(study.sweep),
    )


def select_cells(
    runs: pd.DataFrame, summary: pd.DataFrame, cells: Sequence[int] | None, n: int
) -> list[int]:
    """The cells to rerun: `cells` as given (checked against the study), else the `n`
    decisive cells (`maps.decisive_cells`: nearest a class cutoff in seed standard errors)."""
    known = set(int(c) for c in summary["cell"].unique())
    if cells:
        missing = [c for c in cells if c not in known]
        if missing:
            raise ConfigError(
                f"--cells: {', '.join(map(str, missing))} not in the study (cells "
                f"{min(known)}..{max(known)}; see summary.parquet's cell column)"
            )
        return list(dict.fromkeys(int(c) for c in cells))
    return [int(c) for c in decisive_cells(runs, n)["cell"]]


def run_check(
    directory: str | Path,
    cells: Sequence[int] | None = None,
    variants: Sequence[str] = DEFAULT_VARIANTS,
    n_cells: int = 4,
    quiet: bool = False,
    force: bool = False,
    **options,
) -> pd.DataFrame:
    """Rerun cells of the finished study in `directory` under `variants` and compare.

    Writes `DIR/check/VARIANT/cell-K/` (a sweep each), `DIR/check/check.parquet`,
    `DIR/check/check.md` and the figure `DIR/check/check.png`; returns the comparison (`compare`).

    Args:
        cells: cell indices (`summary.parquet`'s `cell`); default the `n_cells` decisive ones.
        variants: names of `VARIANTS`.
        quiet: no progress bars.
        force: replace variant results computed with other settings.
        **options: passed to `run_sweep` (`chunk_size`, `devices`, ...).
    """
    directory = Path(directory)
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        raise ConfigError(
            f"--variants: unknown {', '.join(map(repr, unknown)) or 'empty list'} "
            f"(choose from {', '.join(VARIANTS)})"
        )
    summary, trajectories, manifest = load_results(directory)
    if "config" not in manifest or "cell" not in summary:
        raise ConfigError(
            f"DIR: {str(directory)!r} has no manifest config or no cell column; `w2s check` "
            "reruns studies written by `w2s sweep`"
        )
    runs = classify(summary, trajectories)
    chosen = select_cells(runs, summary, cells, n_cells)
    study = manifest["config"]
    if manifest.get("smoke"):  # the study ran the shrunken config: its cells are those
        study = smoke_config(load_config(study)).to_dict()
    configs = {
        (v, c): variant_config(study, c, VARIANTS[v], summary) for v in variants for c in chosen
    }  # every config is built and validated before anything runs
    results = {}
    for k, ((v, c), config) in enumerate(configs.items()):
        if not quiet:
            print(
                f"w2s check: [{k + 1}/{len(configs)}] cell {c}, {v}: {VARIANTS[v].description}",
                file=sys.stderr,
            )
        out = directory / "check" / v / f"cell-{c}"
        result = None if force else _finished(out, config)
        if result is None:
            result = run_sweep(config, out, quiet=quiet, force=force, **options)
        results[v, c] = result
    table = compare(runs, results)
    _write(directory / "check", table, manifest)
    check_figure(table, directory / "check" / "check")
    return table


def _finished(out: Path, config: dict) -> SweepResult | None:
    """The stored result of a variant sweep that finished with this very config (its
    manifest, with the wall time of the run that computed it, is kept as it is), else None."""
    try:
        summary, trajectories, manifest = load_results(out)
    except ConfigError:
        return None
    same = manifest.get("config") == load_config(config).to_dict()
    if not same or manifest.get("status") != "complete":
        return None
    if len(summary) != manifest.get("n_runs"):
        return None
    return SweepResult(summary, trajectories, manifest)


def _cell_stats(runs: pd.DataFrame) -> dict:
    def mean_se(column):
        values = runs[column].to_numpy(float)
        se = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else np.nan
        return float(values.mean()), float(se)

    counts = runs["class"].value_counts()
    top = counts[counts == counts.max()].index
    out = dict(
        n_seeds=len(runs),
        class_=next(c for c in CLASSES if c in top),
        share=float(counts.max() / len(runs)),
    )
    for column in ("final_test_acc", "best_test_acc", "gain_final", "gain_best"):
        out[column], out[f"{column}_se"] = mean_se(column)
    return out


def compare(runs: pd.DataFrame, results: dict) -> pd.DataFrame:
    """One row per (cell, variant): original and variant values and whether they agree.

    Args:
        runs: `classes.classify` rows of the study.
        results: `{(variant, cell): SweepResult}` of the variant sweeps.
    """
    rows = []
    for (variant, cell), result in results.items():
        original = with_gains(runs[runs["cell"] == cell]).sort_values("seed")
        rerun = with_gains(classify(result.summary, result.trajectories)).sort_values("seed")
        o, r = _cell_stats(original), _cell_stats(rerun)
        row = dict(cell=cell)
        for axis in ("n_st", "n_st_snr", "d_over_n"):
            if axis in original:
                row[axis] = float(original[axis].iloc[0])
        row |= dict(variant=variant, n_seeds=o["n_seeds"], class_original=o["class_"])
        row["class_variant"] = r["class_"]
        paired = original.merge(rerun[["seed", "class"]], on="seed", suffixes=("", "_v"))
        # Same draws? The teacher's test accuracy and its wrong labels depend only on them.
        same = [c for c in ("weak_test_acc", "n_wrong_pseudo") if c in original and c in rerun]
        both = original[["seed", *same]].merge(rerun[["seed", *same]], on="seed")
        # To float32 rounding: a float64 rerun stores the same accuracy in 64 bits.
        row["paired"] = bool(
            len(both)
            and all(
                np.allclose(both[f"{c}_x"].to_numpy(float), both[f"{c}_y"].to_numpy(float),
                            rtol=0, atol=1e-7)
                for c in same
            )
        )  # fmt: skip
        row["same_class_seeds"] = f"{int((paired['class'] == paired['class_v']).sum())}/" + str(
            len(paired)
        )
        gaps = {}
        for column in ("final_test_acc", "best_test_acc", "gain_final", "gain_best"):
            row[f"{column}_original"] = o[column]
            row[f"{column}_variant"] = r[column]
        for column in ("gain_final", "gain_best"):
            spread = np.sqrt(np.nansum([o[f"{column}_se"] ** 2, r[f"{column}_se"] ** 2]))
            tolerance = max(2.0 * float(spread), GAIN_TOL)
            gaps[column] = r[column] - o[column]
            row[f"delta_{column}"] = gaps[column]
            row[f"tol_{column}"] = tolerance
            # With paired draws the per-seed differences have their own, smaller, spread.
            diff = original.merge(rerun[["seed", column]], on="seed")
            diff = (diff[f"{column}_y"] - diff[f"{column}_x"]).to_numpy(float)
            row[f"paired_se_{column}"] = (
                float(diff.std(ddof=1) / np.sqrt(len(diff)))
                if row["paired"] and len(diff) > 1
                else np.nan
            )
        row["class_agrees"] = o["class_"] == r["class_"]
        row["gain_agrees"] = all(abs(gaps[c]) <= row[f"tol_{c}"] for c in gaps)
        row["agrees"] = row["class_agrees"] and row["gain_agrees"]
        row["wall_s"] = result.manifest.get("wall_s")
        rows.append(row)
    return pd.DataFrame(rows)


def _write(folder: Path, table: pd.DataFrame, manifest: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    table.to_parquet(folder / "check.parquet", index=False)
    atomic_write_text(
        markdown(table, manifest.get("config", {}).get("name", "")), folder / "check.md"
    )


def markdown(table: pd.DataFrame, name: str = "") -> str:
    """The check table as Markdown, with the variants and the agreement rule."""
    used = list(dict.fromkeys(table["variant"]))
    lines = [f"# Convergence check{': ' + name if name else ''}", "", "Variants:", ""]
    lines += [f"- `{v}`: {VARIANTS[v].description}" for v in used]
    lines += [
        "",
        "A variant agrees when the most common class over seeds is the same and both "
        "`|Δ gain_final|` and `|Δ gain_best|` (seed means, variant minus original) are at "
        f"most `max(2·sqrt(se_o² + se_v²), {GAIN_TOL:g})`. `paired`: the variant's runs saw "
        "the same data as the original runs of the same seed (the teacher's test accuracy and "
        "its wrong labels are equal seed by seed); unpaired rows compare two draws. "
        "`paired_se_*`: the seed standard error of the per-seed differences of paired rows.",
        "",
    ]
    shown = [
        c
        for c in (
            "cell",
            "n_st",
            "n_st_snr",
            "d_over_n",
            "variant",
            "class_original",
            "class_variant",
            "paired",
            "same_class_seeds",
            "final_test_acc_original",
            "final_test_acc_variant",
            "best_test_acc_original",
            "best_test_acc_variant",
            "gain_final_original",
            "delta_gain_final",
            "gain_best_original",
            "delta_gain_best",
            "tol_gain_final",
            "tol_gain_best",
            "paired_se_gain_final",
            "paired_se_gain_best",
            "agrees",
            "wall_s",
        )
        if c in table
    ]
    lines += [markdown_table(table[shown]), ""]
    bad = table[~table["agrees"]]
    if len(bad):
        lines += [
            f"{len(bad)} of {len(table)} rows disagree: "
            + "; ".join(
                f"cell {r.cell} under `{r.variant}` ("
                + (
                    "class " + r.class_original + " → " + r.class_variant
                    if not r.class_agrees
                    else "gain"
                )
                + ")"
                for r in bad.itertuples()
            )
            + ".",
            "",
        ]
    else:
        lines += [f"All {len(table)} rows agree.", ""]
    return "\n".join(lines)


def check_figure(table: pd.DataFrame, path=None):
    """Per variant, each cell's change of gain (variant minus original, final and best step)
    with its tolerance as a band; a cross marks a row whose class changed."""
    from w2s_jax.analysis import plots

    variants = list(dict.fromkeys(table["variant"]))
    fig, axes = plots._panels(len(variants), width=3.6, height=3.2, columns=len(variants))
    cells = list(dict.fromkeys(table["cell"]))
    for ax, variant in zip(axes, variants):
        rows = table[table["variant"] == variant].set_index("cell").reindex(cells)
        where = np.arange(len(cells))
        for offset, column, colour in ((-0.15, "gain_final", "C0"), (0.15, "gain_best", "C1")):
            tol = rows[f"tol_{column}"].to_numpy(float)
            ax.bar(where + offset, 2 * tol, bottom=-tol, width=0.28, color=colour, alpha=0.18)
            ax.plot(where + offset, rows[f"delta_{column}"], "o", color=colour, label=f"Δ {column}")
        changed = ~rows["class_agrees"].astype(bool).to_numpy()
        if changed.any():
            ax.plot(
                where[changed],
                np.zeros(changed.sum()),
                "x",
                color="black",
                ms=10,
                mew=2,
                label="class changed",
            )
        ax.axhline(0, color="gray", lw=0.8)
        ax.set_xticks(where, [f"cell {c}" for c in cells], rotation=45)
        ax.set(title=variant)
    axes[0].set_ylabel("variant − original (shaded: tolerance)")
    handles, labels = [], []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), frameon=False)
    fig.suptitle("Convergence check: change of the gain over the teacher under each variant")
    return plots.save(fig, path)
