"""docs/results.md, the studies whose data came later than the page: the boundary against
Theorem 3.4 with `d` (`boundary_d`), the early-stopping law (`early_stopping_law`), the
phase-boundary study (`phase_boundary`), the search for the main job's point (`paper_search`),
the paper's table at `d = 7000` (`paper_table`) and the reduced early-stopping study
(`early_stopping`). Each section shows the command that makes its data until the data is
committed, then its tables, figures and findings from it (`analysis.fit`, `analysis.plane`,
`analysis.early_stopping`, the fits `w2s report` makes)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from w2s_jax.analysis import early_stopping as es
from w2s_jax.analysis import fit, paper, plane, plots
from w2s_jax.analysis.classes import class_counts
from w2s_jax.analysis.report import independent_features, markdown_table
from w2s_jax.analysis.rules import HARMFUL_ERROR, MIN_DEGRADATION, MIN_STEP, WINDOW_TOL
from w2s_jax.model.theory import TAU_FEATURES

from ._data import (
    f3,
    figure,
    legend_below,
    manifest,
    png,
    ready,
    regrid,
    runs,
    seconds,
    span,
    study,
    waiting,
)

THEORY = {"n_st": 1, "p_b": 2, "nu_norm": 4, "sigma_p": -4, "d": -1}


def _and(items) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _counts(r: pd.DataFrame) -> str:
    counts = class_counts(r).iloc[0]
    return ", ".join(f"{int(v)} {k.replace('_', ' ')}" for k, v in counts.items())


def _run_line(name: str, r: pd.DataFrame) -> str:
    m = manifest(name)
    programs = len(m.get("tiers") or [])
    return (
        f"{len(r)} runs in {seconds(m['wall_s'])} ({seconds(m['compile_s'])} compiling "
        f"{programs} program{'s' if programs != 1 else ''}). Classes: {_counts(r)}."
    )


def _n(v: float) -> str:
    """A fitted number: three significant digits, no exponent below 10⁵."""
    v = float(v)
    if not np.isfinite(v):
        return "–"
    if abs(v) >= 1e5:
        return f"{v:.1e}".replace("e+0", "e").replace("e+", "e").replace("-", "−")
    return (f"{v:.0f}" if abs(v) >= 1000 else f"{v:.3g}").replace("-", "−")


def _interval(lo: float, hi: float, digits: int = 2) -> str:
    return f"{_e(lo, digits)}, {_e(hi, digits)}"


def _e(v: float, digits: int = 2) -> str:
    """An exponent: `digits` decimals, or `_n` where it is far from the theory's size."""
    return f3(v, digits) if abs(v) < 100 else _n(v)


def _c(c: fit.ConstantFit) -> str:
    return f"{_n(c.C)} ({_n(c.C_lo)}–{_n(c.C_hi)}; {_n(c.C_wald_lo)}–{_n(c.C_wald_hi)})"


def _exponents(e: fit.ExponentFit | None, bold: bool = False) -> str:
    if e is None:
        return "not fitted"
    rows = e.table[e.table["feature"] != "n_st"]
    parts = []
    for r in rows.itertuples():
        lo, hi = (r.boot_lo, r.boot_hi) if np.isfinite(r.boot_lo) else (r.wald_lo, r.wald_hi)
        value = f"**{_e(r.exponent)}**" if bold else _e(r.exponent)
        parts.append(f"{value} ({_interval(lo, hi)})")
    return ", ".join(parts)


def _lr(e: fit.ExponentFit | None) -> str:
    if e is None:
        return "not tested"
    verdict = "rejected" if e.lr_p_value < 0.05 else "not rejected"
    return f"χ² = {e.lr_statistic:.3g}, {e.lr_dof} dof, p = {e.lr_p_value:.2g}: {verdict}"


def _contains(e: fit.ExponentFit, feature: str) -> bool | None:
    row = e.table[e.table["feature"] == feature]
    if row.empty:
        return None
    r = row.iloc[0]
    lo, hi = (r.boot_lo, r.boot_hi) if np.isfinite(r.boot_lo) else (r.wald_lo, r.wald_hi)
    return bool(lo <= r.theory <= hi)


def _exponent_fit(data: pd.DataFrame) -> fit.ExponentFit | None:
    axes = independent_features(data, TAU_FEATURES)
    if axes.kept[:1] != ("n_st",) or len(axes.kept) < 2 or data["benign"].nunique() < 2:
        return None
    return fit.fit_exponents(data, list(axes.kept))


def _constant(data: pd.DataFrame) -> fit.ConstantFit | None:
    if data["benign"].nunique() < 2 or data["tau"].nunique() < 2:
        return None
    return fit.fit_constant(data)


# -- the boundary against Theorem 3.4, with d ------------------------------------------------


def boundary_d(draw: bool) -> tuple[dict[str, str], list[str]]:
    name = "boundary_d"
    if not ready(name):
        return {"res_boundary_d": waiting(name)}, [name]
    r = runs(name)
    data = fit.benign_outcome(r, "end")
    every = _constant(data)
    every_e = _exponent_fit(data)
    ridge = plane.ridge_tau(r)
    lines = [
        _run_line(name, r) + f" `tau` spans {_n(r['tau'].min())}–{_n(r['tau'].max())}.",
        "",
        "| fit | C (95% bootstrap; Wald) | slope k | on the predicted side | exponents relative "
        "to `n_st` (95% seed bootstrap) | LR test of the theory's exponents |",
        "|---|---|---|---|---|---|",
    ]
    if every is not None:
        lines.append(
            f"| all {len(data)} runs | {_c(every)} | {every.k:.2f} | {every.accuracy:.0%} | "
            f"{_exponents(every_e)} | {_lr(every_e)} |"
        )
    below_e, below_c, below = None, None, None
    if np.isfinite(ridge):
        below = fit.benign_outcome(r[r["tau"] < ridge], "end")
        below_c, below_e = _constant(below), _exponent_fit(below)
        if below_c is not None:
            lines.append(
                f"| the {len(below)} runs below the band's ridge (`tau < {ridge:.3g}`) | "
                f"**{_c(below_c)}** | {below_c.k:.2f} | {below_c.accuracy:.0%} | "
                f"{_exponents(below_e, bold=True)} | {_lr(below_e)} |"
            )
    if every is None and below_c is None:
        lines = lines[:1] + ["", "No boundary fitted: the runs benign at the end are on one side."]
    if below_e is not None:
        kept = list(below_e.table["feature"])[1:]
        lines.append("")
        lines.append(f"Exponents in the order {_and([f'`{f}`' for f in kept])}.")
    per_d = []
    if below is not None and "d" in below and below["d"].nunique() > 1:
        for d, group in below.groupby("d"):
            if group["benign"].nunique() == 2:
                c = fit.fit_constant(group)
                per_d.append(
                    dict(
                        d=f"{d:.3g}",
                        runs=c.n_runs,
                        C=f"{c.C:.3g} ({c.C_lo:.3g}–{c.C_hi:.3g})",
                        k=f"{c.k:.2f}",
                        width=f"{2 * np.log(3) / c.k:.2f}" if c.k > 0 else "–",
                        _c=c,
                    )
                )
    if per_d:
        table = (
            pd.DataFrame(per_d)
            .drop(columns=["_c"])
            .rename(columns={"C": "C (95% bootstrap)", "width": "width in log tau"})
        )
        lines += [
            "",
            "Per `d`, on the runs below the ridge (`P(benign) = σ(k·log(tau/C))`, width from 25% "
            "to 75% in `log tau` = `2·ln 3/k`):",
            "",
            markdown_table(table),
        ]
    lines += ["", "![boundary with d](figures/boundary_d_collapse.png)", "", "What comes out:", ""]
    if every is not None:
        unbounded = every.C_hi > 100 * every.C
        lines.append(
            f"- **One `C` for all runs {'fails' if every.accuracy < 0.75 else 'fits'}**"
            + (
                f", because benign is a band: the runs benign at the end centre on `tau ≈ "
                f"{ridge:.3g}` (the band's ridge) and fall off on both sides, so the one-sided "
                f"model puts only {every.accuracy:.0%} of the runs on their side"
                if np.isfinite(ridge) and every.accuracy < 0.75
                else f": {every.accuracy:.0%} of the runs on their side"
            )
            + (" and its `C` is unbounded above." if unbounded else ".")
        )
    if below_c is not None and below_e is not None:
        inside = [f for f in ("p_b", "nu_norm", "sigma_p") if _contains(below_e, f)]
        outside = [f for f in ("p_b", "nu_norm", "sigma_p") if _contains(below_e, f) is False]
        d_row = below_e.table[below_e.table["feature"] == "d"]
        text = (
            f"- **On the theorem's side the boundary is at `tau ≈ {below_c.C:.2g}`**; the "
            "exponents of "
            + (
                _and([f"`{f}`" for f in inside]) + " contain the theory's values in their "
                "bootstrap intervals"
                if inside
                else "no factor contain the theory's values"
            )
            + (f", those of {_and([f'`{f}`' for f in outside])} do not" if outside else "")
            + "."
        )
        if len(d_row):
            dr = d_row.iloc[0]
            holds = _contains(below_e, "d")
            text += (
                f" **`d`'s exponent is {f3(dr.exponent, 2)} ({_interval(dr.boot_lo, dr.boot_hi)}) "
                f"against −1**{': inside its interval' if holds else ': outside its interval'}"
            )
            if not holds and dr.boot_lo > -1:
                text += (
                    "; at a fixed noise level per coordinate, a larger `d` hurts less than "
                    "`tau ∝ 1/d` says"
                )
            text += "."
        text += (
            " The likelihood-ratio test "
            + ("rejects" if below_e.lr_p_value < 0.05 else "does not reject")
            + " the theory's exponents jointly."
        )
        lines.append(text)
    if len(per_d) > 1:
        ks = [row["_c"].k for row in per_d]
        cs = [row["_c"].C for row in per_d]
        overlap = all(
            a["_c"].C_lo <= b["_c"].C_hi and b["_c"].C_lo <= a["_c"].C_hi
            for a, b in zip(per_d, per_d[1:])
        )
        sharper = all(np.diff(ks) > 0)
        smaller = all(np.diff(cs) < 0)
        lines.append(
            "- **As `d` grows** `k` goes "
            + " → ".join(f"{k:.2f}" for k in ks)
            + " and `C` "
            + " → ".join(f"{c:.2g}" for c in cs)
            + f" from `d = {per_d[0]['d']}` to `{per_d[-1]['d']}`"
            + (": the transition sharpens" if sharper else "")
            + (" and moves to smaller `tau`" if smaller else "")
            + (
                f"; the intervals overlap, so neither trend is resolved by "
                f"{r['seed'].nunique()} seeds."
                if overlap
                else "; the intervals of neighbouring `d` do not all overlap."
            )
        )
    if draw:
        fig = plots.collapse(r, C=below_c.C if below_c else None, rule="end")
        png(regrid(fig), "boundary_d_collapse")
    return {"res_boundary_d": "\n".join(lines)}, []


# -- the early-stopping law ------------------------------------------------------------------


def law(draw: bool) -> tuple[dict[str, str], list[str]]:
    name = "early_stopping_law"
    if not ready(name):
        return {"res_law": waiting(name)}, [name]
    r = runs(name)
    m = manifest(name)
    features = [f for f in ("n_st_snr", "d_over_n", "eta") if f in r and r[f].nunique() > 1]
    best = es.fit_law(r, features)
    end = es.fit_law(r, features, target="window_end")
    lines = [f"{len(r)} runs in {seconds(m['wall_s'])}."]
    if best is None:
        lines.append(f"Too few runs with a peak to time ({len(es.peaked(r))}) for the law's fit.")
        return {"res_law": " ".join(lines)}, []
    terms = " · ".join(
        f"{_name(f)}^{f3(a, 2)} [{f3(lo, 2)}, {f3(hi, 2)}]"
        for f, a, lo, hi in zip(best.features, best.exponents, best.lo, best.hi)
    )
    lines.append(
        f"Over the {best.n_runs} runs with a peak to time (a degradation of at least "
        f"{MIN_DEGRADATION:g} after a best step of at least {MIN_STEP}), least squares in logs "
        "with one intercept per seed (cells that share a seed share the weak model):"
    )
    lines += ["", f"`T_es ≈ {best.constant:.3g} · {terms}`, R² = {best.r2:.2f}.", ""]
    if end is not None and "eta" in end.features:
        i = end.features.index("eta")
        lines.append(
            f"The window's end follows `eta^{f3(end.exponents[i], 2)} [{f3(end.lo[i], 2)}, "
            f"{f3(end.hi[i], 2)}]` (R² {end.r2:.2f})."
        )
    peaked = es.peaked(r)
    spread = peaked.groupby([c for c in ("n_st_snr", "d_over_n", "eta") if c in peaked])[
        "best_step"
    ]
    ratio = (spread.max() / spread.min()).max()
    lines.append(
        f"`T_es` runs from {peaked['best_step'].min():.0f} to {peaked['best_step'].max():.0f} "
        f"steps, and the seeds differ by up to a factor {ratio:.2g} at the same cell."
    )
    if "eta" in r:
        at2 = r[np.isclose(r["eta"], 2.0)] if (np.isclose(r["eta"], 2.0)).any() else r
        lines.append(
            f"At `eta = {at2['eta'].iloc[0]:g}` the best test accuracy is "
            f"{span(at2['best_test_acc'], 2)} and the degradation {span(at2['degradation'], 2)}; "
            f"{int((r['class'] == 'label_correction').sum())} of {len(r)} runs correct labels."
        )
    top = r[r["n_st_snr"] == r["n_st_snr"].max()]
    lines.append(
        f"At `n_st·snr = {top['n_st_snr'].iloc[0]:g}` the best step is "
        f"{span(top['best_step'], 0)} and the best test accuracy {span(top['best_test_acc'], 2)} "
        f"(the weak model: {span(top['weak_test_acc'], 2)})."
    )
    lines += ["", "![early stopping law](figures/early_stopping_law.png)"]
    if draw:
        png(es.law_figure(r, best), "early_stopping_law")
    return {"res_law": " ".join(lines[:1]) + " " + "\n".join(lines[1:])}, []


def _points_from(gains) -> str:
    """`4–8 points above`, `2–5 points below`, `from −3 to +2 points from`."""
    points = np.asarray(gains, float) * 100
    if (points >= 0).all():
        return f"{span(points, 0)} points above"
    if (points < 0).all():
        return f"{span(-points, 0)} points below"
    return f"from {points.min():+.0f} to {points.max():+.0f} points from".replace("-", "−")


def _name(feature: str) -> str:
    return {"n_st_snr": "(n_st·snr)", "d_over_n": "(d/n_st)"}.get(feature, feature)


# -- the phase-boundary study ----------------------------------------------------------------


def phase_boundary(draw: bool) -> tuple[dict[str, str], list[str]]:
    name = "phase_boundary"
    if not ready(name):
        text = waiting(name)
        return {"res_pb": text, "res_pb_lc_C": text}, [name]
    r = runs(name)
    rows, fits = [], {}
    for rule in ("label_correction", "class", "end"):
        data = fit.benign_outcome(r, rule)
        c, e = _constant(data), _exponent_fit(data)
        fits[rule] = (c, e, data)
        rows.append(
            {
                "good side": rule,
                "C (95% bootstrap; Wald)": _c(c) if c else "no boundary",
                "slope k": f"{c.k:.2f}" if c else "–",
                "runs on the predicted side": f"{c.accuracy:.1%}" if c else "–",
                "exponents relative to n_st (95% bootstrap)": _exponents(e)
                if c and c.k > 0.5
                else "uninformative",
                "LR test of the theory's exponents": _lr(e) if c and c.k > 0.5 else "no boundary",
            }
        )
    lc, lc_e, lc_data = fits["label_correction"]
    lines = [
        _run_line(name, r),
        "",
        "![phase](figures/phase_boundary_phase.png)",
        "![collapse](figures/phase_boundary_collapse.png)",
        "",
        markdown_table(pd.DataFrame(rows)),
        "",
        "What it shows:",
        "",
    ]
    if lc is not None:
        slices = fit.boundary_per_slice(lc_data)
        crossed = slices[slices["side"] == "crossed"]
        span_tau = crossed["tau_50"].max() / crossed["tau_50"].min() if len(crossed) > 1 else np.nan
        matches = _contains(lc_e, "p_b") and _contains(lc_e, "nu_norm") if lc_e else None
        where = (
            f"`n_st_50` ≈ {span(crossed['n_st_50'].dropna(), 0)} across slices"
            if crossed["n_st_50"].notna().any()
            else "no slice crossed within the grid"
        )
        lines.append(
            f"- **The onset of label correction sits at `tau ≈ {_n(lc.C)}`** ({where}"
            + (
                f"; the slices line up within a factor of {span_tau:.2g} in `tau`"
                if np.isfinite(span_tau)
                else ""
            )
            + "), "
            + (
                "with the theory's exponents inside the intervals."
                if matches
                else f"but not with the theory's exponents: the free fit gives {_exponents(lc_e)} "
                "for " + _and([f"`{f}`" for f in list(lc_e.table["feature"])[1:]]) + "."
                if lc_e is not None
                else "(no free exponents: too few independent axes)."
            )
        )
    benign = r[r["class"] == "benign"]
    if len(benign):
        by_seed = benign["seed"].value_counts()
        lines.append(
            f"- **Benign at the end of training is rare at `d = {r['d'].iloc[0]:g}`**: "
            f"{len(benign)} of {len(r)} runs, {int(by_seed.max())} of them from seed "
            f"{int(by_seed.index[0])}."
        )
    lc_runs = r[r["class"] == "label_correction"]
    if len(lc_runs):
        harmful_end = int((lc_runs["end_class"] == "harmful").sum())
        lines.append(
            f"- {harmful_end} of the {len(lc_runs)} label-correction runs end at harmful error by "
            f"`T = {int(r['T'].iloc[0])}`"
            + (
                ", which is why the `end` indicator finds no boundary."
                if fits["end"][0] is None or fits["end"][0].k < 0.5
                else "."
            )
        )
    lines.append(
        f"- **The intervals are rough**: {r['seed'].nunique()} seeds, and the factor-2 spacing of "
        "`n_st` limits how finely a crossing is placed. `d` is fixed, so its exponent is not "
        "tested."
    )
    if draw:
        phase = plots.phase_diagram(r, "n_st", "p_b", C=lc.C if lc else None)
        png(regrid(phase), "phase_boundary_phase")
        collapse = plots.collapse(r, C=lc.C if lc else None, rule="label_correction")
        png(regrid(collapse), "phase_boundary_collapse")
    return {
        "res_pb": "\n".join(lines),
        "res_pb_lc_C": f"{lc.C:.3g} ({lc.C_lo:.3g}–{lc.C_hi:.3g})" if lc else "not fitted",
    }, []


# -- the search for the main job's point -----------------------------------------------------


def search(draw: bool) -> tuple[dict[str, str], list[str]]:
    name = "paper_search"
    if not ready(name):
        text = waiting(name)
        return {"res_search": text, "res_search_lc_max": text}, [name]
    r = runs(name)
    rows = []
    for (d, snr), cell in r.groupby(["d", "snr"]):
        row = {"d": f"{d:.3g}", "snr": f"{snr:.2g}"}
        for n_st, at in cell.groupby("n_st"):
            x = at.iloc[0]
            if n_st == 75:
                row["n_st = 75: final (weak), class"] = (
                    f"{f3(x.final_test_acc)} ({f3(x.weak_test_acc)}), "
                    f"{x['class'].replace('_', ' ')}"
                )
            elif n_st == 2000:
                extra = f" (error {f3(1 - x.final_test_acc)})" if x["class"] == "harmful" else ""
                row["n_st = 2000: best / final, class"] = (
                    f"{f3(x.best_test_acc)} / {f3(x.final_test_acc)}, "
                    f"{x['class'].replace('_', ' ')}{extra}"
                )
            else:
                row[f"n_st = {int(n_st)}: best (step), corrected at best, final"] = (
                    f"{f3(x.best_test_acc)} ({int(x.best_step)}), "
                    f"{f3(x.label_correction_best, 2)}, {f3(x.final_test_acc)}"
                )
        rows.append(row)
    big = r[r["n_st"] == r["n_st"].max()]
    lc = big[big["class"] == "label_correction"]
    mid = r[r["n_st"] == 2000]
    small = r[r["n_st"] == 75]
    lines = [markdown_table(pd.DataFrame(rows)), ""]
    if len(lc):
        lines.append(
            f"Label correction at `n_st = {int(big['n_st'].iloc[0])}` appears in {len(lc)} of "
            f"{len(big)} cells (`d/n_st` from {lc['d_over_n'].min():.2g} to "
            f"{lc['d_over_n'].max():.2g}, {span(lc['label_correction_best'] * 100, 0)}% of the "
            "wrong pseudo-labels corrected, then a fall to "
            f"{span(lc['final_test_acc'], 2)} by step "
            f"{int(big['final_step'].max())})"
        )
    else:
        lines.append(f"Label correction at `n_st = {int(big['n_st'].iloc[0])}` appears in no cell")
    if len(mid):
        lines[-1] += (
            f", and `n_st = 2000` is benign in {int((mid['end_class'] == 'benign').sum())} of "
            f"{len(mid)}"
        )
    lines[-1] += "."
    if len(small):
        closest = small.loc[small["gain_final"].abs().idxmin()]
        lines[-1] += (
            " At `n_st = 75` the runs end "
            + _and(sorted({c.replace("_", " ") for c in small["class"]}))
            + f", {_points_from(small['gain_final'])} the weak model (closest at "
            f"`d = {closest.d:.3g}`, `snr = {closest.snr:.2g}`)."
        )
    m = manifest(name)
    tiers = sorted(m.get("tiers") or [], key=lambda t: t["n_max"])
    if tiers:
        lines.append(
            "Running time per tier: "
            + ", ".join(
                f"`n_st ≤ {t['n_max']}` {seconds(t['run_s'] / t['runs'])} a run" for t in tiers
            )
            + "."
        )
    return {
        "res_search": "\n".join(lines),
        "res_search_lc_max": f"`d/n_st = {lc['d_over_n'].max():.2g}`, its largest"
        if len(lc)
        else "no `d/n_st` at all",
    }, []


# -- the paper's table at d = 7000 -----------------------------------------------------------


def paper_table(draw: bool) -> tuple[dict[str, str], list[str]]:
    name = "paper_table"
    if not ready(name):
        return {"res_paper_table_study": waiting(name)}, [name]
    r = paper.paper_rows(runs(name)).sort_values(["n_st", "seed"])
    rows = []
    for n_st, g in r.groupby("n_st"):
        regime, reported, _ = paper.PAPER[n_st]
        level = HARMFUL_ERROR * float(g["p_h"].iloc[0])
        classes = g["class"].value_counts()
        rows.append(
            {
                "n_st": int(n_st),
                "paper": f"{reported}: {regime}",
                "ours: weak test": ", ".join(f3(v) for v in g["weak_test_acc"]),
                "ours: final train (pseudo) (at best)": ", ".join(
                    f"{f3(a)} ({f3(b)})"
                    for a, b in zip(g["final_train_acc_pseudo"], g["train_acc_pseudo_best"])
                ),
                "ours: best test (step)": ", ".join(
                    f"{f3(a)} ({int(s)})" for a, s in zip(g["best_test_acc"], g["best_step"])
                ),
                "ours: final test": ", ".join(f3(v) for v in g["final_test_acc"]),
                "ours: class": ", ".join(f"{k.replace('_', ' ')} ×{v}" for k, v in classes.items())
                + f" (harmful error {f3(level)}; corrected at best "
                + ", ".join(f3(v, 2) for v in g["label_correction_best"])
                + ")",
                "meets": f"{int(g['meets'].sum())}/{len(g)}",
            }
        )
    lines = [
        _run_line(name, r),
        "",
        markdown_table(pd.DataFrame(rows)),
        "",
        "![paper table](figures/paper_table_trajectories.png)",
    ]
    if draw:
        summary, trajectories, _ = study(name)
        fig = figure(9.5, 3.4)
        n = sorted(summary["n_st"].unique())
        axes = fig.subplots(1, len(n))
        plots.trajectories(
            trajectories, summary, cells=[{"n_st": int(v)} for v in n], ax=list(np.ravel(axes))
        )
        legend_below(fig)
        png(fig, "paper_table_trajectories")
    return {"res_paper_table_study": "\n".join(lines)}, []


# -- early stopping, reduced -----------------------------------------------------------------


def early_stopping(draw: bool) -> tuple[dict[str, str], list[str]]:
    name = "early_stopping"
    if not ready(name):
        return {"res_early_stopping": waiting(name)}, [name]
    r = runs(name).sort_values("n_st", ascending=False)
    parts = []
    for x in r.itertuples():
        text = (
            f"`n_st = {int(x.n_st)}` peaks at test {f3(x.best_test_acc)} at step "
            f"{int(x.best_step)} with train (pseudo) {f3(x.train_acc_pseudo_best)} and "
            f"{x.label_correction_best:.0%} of the wrong pseudo-labels corrected; it stays within "
            f"{WINDOW_TOL:g} of its best over steps {int(x.window_start)}–{int(x.window_end)}, "
            f"then ends at {f3(x.final_test_acc)} at step {int(x.final_step)} (weak model "
            f"{f3(x.weak_test_acc)}) with train (pseudo) {f3(x.final_train_acc_pseudo)}"
        )
        parts.append(text)
    lines = [
        f"{seconds(manifest(name)['wall_s'])} in all. " + ". ".join(parts) + ".",
        "",
        "![early stopping](figures/early_stopping_trajectories.png)",
    ]
    classes = ", ".join(
        f"`n_st = {int(n)}` {c.replace('_', ' ')}" for n, c in zip(r["n_st"], r["class"])
    )
    lines[0] += f" Classes: {classes}."
    if draw:
        summary, trajectories, _ = study(name)
        n = sorted(summary["n_st"].unique())
        fig = figure(9.5, 3.4)
        axes = fig.subplots(1, len(n))
        plots.trajectories(
            trajectories, summary, cells=[{"n_st": int(v)} for v in n], ax=list(np.ravel(axes))
        )
        legend_below(fig)
        png(fig, "early_stopping_trajectories")
    return {"res_early_stopping": "\n".join(lines)}, []
