"""docs/results.md: the studies and what they found, from their committed data. The main job,
the trained-teacher plane, the calibration point and the handwritten digits are here; the
"beyond the theorems" studies in `_results_beyond.py`, and the studies whose data is not
committed yet (their sections wait for it) in `_results_waiting.py`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plane_figure as pf

from w2s_jax.analysis import paper, plots
from w2s_jax.analysis.report import markdown_table
from w2s_jax.analysis.rules import HARMFUL_ERROR, MIN_DEGRADATION, WEAK_MARGIN, below

from . import _data
from ._data import (
    f3,
    figure,
    legend_below,
    manifest,
    png,
    ready,
    runs,
    seconds,
    share,
    signed,
    span,
    study,
    waiting,
)
from ._results_beyond import beyond
from ._results_waiting import boundary_d, early_stopping, law, paper_table, phase_boundary, search


def facts(draw: bool = False) -> tuple[dict[str, str], list[str]]:
    out, missing = {}, []
    for section in (
        _paper,
        _trained,
        _calibration,
        _digits,
        beyond,
        boundary_d,
        law,
        phase_boundary,
        search,
        paper_table,
        early_stopping,
    ):
        f, m = section(draw)
        out |= f
        missing += m
    return out, sorted(set(missing))


def _waiting(name: str, keys) -> tuple[dict[str, str], list[str]]:
    text = waiting(name)
    return {k: text for k in keys}, [name]


# -- the main job ----------------------------------------------------------------------------

PAPER_KEYS = ("res_paper_seeds", "res_paper_time", "res_paper_table", "res_paper_prose")


def _paper(draw: bool) -> tuple[dict[str, str], list[str]]:
    if not ready("paper"):
        return _waiting("paper", PAPER_KEYS)
    rows = paper.paper_rows(runs("paper")).sort_values(["n_st", "seed"])
    m = manifest("paper")
    big = max(m["tiers"], key=lambda tier: tier["n_max"])
    time = (
        f"{seconds(m['wall_s'])} (`studies/paper/manifest.json`: {seconds(m['compile_s'])} "
        f"compiling {len(m['tiers'])} programs, {seconds(big['run_s'] / big['runs'])} per "
        f"`n_st = {big['n_max']}` run)"
    )
    table = []
    for n_st, group in rows.groupby("n_st"):
        regime, reported, _ = paper.PAPER[n_st]
        first = group.iloc[0]
        bold_final = regime in ("harmful", "benign")
        final = ", ".join(f3(v) for v in group["final_test_acc"])
        best = ", ".join(
            f"{f3(a)} ({int(s)})" for a, s in zip(group["best_test_acc"], group["best_step"])
        )
        corrected = ", ".join(f3(v, 2) for v in group["label_correction_best"])
        table.append(
            {
                "n_st": int(n_st),
                "`(n_st·snr, d/n_st)`, tau": f"({first.n_st_snr:g}, {first.d_over_n:g}), "
                f"{first.tau:.2g}",
                "paper reports": f"{reported}: {regime}",
                "weak test": ", ".join(f3(v) for v in group["weak_test_acc"]),
                "best test (step)": best if bold_final else f"**{best}**",
                "wrong labels corrected at best": corrected if bold_final else f"**{corrected}**",
                "train (pseudo) at best / final": ", ".join(
                    f3(v) for v in group["train_acc_pseudo_best"]
                )
                + " / "
                + ", ".join(f3(v) for v in group["final_train_acc_pseudo"]),
                "final test": f"**{final}**" if bold_final else final,
                "meets": _meets(regime, group),
            }
        )
    return {
        "res_paper_seeds": str(rows["seed"].nunique()),
        "res_paper_time": time,
        "res_paper_table": markdown_table(pd.DataFrame(table)),
        "res_paper_prose": _paper_prose(rows),
    }, []


def _meets(regime: str, group: pd.DataFrame) -> str:
    """`k/n` and, for the seeds that miss, by how much."""
    text = f"{int(group['meets'].sum())}/{len(group)}"
    missed = group[~group["meets"]]
    if missed.empty:
        return text
    if regime == "harmful":
        gains = ", ".join(signed(v) for v in group["gain_final"])
        return f"{text} ({gains} from weak)"
    if regime == "benign":
        parts = []
        for r in missed.itertuples():
            error, level = 1 - r.final_test_acc, HARMFUL_ERROR * r.p_h
            parts.append(f"error {f3(error)} ≥ {f3(level)}")
        who = "the other ends at" if len(missed) < len(group) else "ends at"
        return f"{text} ({who} {', '.join(parts)})"
    return f"{text} (" + ", ".join(c.replace("_", " ") for c in missed["class"]) + ")"


def _paper_prose(rows: pd.DataFrame) -> str:
    """The paragraph under the main job's table."""
    small, mid, big = (rows[rows["n_st"] == n] for n in (75, 2000, 20000))
    classes = {n: set(g["class"]) for n, g in rows.groupby("n_st")}
    every = all(paper.PAPER[n][0].replace(" ", "_") in c for n, c in classes.items())
    lead = (
        "All three of the paper's pictures appear on one distribution, not in every seed"
        if every
        else "Not every one of the paper's pictures appears on this distribution"
    )
    fits = lambda g: bool((g["final_train_acc_pseudo"] >= 0.99).all())  # noqa: E731
    near = (small["gain_final"].abs() <= WEAK_MARGIN).sum()
    at_weak = (
        "in neither seed"
        if near == 0
        else f"in {near} of {len(small)} seeds"
        if near < len(small)
        else "in every seed"
    )
    level = HARMFUL_ERROR * float(mid["p_h"].iloc[0])
    short = []
    for r in mid.itertuples():
        error = 1 - r.final_test_acc
        if below(error, level):
            short.append("benign by the theorem's level")
        else:
            points = int(round((error - level) * r.n_test)) + 1
            short.append(
                f"{points} test point{'s' if points > 1 else ''} of {int(r.n_test)} short of it"
            )
    mid_text = (
        f"it {'fits every pseudo-label, the wrong ones included, and ' if fits(mid) else ''}ends "
        f"{_points(mid['gain_final'])} points above the weak model ("
        + "; ".join(f"seed {int(s)}: {t}" for s, t in zip(mid["seed"], short))
        + ")"
    )
    big_text = (
        f"its train accuracy against the pseudo-labels is {span(big['train_acc_pseudo_best'], 2)} "
        f"at its best step (the pseudo-labels are {share(big['pseudo_label_acc'].mean())} right) "
        f"while the test accuracy reaches {_and([f3(v) for v in big['best_test_acc']])} with "
        f"{_percent_span(big['label_correction_best'])} of the wrong pseudo-labels corrected, "
        f"and overtraining then fits them ({span(big['final_train_acc_pseudo'])} by step "
        f"{int(big['final_step'].max())})"
    )
    long = _long_T()
    return (
        f"{lead}: at `n_st = 75` the student "
        f"{'fits every pseudo-label and ' if fits(small) else ''}ends "
        f"{_and([signed(v) for v in small['gain_final']])} from its teacher (the paper's \"at the "
        f"weak model's level\" {at_weak} by `WEAK_MARGIN = {WEAK_MARGIN:g}`); at `n_st = 2000` "
        f"{mid_text}; at `n_st = 20000` {big_text}. Whether `T = {int(big['final_step'].max())}` "
        f"is the end of that decline is what `w2s check`'s `long_T` tests on the same draws "
        f"([checks](check.md#the-n_st-20000-row-label-correction)): {long}."
    )


def _long_T() -> str:
    """The 20000 row trained four times longer (`w2s check`'s `long_T` runs), if committed."""
    folder = _data.ROOT / "paper" / "check" / "long_T" / "cell-2"
    if not (folder / "summary.parquet").exists():
        return waiting("paper/check", "w2s check studies/paper --cells 2 --variants long_T")
    from w2s_jax.analysis.classes import classify
    from w2s_jax.sweeping.results import load_results

    summary, trajectories, _ = load_results(folder)
    r = classify(summary, trajectories).sort_values("seed")
    return (
        f"trained to `T = {int(r['final_step'].max())}` the row fits "
        f"{_and([f3(v, 4) for v in r['final_train_acc_pseudo']])} of its pseudo-labels and its "
        f"test accuracy ends at {_and([f3(v) for v in r['final_test_acc']])}"
    )


def _points(gains) -> str:
    """Gains in accuracy points: `12–14`."""
    return span(np.asarray(gains, float) * 100, 0)


def _percent_span(values) -> str:
    values = np.asarray(values, float) * 100
    lo, hi = f"{values.min():.0f}", f"{values.max():.0f}"
    return f"{lo}%" if lo == hi else f"{lo}–{hi}%"


def _and(items: list[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# -- the trained-teacher plane ---------------------------------------------------------------

TRAINED_KEYS = (
    "res_trained_runs",
    "res_trained_ridge_tau",
    "res_trained_slopes",
    "res_trained_minus_two",
    "res_trained_rule_share",
    "res_trained_benign",
    "res_trained_lc_head",
    "res_trained_lc_cells",
    "res_trained_benign_seeds",
    "res_trained_lc",
    "res_coin_lc",
)


def _trained(draw: bool) -> tuple[dict[str, str], list[str]]:
    names = [f.name for f in pf.plane_folders(_data.ROOT, "trained")]
    missing = [
        n for n in ("plane_trained", "plane_trained_1000", "plane_trained_3000") if n not in names
    ]
    if not names:
        out, _ = _waiting("plane_trained", TRAINED_KEYS)
        return out, missing
    ridge_tau, slopes, inside, share_rule, benign, lc, seeds_max = [], [], [], [], [], [], []
    lc_rows = []
    runs_per = []
    for name in names:
        at = runs(name)
        at = at[at["engine"].astype(str) != "limit"]
        n_st = int(at["n_st"].iloc[0])
        n_seeds = at["seed"].nunique()
        runs_per.append(f"{len(at)} runs at {n_st} ({n_seeds} seeds)")
        ridge = pf.ridge(at)
        low = ridge[(ridge["n_st_snr"] <= 5.3 + 1e-9) & ridge["inside"]]
        ridge_tau.append(f"{span(low['tau'], 1)} (`n_st = {n_st}`)")
        fit = pf.ridge_slope(at)
        slopes.append(
            f"{f3(fit['slope'], 2)} (seed bootstrap {f3(fit['lo'], 2)} to "
            f"{f3(fit['hi'], 2)}) at {n_st}"
        )
        inside.append(fit["lo"] <= -2 <= fit["hi"])
        if "teacher_rule_share" in at:
            cell_share = at.groupby(["n_st_snr", "d_over_n"])["teacher_rule_share"].mean()
            share_rule.append(cell_share.max())
        cells = pf.per_n_st(at.drop(columns=["cell"]).assign(cell=0))[n_st]
        good = cells[cells["class"] == "benign"]
        per_cell = at.groupby(["n_st_snr", "d_over_n"])["class"].apply(
            lambda s: (s == "benign").sum()
        )
        seeds_max.append(f"{int(per_cell.max())} of {n_seeds} seeds of a cell at {n_st}")
        if good.empty:
            benign.append(
                f"no cell at {n_st} ({int((at['class'] == 'benign').sum())} of {len(at)} runs, at "
                f"most {int(per_cell.max())} of {n_seeds} seeds per cell)"
            )
        else:
            benign.append(
                f"{len(good)} cell{'s' if len(good) > 1 else ''} at {n_st} (final gain "
                f"{span(good['gain_final'])})"
            )
        corr = cells[cells["class"] == "label_correction"]
        lc.append((n_st, [f"({x:g}, {y:g})" for x, y in zip(corr["n_st_snr"], corr["d_over_n"])]))
        lc_rows += list(corr["d_over_n"])
    lc_text = "; ".join((f"{_and(cells)} at {n}" if cells else f"none at {n}") for n, cells in lc)
    little = bool(lc_rows) and max(lc_rows) <= 3
    return {
        "res_trained_runs": _and(runs_per),
        "res_trained_ridge_tau": _and(ridge_tau),
        "res_trained_slopes": _and(slopes),
        "res_trained_minus_two": (
            "outside every interval"
            if not any(inside)
            else "inside the interval at "
            + _and(
                [
                    n.split("_")[-1] if n != "plane_trained" else "300"
                    for n, i in zip(names, inside)
                    if i
                ]
            )
        ),
        "res_trained_rule_share": span(share_rule, 2) if share_rule else "not recorded",
        "res_trained_benign": _and(benign),
        "res_trained_lc_head": (
            "only at little over-parameterization"
            if little
            else f"up to `d/n_st = {max(lc_rows):g}`"
            if lc_rows
            else "nowhere"
        ),
        "res_trained_lc_cells": lc_text,
        "res_trained_benign_seeds": _and(seeds_max),
        "res_trained_lc": (
            "label correction in the trained planes at `d/n_st` = "
            + _and([f"{v:g}" for v in sorted(set(lc_rows))])
            if lc_rows
            else "no label-correction cell in the trained planes"
        ),
        "res_coin_lc": _coin_lc(),
    }, missing


def _coin_lc() -> str:
    """Where the coin planes put label correction, by `d/n_st` row."""
    folders = pf.plane_folders(_data.ROOT, "coin")
    if not folders:
        return waiting("plane_coin")
    rows, every = set(), set()
    for folder in folders:
        at = runs(folder.name)
        cells = pf.per_n_st(at.drop(columns=["cell"]).assign(cell=0))
        for c in cells.values():
            every |= set(c["d_over_n"])
            rows |= set(c.loc[c["class"] == "label_correction", "d_over_n"])
    if rows and rows == every:
        return "it appears at every `d/n_st`"
    if not rows:
        return "it appears nowhere"
    return "it appears at `d/n_st` = " + _and([f"{v:g}" for v in sorted(rows)])


# -- the calibration point -------------------------------------------------------------------

CALIB_KEYS = (
    "res_calib_wall",
    "res_calib_seeds",
    "res_calib_table",
    "res_calib_figure",
    "res_calib_prose",
    "res_calib_lc",
)


def _calibration(draw: bool) -> tuple[dict[str, str], list[str]]:
    name = "calibration"
    if not ready(name):
        out, missing = _waiting(name, CALIB_KEYS)
        return out | {"res_calib_figure": ""}, missing
    r = runs(name)
    cells = r.groupby("n_st")
    mean = cells[
        [
            "tau",
            "weak_test_acc",
            "pseudo_label_acc",
            "best_test_acc",
            "best_step",
            "final_test_acc",
            "final_train_acc_pseudo",
            "train_acc_pseudo_best",
            "train_acc_true_best",
            "label_correction_best",
            "gain_final",
            "degradation",
        ]
    ].mean()
    sd = cells["final_test_acc"].std()
    table = []
    for n_st, row in mean.iterrows():
        at = r[r["n_st"] == n_st]
        table.append(
            {
                "n_st": int(n_st),
                "tau": f"{row.tau:g}",
                "weak test": f3(row.weak_test_acc),
                "pseudo-label acc": f3(row.pseudo_label_acc),
                "best test (step)": f"{_acc(row.best_test_acc)} ({row.best_step:.0f})",
                "final test (± sd)": f"{f3(row.final_test_acc)} ± {f3(sd[n_st])}",
                "final train (pseudo)": f3(row.final_train_acc_pseudo),
                "at best step: train (pseudo) / train (true) / wrong labels corrected": (
                    f"{f3(row.train_acc_pseudo_best)} / {f3(row.train_acc_true_best)} / "
                    f"{_acc(row.label_correction_best, 2)}"
                ),
                "class (seeds)": ", ".join(
                    f"{k.replace('_', ' ')} {v}/{len(at)}"
                    for k, v in at["class"].value_counts().items()
                ),
                "what it shows": _shows(row, at),
            }
        )
    big = r[r["n_st"] == r["n_st"].max()]
    bm = mean.loc[big["n_st"].iloc[0]]
    small = mean.loc[75] if 75 in mean.index else None
    weak_level = [n for n, row in mean.iterrows() if row.gain_final <= WEAK_MARGIN]
    ends = mean[mean.index >= 75]["final_test_acc"]
    level = HARMFUL_ERROR * float(r["p_h"].iloc[0])
    late = r[r["n_st"] >= 75]
    harmful_end = int((late["end_class"] == "harmful").sum())
    all_harmful_end = harmful_end == len(late)
    errors = int((~below(1 - late["final_test_acc"].to_numpy(float), level)).sum())
    others = late.loc[late["end_class"] != "harmful", "end_class"].value_counts()
    others_text = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in others.items())
    prose = (
        f"At `n_st = {int(bm.name)}` the student, at its best step, agrees with the pseudo-labels "
        f"on only {f3(bm.train_acc_pseudo_best)} of the training set (the pseudo-label accuracy is "
        f"{f3(bm.pseudo_label_acc)}) while it predicts the true label on "
        f"{100 * bm.label_correction_best:.1f}% (at least "
        f"{100 * big['label_correction_best'].min():.1f}% "
        f"in every seed) of the wrongly pseudo-labelled points: it corrects the teacher, and its "
        f"test accuracy is {_acc(bm.best_test_acc)}. Overtraining to step "
        f"{int(big['final_step'].max())} fits the wrong pseudo-labels (train vs pseudo-labels "
        f"{f3(bm.final_train_acc_pseudo)}) and test accuracy falls to {f3(bm.final_test_acc)}.\n\n"
        "What this reconstruction does *not* show cleanly, reported as measured:\n\n"
    )
    if small is not None:
        prose += (
            "- **The harmful side sits at very small `n_st`.** At `n_st = 75` (the paper's "
            f"harmful point) this calibration ends at {f3(small.final_test_acc)} ± {f3(sd[75])}, "
            f"{'well above' if small.gain_final > WEAK_MARGIN else 'near'} the weak model; test "
            "accuracy at or below the weak model's level comes only at "
            + (
                f"`tau ≈ {mean.loc[weak_level[0], 'tau']:.2g}` (`n_st = {int(weak_level[0])}` at "
                f"`d = 1000`: {f3(mean.loc[weak_level[0], 'final_test_acc'])} against "
                f"{f3(mean.loc[weak_level[0], 'weak_test_acc'])})."
                if weak_level
                else "a `tau` below this grid's."
            )
            + "\n"
        )
    prose += (
        "- **End-of-training accuracy barely separates the regimes.** For every `n_st ≥ 75` the "
        f"final test accuracy lies between {span(ends, 2, sep=' and ')}, above the weak model but "
        f"with test error above the theorem's harmful "
        "level (`HARMFUL_ERROR·p_h`, [the rule](api.md#w2s_jax.analysis.rules); "
        f"{f3(level)} here) in {errors} of their {len(late)} runs. So by the theorem's "
        "definition "
        + (
            "they all overfit harmfully at the end"
            if all_harmful_end
            else f"{harmful_end} of them overfit harmfully at the end ({others_text})"
        )
        + ", and the analysis layer classifies them so ([Sweeps and "
        "analysis](sweeps.md#classes)). What does separate the regimes is the best "
        "(early-stopped) accuracy and whether the student fits the pseudo-labels or corrects "
        "them.\n"
        "- `sweeps/paper_table.toml` moves `d` to 7000 so that the paper's own `n_st = 75, 2000, "
        "20000` land at the same `tau` as `10, 300, 2000` here (below)."
    )
    out = {
        "res_calib_wall": _data.wall(name),
        "res_calib_seeds": _count(r["seed"].nunique()),
        "res_calib_table": markdown_table(pd.DataFrame(table)),
        "res_calib_figure": "![trajectories](figures/calibration_trajectories.png)",
        "res_calib_prose": prose,
        "res_calib_lc": share(bm.label_correction_best),
    }
    if draw:
        summary, trajectories, _ = study(name)
        cells = [{"n_st": int(n)} for n in sorted(r["n_st"].unique())]
        fig = figure(9.0, 6.4)
        axes = fig.subplots(2, 2).ravel()
        plots.trajectories(trajectories, summary, cells=cells, ax=list(axes[: len(cells)]))
        legend_below(fig)
        fig.suptitle("Calibration point: the trajectories per n_st (mean ± sd over seeds)")
        png(fig, "calibration_trajectories")
    return out, []


def _acc(v: float, digits: int = 3) -> str:
    """An accuracy with one more digit where it rounds to 1 (0.9995 is not 1.000)."""
    text = f3(v, digits)
    return f3(v, digits + 1) if text.startswith("1.") and v < 1 else text


def _count(n: int) -> str:
    return {2: "two", 3: "three", 4: "four", 8: "eight"}.get(int(n), str(n))


def _shows(row, at: pd.DataFrame) -> str:
    """The table's last column: what one `n_st` of the calibration shows."""
    if (at["class"] == "label_correction").mean() > 0.5:
        return "label correction at the best step, then degradation"
    fits = row.final_train_acc_pseudo >= 0.99
    text = "fits the pseudo-labels" if fits else "does not fit the pseudo-labels"
    side = "above" if row.gain_final > 0 else "below"
    text += f", test {100 * abs(row.gain_final):.1f} points {side} weak"
    if row.degradation >= MIN_DEGRADATION:
        text += f"; a transient peak at {f3(row.best_test_acc, 2)}"
    return text


# -- the handwritten digits -------------------------------------------------------------------

DIGIT_KEYS = (
    "res_dg_wall",
    "res_dg_seeds",
    "res_dg_n_test",
    "res_dg_se",
    "res_dg_table",
    "res_dg_weak",
    "res_dg_n_wk",
    "res_dg_weak_hard",
    "res_dg_teachers",
    "res_dg_hard_samples",
    "res_dg_chance",
    "res_dg_figures",
    "res_dg_hard",
    "res_dg_hard_150",
    "res_dg_above",
    "res_dg_fit_small",
    "res_dg_harmful",
    "res_dg_fit_large",
    "res_dg_benign",
    "res_dg_best_600",
    "res_dg_lc_peak",
    "res_dg_lc_disagree",
    "res_dg_lc_share",
    "res_dg_lc_drop",
    "res_dg_lc_final_fit",
    "res_dg_lc_600",
    "res_dg_classes",
)
#: The cells of the page's `w2s plot` command.
DIGIT_CELLS = (
    dict(d=600, p_b=0.6, n_st=10),
    dict(d=600, p_b=0.6, n_st=156),
    dict(d=150, p_b=0.6, n_st=156),
    dict(d=150, p_b=0.2, n_st=80),
)


def _digits(draw: bool) -> tuple[dict[str, str], list[str]]:
    name = "digits"
    if not ready(name):
        out, missing = _waiting(name, DIGIT_KEYS)
        return out | {"res_dg_figures": ""}, missing
    r = runs(name)
    summary, trajectories, m = study(name)
    columns = [
        "weak_test_acc",
        "pseudo_label_acc",
        "best_test_acc",
        "best_step",
        "train_acc_pseudo_best",
        "label_correction_best",
        "test_acc_hard_best",
        "final_test_acc",
        "final_train_acc_pseudo",
        "gain_final",
        "degradation",
    ]
    c = r.groupby(["d", "p_b", "n_st"])[columns].mean().reset_index()
    table = pd.DataFrame(
        {
            "d": c["d"].astype(int),
            "p_b": c["p_b"],
            "n_st": c["n_st"].astype(int),
            "weak test": c["weak_test_acc"],
            "pseudo acc": c["pseudo_label_acc"],
            "best test": c["best_test_acc"],
            "best step": c["best_step"],
            "train (pseudo) @best": c["train_acc_pseudo_best"],
            "lc@best": c["label_correction_best"],
            "hard@best": c["test_acc_hard_best"],
            "final test": c["final_test_acc"],
            "final train (pseudo)": c["final_train_acc_pseudo"],
            "final - weak": c["gain_final"],
        }
    )
    n_test = int(r["n_test"].iloc[0])
    seeds = r["seed"].nunique()
    acc = c["final_test_acc"].to_numpy(float)
    se = float(np.max(np.sqrt(acc * (1 - acc) / (n_test * seeds))))
    teachers = summary.drop_duplicates(["d", "p_b", "seed"])
    hard_weak = (
        float(teachers["weak_test_acc_hard"].mean()) if "weak_test_acc_hard" in teachers else np.nan
    )
    d600, d150 = c[c["d"] == c["d"].max()], c[c["d"] == c["d"].min()]
    above = c[c["gain_final"] > 0]
    top = c.loc[c["gain_final"].idxmax()]
    small = d600[d600["n_st"] <= 20]
    harmful = small[small["gain_final"] <= 0.005]
    by_pb = []
    for p_b, g in harmful.groupby("p_b", sort=False):
        by_pb.insert(
            0,
            ", ".join(signed(v, 2) for v in g.sort_values("n_st")["gain_final"])
            + f" at `p_b = {p_b:g}`"
            + (f", `n_st = {', '.join(str(int(n)) for n in g['n_st'])}`" if len(g) < 2 else ""),
        )
    large = d600[d600["n_st"] == d600["n_st"].max()].sort_values("p_b")
    rising = bool(np.all(np.diff(large["gain_final"].to_numpy(float)) > 0))
    lc = d150[d150["n_st"] >= 80]
    classes = r["class"].value_counts()
    out = {
        "res_dg_wall": f"{len(r)} runs, {_data.wall(name)}",
        "res_dg_seeds": str(seeds),
        "res_dg_n_test": str(n_test),
        "res_dg_se": f"{se:.2f}",
        "res_dg_table": markdown_table(table),
        "res_dg_weak": span(c["weak_test_acc"]),
        "res_dg_n_wk": str(int(r["n_wk"].iloc[0])),
        "res_dg_weak_hard": f3(hard_weak, 2),
        "res_dg_teachers": str(len(teachers)),
        "res_dg_hard_samples": f"{n_test * float(r['p_h'].iloc[0]):.0f}",
        "res_dg_chance": (
            ", at chance as Proposition 2.1 says"
            if abs(hard_weak - 0.5)
            <= 2 * float(teachers["weak_test_acc_hard"].std()) / np.sqrt(len(teachers)) + 0.05
            else ", away from the chance level Proposition 2.1 gives"
        ),
        "res_dg_figures": "![digits trajectories](figures/digits_trajectories.png)\n"
        "![digits signal](figures/digits_signal.png)",
        "res_dg_hard": span(c["test_acc_hard_best"], 2),
        "res_dg_hard_150": span(lc["test_acc_hard_best"], 2),
        "res_dg_above": (
            f"{len(above)} of {len(c)} cells (by more than 0.02 in "
            f"{int((c['gain_final'] > 0.02).sum())}), by up to {signed(top.gain_final, 2)} "
            f"(`d = {int(top.d)}, p_b = {top.p_b:g}, n_st = {int(top.n_st)}`: "
            f"{f3(top.weak_test_acc)} → {f3(top.final_test_acc)})"
        ),
        "res_dg_fit_small": _fit(small),
        "res_dg_harmful": (
            "final − weak = " + "; ".join(by_pb) if by_pb else "in none of these cells"
        ),
        "res_dg_fit_large": f3(large["final_train_acc_pseudo"].min())
        if large["final_train_acc_pseudo"].min() < 1
        else "1.000",
        "res_dg_benign": (
            ("growing with `n_st` and `p_b` " if rising else "")
            + f"(`n_st = {int(large['n_st'].iloc[0])}`: "
            + ", ".join(signed(v, 2) for v in large["gain_final"])
            + " for `p_b = "
            + ", ".join(f"{v:g}" for v in large["p_b"])
            + "`)"
        ),
        "res_dg_best_600": f3(d600["best_test_acc"].max(), 2),
        "res_dg_lc_peak": span(lc["best_test_acc"], 2),
        "res_dg_lc_disagree": _percent_span(1 - lc["train_acc_pseudo_best"]),
        "res_dg_lc_share": _percent_span(lc["label_correction_best"]),
        "res_dg_lc_drop": span(lc["degradation"], 2),
        "res_dg_lc_final_fit": span(lc["final_train_acc_pseudo"], 2),
        "res_dg_lc_600": f3(d600["label_correction_best"].max(), 2),
        "res_dg_classes": f"{int(classes.get('harmful', 0))} of {len(r)} runs `harmful`",
    }
    if draw:
        _digit_figures(trajectories, summary)
    return out, []


def _fit(frame: pd.DataFrame) -> str:
    low = frame["final_train_acc_pseudo"].min()
    return "exactly (train 1.000)" if low >= 1.0 else f"(train at least {f3(low)})"


def _digit_figures(trajectories: pd.DataFrame, summary: pd.DataFrame) -> None:
    cells = [dict(c) for c in DIGIT_CELLS]
    fig = figure(9.0, 6.4)
    axes = fig.subplots(2, 2).ravel()
    plots.trajectories(trajectories, summary, cells=cells, ax=list(axes))
    legend_below(fig)
    fig.suptitle("Handwritten digits: four cells (mean ± sd over seeds)")
    png(fig, "digits_trajectories")
    fig = figure(9.5, 6.6)
    axes = fig.subplots(2, 2).ravel()
    plots.signal_noise(trajectories, cells=cells, ax=list(axes))
    legend_below(fig)
    fig.suptitle("Handwritten digits: signal learned (solid) and noise memorized (dashed)")
    png(fig, "digits_signal")
