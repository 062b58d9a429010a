"""docs/results.md, "Beyond the theorems": the mini-batch, trained-second-layer and K-class
studies (`studies/batch_size`, `second_layer`, `classes`): their tables, the boundary fits of
`w2s report` (`analysis.report.analyse`), what moves against the baseline, and their figures
(test accuracy against step, one panel per `n_st`, one line per value of the study's axis)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from w2s_jax.analysis import report
from w2s_jax.analysis.classes import swept_columns
from w2s_jax.analysis.report import markdown_table
from w2s_jax.analysis.rules import WEAK_MARGIN

from ._data import f3, figure, manifest, png, ready, runs, seconds, span, study, waiting

#: study -> (its axis, the page's prefix, the figure's name, how a value is written).
STUDIES = {
    "batch_size": ("batch_size", "bs", "beyond_batch_size"),
    "second_layer": ("eta_a", "sl", "beyond_eta_a"),
    "classes": ("n_classes", "k", "beyond_n_classes"),
}
KEYS = ("figure", "table", "crossing", "moves")


def beyond(draw: bool) -> tuple[dict[str, str], list[str]]:
    out, missing = {}, []
    for name, (axis, prefix, figure_name) in STUDIES.items():
        if not ready(name):
            out |= {f"res_{prefix}_{k}": waiting(name) for k in KEYS}
            out[f"res_{prefix}_figure"] = ""
            missing.append(name)
            continue
        r = settled(runs(name))
        alt = {"bs": "batch size", "sl": "trained second layer", "k": "K classes"}[prefix]
        out[f"res_{prefix}_figure"] = f"![{alt}](figures/{figure_name}.png)"
        out[f"res_{prefix}_table"] = TABLES[name](r)
        out[f"res_{prefix}_crossing"] = _crossing(name, r, axis)
        out[f"res_{prefix}_moves"] = MOVES[name](r)
        if draw:
            _figure(name, axis, figure_name)
    out["res_k_teachers"] = _teachers() if ready("classes") else waiting("classes")
    present = [n for n in STUDIES if ready(n)]
    out["res_beyond_walls"] = (
        "Their sweeps took "
        + _and([f"{seconds(manifest(n)['wall_s'])} (`{n}`)" for n in present])
        + "."
        if present
        else ""
    )
    out["res_beyond_baselines"] = _baselines(present)
    return out, missing


def settled(r: pd.DataFrame) -> pd.DataFrame:
    """A parameter column that holds one value and NaN (a field added to the config after some
    of the study's runs were made, NaN in those) is that value throughout, so that it does
    not split the grid's slices."""
    r = r.copy()
    for column in swept_columns(r):
        values = r[column].dropna().unique()
        if r[column].isna().any() and len(values) == 1:
            r[column] = r[column].fillna(values[0])
    return r


def _and(items: list[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _cells(r: pd.DataFrame, axis: str) -> pd.DataFrame:
    columns = [
        "weak_test_acc",
        "final_test_acc",
        "best_test_acc",
        "best_step",
        "window_start",
        "window_end",
        "window_length",
        "label_correction_best",
        "final_train_acc_pseudo",
        "gain_final",
        "gain_best",
    ]
    return r.groupby(["n_st", axis])[columns].mean().reset_index()


def _best(row) -> str:
    return f"{f3(row.best_test_acc)} ({row.best_step:.3g})"


def _window(row) -> str:
    return f"{row.window_start:.3g}–{row.window_end:.3g}"


# -- tables -----------------------------------------------------------------------------------


def _batch_value(b) -> str:
    return "full" if int(b) == 0 else str(int(b))


def _table_batch(r: pd.DataFrame) -> str:
    c = _cells(r, "batch_size")
    order = {0: 0}
    c = c.assign(_o=[order.get(int(b), 1.0 / max(int(b), 1)) for b in c["batch_size"]])
    c = c.sort_values(["n_st", "_o"])
    return markdown_table(
        pd.DataFrame(
            {
                "n_st": c["n_st"].astype(int),
                "b": [_batch_value(b) for b in c["batch_size"]],
                "final test": [f3(v) for v in c["final_test_acc"]],
                "best test (step)": [_best(x) for x in c.itertuples()],
                "window": [_window(x) for x in c.itertuples()],
                "LC at best": [f3(v, 2) for v in c["label_correction_best"]],
            }
        )
    )


def _final_a(r: pd.DataFrame) -> pd.DataFrame:
    """Per cell: the mean and the least output weight of the +1 branch at the last step,
    and the least of the −1 branch, seed means."""
    summary, trajectories, _ = study("second_layer")
    last = trajectories.sort_values("step").groupby(["cell", "seed"]).tail(1)
    return last.groupby(["n_st", "eta_a"])[["a_mean_pos", "a_min_pos", "a_min_neg"]].mean()


def _eta_a(v) -> str:
    return "0 (fixed)" if float(v) == 0 else f"{float(v):g}"


def _table_layer(r: pd.DataFrame) -> str:
    c = _cells(r, "eta_a").sort_values(["n_st", "eta_a"])
    a = _final_a(r)
    return markdown_table(
        pd.DataFrame(
            {
                "n_st": c["n_st"].astype(int),
                "eta_a": [_eta_a(v) for v in c["eta_a"]],
                "final test": [f3(v) for v in c["final_test_acc"]],
                "best test (step)": [_best(x) for x in c.itertuples()],
                "window": [_window(x) for x in c.itertuples()],
                "a mean / min at T (+1 branch)": [
                    f"{f3(a.loc[(n, e), 'a_mean_pos'], 2)} / {f3(a.loc[(n, e), 'a_min_pos'], 2)}"
                    for n, e in zip(c["n_st"], c["eta_a"])
                ],
            }
        )
    )


def _table_classes(r: pd.DataFrame) -> str:
    c = _cells(r, "n_classes")
    summary = study("classes")[0]
    hard = summary.groupby("n_classes")["weak_test_acc_hard"].mean()
    rows = []
    for k, g in c.groupby("n_classes"):
        g = g.sort_values("n_st")
        top = g.iloc[-1]
        rows.append(
            {
                "K": int(k),
                "weak test (hard)": f"{f3(g['weak_test_acc'].mean())} ({f3(hard[k])})",
                "n_st": " / ".join(str(int(n)) for n in g["n_st"]),
                "final test": " / ".join(f3(v) for v in g["final_test_acc"]),
                "best test (step)": " / ".join(f3(v) for v in g["best_test_acc"])
                + f" ({top.best_step:.3g})",
                "window": f"{_window(top)} at {int(top.n_st)}",
                "LC at best": f3(top.label_correction_best, 2),
            }
        )
    return markdown_table(pd.DataFrame(rows))


TABLES = {"batch_size": _table_batch, "second_layer": _table_layer, "classes": _table_classes}


# -- the boundary fits --------------------------------------------------------------------------


def _setting(name: str, value) -> str:
    if name == "batch_size":
        return "full batch" if int(value) == 0 else f"`b = {int(value)}`"
    if name == "second_layer":
        return "fixed" if float(value) == 0 else f"`eta_a = {float(value):g}`"
    return f"K = {int(value)}"


def _crossing(name: str, r: pd.DataFrame, axis: str) -> str:
    summary, trajectories, _ = study(name)
    fits = report.analyse(settled(summary), settled(trajectories))
    slices, constant = fits["slices"], fits["constant"]
    parts, pairs = [], set()
    if slices is not None:
        largest = float(r["tau"].max())
        groups: dict[tuple, list] = {}
        for s in slices.itertuples():
            value = getattr(s, axis)
            if not np.isfinite(s.tau_50):
                key = ("side", s.side)
            else:
                key = (
                    round(float(s.tau_50), 1),
                    round(float(s.tau_50_lo), 1),
                    round(float(s.tau_50_hi), 1),
                )
            groups.setdefault(key, []).append(value)
        for key, values in groups.items():
            who = _and([_setting(name, v) for v in values])
            if key[0] == "side":
                parts.append(f"{who}: no crossing ({key[1].replace('_', ' ')})")
                continue
            tau, lo, hi = key
            spread = "no spread over seeds" if lo == hi == tau else f"95% {_n(lo)}–{_n(hi)}"
            text = f"{who} `tau_50 = {_n(tau)}` ({spread})"
            if tau > largest:
                text += ", beyond the grid's largest `n_st`, so extrapolated"
            else:
                text += ", " + _between(r, axis, values[0], tau)
                pairs.add(_pair(r, axis, values[0], tau))
            parts.append(text)
    lines = []
    if parts:
        lines.append("Per-setting crossing along `n_st`: " + "; ".join(parts) + ".")
        crossed = all(np.isfinite(s.tau_50) and s.tau_50 <= largest for s in slices.itertuples())
        if len(pairs) == 1 and crossed and len(slices) > 1:
            lo, hi = pairs.pop()
            lines.append(
                f"The crossing lies between the same two `n_st` ({lo} and {hi}) for every setting."
            )
    if constant is not None:
        lines.append(
            f"Pooled fit C = {_n(constant.C)} (95% bootstrap {_n(constant.C_lo)}–"
            f"{_n(constant.C_hi)})."
        )
    top = r[r["n_st"] == r["n_st"].max()]
    base = _baseline_value(name)
    others = [v for v in sorted(top[axis].unique()) if v != base]
    if name == "batch_size":
        others = others[::-1]
    lost = []
    for v in others:
        at = top[top[axis] == v]
        k = int((at["class"] == "label_correction").sum())
        if k < len(at):
            lost.append(f"{_setting(name, v)} {k} of {len(at)} seeds")
    lc = " / ".join(
        f3(top[top[axis] == v]["label_correction_best"].mean(), 2) for v in [base, *others]
    )
    lines.append(
        f"At `n_st = {int(top['n_st'].iloc[0])}` label correction at the best step is {lc} "
        f"({_and([_setting(name, v) for v in [base, *others]])})"
        + (
            f"; still classed label correction: {_and(lost)}."
            if lost
            else "; every run there is classed label correction."
        )
    )
    return " ".join(lines)


def _between(r: pd.DataFrame, axis: str, value, tau: float) -> str:
    """Which two `n_st` of the grid the crossing lies between, and their classes."""
    at = r[np.isclose(r[axis].astype(float), float(value))]
    taus = at.groupby("n_st")["tau"].first().sort_values()
    below = taus[taus < tau]
    above = taus[taus >= tau]
    if below.empty or above.empty:
        return "at the grid's end"
    lo, hi = int(below.index[-1]), int(above.index[0])

    def what(n):
        counts = at[at["n_st"] == n]["class"].value_counts()
        if len(counts) == 1:
            return f"all {counts.index[0].replace('_', ' ')}"
        return ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items())

    return f"between `n_st = {lo}` ({what(lo)}) and {hi} ({what(hi)})"


def _n(v: float) -> str:
    """A fitted constant: three significant digits, whole numbers from 1000 on."""
    return f"{v:.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def _pair(r: pd.DataFrame, axis: str, value, tau: float) -> tuple[int, int]:
    at = r[np.isclose(r[axis].astype(float), float(value))]
    taus = at.groupby("n_st")["tau"].first().sort_values()
    return int(taus[taus < tau].index[-1]), int(taus[taus >= tau].index[0])


def _baseline_value(name: str):
    return {"batch_size": 0, "second_layer": 0.0, "classes": 2}[name]


# -- what moves ---------------------------------------------------------------------------------


def _moves_batch(r: pd.DataFrame) -> str:
    c = _cells(r, "batch_size").set_index(["n_st", "batch_size"])
    top = int(r["n_st"].max())
    sizes = sorted(b for b in r["batch_size"].unique() if b > 0)
    big_b, small_b = sizes[-1], sizes[0]
    base, mid, small = (c.loc[(top, b)] for b in (0, big_b, small_b))
    low = [n for n in sorted(r["n_st"].unique()) if n <= 75]
    acc_moves = max(
        abs(c.loc[(n, big_b), col] - c.loc[(n, 0), col])
        for n in r["n_st"].unique()
        for col in ("best_test_acc", "final_test_acc")
    )
    only_timing = acc_moves <= 0.01
    mid_text = (
        f"What moves: at `b = {big_b}` "
        + ("nothing but timing moves. " if only_timing else "the timing and the accuracies move. ")
        + f"The peak comes {'later' if mid.best_step > base.best_step else 'earlier'} (step "
        f"{mid.best_step:.0f} against {base.best_step:.0f} at `n_st = {top}`) and the window "
        f"{'narrows' if mid.window_length < base.window_length else 'widens'} ({_window(mid)} "
        f"against {_window(base)}), while the peak accuracy ({f3(mid.best_test_acc)} against "
        f"{f3(base.best_test_acc)}), the final accuracy ({f3(mid.final_test_acc)} against "
        f"{f3(base.final_test_acc)}) and label correction ({f3(mid.label_correction_best, 2)} "
        f"against {f3(base.label_correction_best, 2)}) "
        + ("stay." if only_timing else "move by up to " + f3(acc_moves) + ".")
    )
    mid_n = sorted(r["n_st"].unique())[-2]
    small_text = (
        f" At `b = {small_b}` the peak "
        f"{'drops' if small.best_test_acc < base.best_test_acc else 'rises'} "
        f"({f3(small.best_test_acc)} against {f3(base.best_test_acc)} at `n_st = {top}`, "
        f"{f3(c.loc[(mid_n, small_b), 'best_test_acc'])} against "
        f"{f3(c.loc[(mid_n, 0), 'best_test_acc'])} at {int(mid_n)}), label correction "
        f"{'falls' if small.label_correction_best < base.label_correction_best else 'rises'} to "
        f"{f3(small.label_correction_best, 2)}, the window is {small.window_length:.3g} steps long "
        f"(against {base.window_length:.3g}), and the final accuracy "
        + ("degrades further " if small.final_test_acc < base.final_test_acc else "holds ")
        + f"({f3(small.final_test_acc)} against {f3(base.final_test_acc)})."
    )
    low_moves = max(
        abs(c.loc[(n, b), "final_test_acc"] - c.loc[(n, 0), "final_test_acc"])
        for n in low
        for b in sizes
    )
    fits = r["final_train_acc_pseudo"].min()
    epochs = int(r["T"].iloc[0]) * small_b / top
    still = (
        f" What did not move: `n_st ≤ 75` ends where it did (final test within {f3(low_moves)} of "
        f"full batch; `n_st = {int(min(low))}` with `b ≥ {int(small_b)}` is full batch)"
        if low_moves <= 0.01
        else f" At `n_st ≤ 75` the final test accuracy moves by up to {f3(low_moves)}"
    )
    least = r.groupby("batch_size")["final_train_acc_pseudo"].min()
    fitting = [b for b in [0, *sizes[::-1]] if least[b] >= 0.99]
    short = [b for b in [0, *sizes[::-1]] if least[b] < 0.99]
    still += (
        ", and every run still fits the pseudo-labels (final train accuracy against "
        f"pseudo-labels ≥ {f3(fits, 2)})."
        if not short
        else ", and every run "
        + ("at " + _and([_setting("batch_size", b) for b in fitting]) + " " if fitting else "")
        + "still fits the pseudo-labels (final train accuracy against them ≥ 0.99); at "
        + _and([f"{_setting('batch_size', b)} the least is {f3(least[b])}" for b in short])
        + " (a label-correction run need not fit them)."
    )
    caveat = (
        f" Caveat: at fixed `T` and `eta`, `b = {small_b}` at `n_st = {top}` covers "
        f"{epochs:.3g} epochs. Part of this is fewer sample-gradients, not only noise."
    )
    return mid_text + small_text + still + caveat


def _moves_layer(r: pd.DataFrame) -> str:
    c = _cells(r, "eta_a").set_index(["n_st", "eta_a"])
    a = _final_a(r)
    sizes = sorted(int(n) for n in r["n_st"].unique())
    trained = sorted(e for e in r["eta_a"].unique() if e > 0)
    top, smallest = sizes[-1], sizes[0]
    fixed_a = a.xs(0.0, level="eta_a")["a_mean_pos"]
    grown = [a.loc[(n, e), "a_mean_pos"] / fixed_a[n] for n in sizes for e in trained]
    means = [a.loc[(n, e), "a_mean_pos"] for n in sizes for e in trained]
    late = [n for n in sizes if n >= 300]
    earlier = [
        c.loc[(n, 0.0), "best_step"] / c.loc[(n, e), "best_step"] for n in late for e in trained
    ]
    fixed_w = [c.loc[(n, 0.0), "window_length"] for n in late]
    trained_w = [c.loc[(n, e), "window_length"] for n in late for e in trained]
    weak = float(r["weak_test_acc"].mean())
    top_final = [c.loc[(top, e), "final_test_acc"] for e in trained]
    to_weak = max(abs(v - weak) for v in top_final) <= WEAK_MARGIN
    worse = all(
        c.loc[(n, e), "final_test_acc"] < c.loc[(n, 0.0), "final_test_acc"]
        for n in sizes
        for e in trained
    )
    faster = all(v > 1 for v in earlier)
    sd = r.groupby(["n_st", "eta_a"])["final_test_acc"].std()
    small = [c.loc[(smallest, e), "final_test_acc"] for e in trained]
    fits = r["final_train_acc_pseudo"].min()
    mid = 75 if 75 in sizes else sizes[1]
    moved_75 = max(
        abs(c.loc[(mid, e), "final_test_acc"] - c.loc[(mid, 0.0), "final_test_acc"])
        for e in trained
    )
    peak_gain = [c.loc[(n, e), "gain_best"] for n in late for e in trained]
    flipped = [
        (n, e)
        for (n, e) in a.index
        if e > 0 and min(a.loc[(n, e), "a_min_pos"], a.loc[(n, e), "a_min_neg"]) < 0
    ]
    text = (
        "What moves: training the output weights "
        + (
            "speeds everything up and makes it worse. "
            if faster and worse
            else "changes the timing and the accuracy. "
        )
        + f"The output weights grow {span(grown, 0)}× (from {f3(fixed_a.mean(), 2)} to a mean of "
        f"{span(means, 2)}). The peak comes {span(earlier, 0)}× earlier at `n_st ≥ 300`, the "
        f"early-stopping window shrinks from {span(fixed_w, 0)} steps to {span(trained_w, 0)}, and "
        "overtraining then degrades the student "
        + (
            f"all the way to the weak model ({_and([f3(v) for v in top_final])} final at "
            f"`n_st = {top}` against the teacher's {f3(weak)})"
            if to_weak
            else f"to {_and([f3(v) for v in top_final])} at `n_st = {top}` "
            f"(the teacher: {f3(weak)})"
        )
        + f". With the fixed layer the student ends at {f3(c.loc[(top, 0.0), 'final_test_acc'])}."
    )
    if all(v < weak for v in small):
        text += (
            f" In the harmful regime a trained layer makes the student worse than its teacher "
            f"(`n_st = {smallest}`: {_and([f3(v, 2) for v in small])} against the teacher's "
            f"{f3(weak)}, with large spread across seeds, sd "
            f"{span([sd[(smallest, e)] for e in trained], 2)})."
        )
    text += (
        " What did not move: "
        + (
            "every run still fits the pseudo-labels (final train accuracy "
            f"≥ {f3(fits, 2) if fits < 1 else '1.0'})"
            if fits >= 0.99
            else f"the runs fit the pseudo-labels to at least {f3(fits, 2)}"
        )
        + f", the final accuracy at `n_st = {mid}` changes by at most {f3(moved_75)}, and the peak "
        f"still exceeds the teacher by {_points(peak_gain)} points at `n_st ≥ 300`, so the "
        "label-correction mechanism survives if one stops early enough."
    )
    if flipped:
        text += (
            " Output weights changed sign at "
            + _and(
                [
                    f"`eta_a = {e:g}`, `n_st = {int(n)}` (mean least weights "
                    f"{f3(a.loc[(n, e), 'a_min_pos'], 3)} / {f3(a.loc[(n, e), 'a_min_neg'], 3)})"
                    for n, e in flipped
                ]
            )
            + "."
        )
    else:
        text += " No output weight changed sign."
    return text


def _points(values) -> str:
    return span(np.asarray(values, float) * 100, 0)


def _moves_classes(r: pd.DataFrame) -> str:
    c = _cells(r, "n_classes").set_index(["n_st", "n_classes"])
    ks = sorted(int(k) for k in r["n_classes"].unique())
    sizes = sorted(int(n) for n in r["n_st"].unique())
    small, top = sizes[0], sizes[-1]
    below = [k for k in ks if c.loc[(small, k), "gain_final"] < 0]
    above = [k for k in ks if k not in below]
    text = "What moves: the teacher weakens as `1 - p_h(1 - 1/K)`."
    if below:
        text += (
            " In the harmful regime the student falls *below* its teacher (`n_st = "
            f"{small}`: "
            + ", ".join(
                f"{f3(c.loc[(small, k), 'final_test_acc'])} against "
                f"{f3(c.loc[(small, k), 'weak_test_acc'])} at K = {k}"
                for k in below
            )
            + (
                ", where at "
                + _and([f"K = {k}" for k in above])
                + " it ends above, "
                + _and(
                    [
                        f"{f3(c.loc[(small, k), 'final_test_acc'])} against "
                        f"{f3(c.loc[(small, k), 'weak_test_acc'])}"
                        for k in above
                    ]
                )
                if above
                else ""
            )
            + ")."
        )
        if above and min(below) > max(above):
            text += " More classes need more data before the student beats the teacher."
    steps = [c.loc[(top, k), "best_step"] for k in ks]
    windows = [c.loc[(top, k)] for k in ks]
    text += (
        f" At `n_st = {top}` the peak comes "
        + ("later" if np.all(np.diff(steps) > 0) else "at")
        + f" (step {' / '.join(f'{s:.0f}' for s in steps)}) and the window "
        + _window_moves(windows)
        + f" ({' / '.join(f'{w.window_start:.0f}–{w.window_end:.0f}' for w in windows)})."
    )
    harmful_small = all(
        (r[(r["n_st"] == small) & (r["n_classes"] == k)]["class"] == "harmful").all() for k in ks
    )
    lc_top = all(
        (r[(r["n_st"] == top) & (r["n_classes"] == k)]["class"] == "label_correction").all()
        for k in ks
    )
    degrade = all(c.loc[(top, k), "final_test_acc"] < c.loc[(top, k), "best_test_acc"] for k in ks)
    if harmful_small and lc_top and degrade:
        text += (
            " What did not move: the three mechanisms appear at every K. The harmful fit of wrong "
            f"pseudo-labels appears at small `n_st`, and label correction with a peak at "
            f"{span([c.loc[(top, k), 'best_test_acc'] for k in ks], 2)} at `n_st = {top}` (label "
            f"correction {span([c.loc[(top, k), 'label_correction_best'] for k in ks], 2)} at the "
            f"best step), followed by degradation with overtraining (final "
            f"{span([c.loc[(top, k), 'final_test_acc'] for k in ks], 2)})."
        )
    else:
        text += (
            " Not every mechanism appears at every K: harmful at the smallest `n_st` "
            f"{'for every K' if harmful_small else 'not for every K'}, label correction at the "
            f"largest {'for every K' if lc_top else 'not for every K'}."
        )
    return text


def _window_moves(windows) -> str:
    later = np.all(np.diff([w.window_start for w in windows]) > 0) and np.all(
        np.diff([w.window_end for w in windows]) > 0
    )
    wider = np.all(np.diff([w.window_length for w in windows]) > 0)
    if later and wider:
        return "moves later and widens"
    if later:
        return "moves later"
    return "widens" if wider else "spans"


MOVES = {"batch_size": _moves_batch, "second_layer": _moves_layer, "classes": _moves_classes}


# -- the K-class teachers, the shared baselines ------------------------------------------------


def _teachers() -> str:
    summary = study("classes")[0]
    teachers = summary.drop_duplicates(["n_classes", "seed"])
    g = teachers.groupby("n_classes")
    hard, hard_sd, overall = (
        g["weak_test_acc_hard"].mean(),
        g["weak_test_acc_hard"].std(),
        g["weak_test_acc"].mean(),
    )
    ks = list(hard.index)
    p_h = float(summary["p_h"].iloc[0])
    theory = [1 - p_h * (1 - 1 / k) for k in ks]
    at_chance = all(abs(hard[k] - (0.5 if k == 2 else 1 / k)) <= 0.03 for k in ks)
    return (
        "The trained teachers in the study "
        + ("stay at chance: " if at_chance else "are not all at chance: ")
        + f"hard-only weak accuracy {' / '.join(f3(hard[k]) for k in ks)} (sd ≤ "
        f"{f3(hard_sd.max(), 2)} over {teachers['seed'].nunique()} seeds) for "
        f"`K = {' / '.join(str(int(k)) for k in ks)}`. Their overall accuracy is "
        f"{' / '.join(f3(overall[k]) for k in ks)}, against `1 - p_h·(1 - 1/K)` = "
        f"{' / '.join(f3(v, 2) for v in theory)}."
    )


def _baselines(present: list[str]) -> str:
    """Whether the baseline runs of the three studies are the same runs."""
    if len(present) < 2:
        return "*(compared once two of the three studies are committed)*"
    columns = ["weak_test_acc", "pseudo_label_acc", "final_test_acc", "best_test_acc", "best_step"]
    frames = []
    for name in present:
        axis = STUDIES[name][0]
        s = settled(study(name)[0])
        base = s[np.isclose(s[axis].astype(float), float(_baseline_value(name)))]
        frames.append(
            base.sort_values(["n_st", "seed"])[["n_st", "seed", *columns]].reset_index(drop=True)
        )
    first = frames[0]
    if any(len(f) != len(first) for f in frames):
        return "their baseline rows do not hold the same runs"
    gap = max(float(np.abs(f.to_numpy(float) - first.to_numpy(float)).max()) for f in frames[1:])
    return "they agree to every digit" if gap == 0 else f"they differ by up to {gap:.2g}"


# -- figures -----------------------------------------------------------------------------------


def _figure(name: str, axis: str, figure_name: str) -> None:
    """Test accuracy against step, one panel per `n_st`, one line per value of `axis` (mean
    over seeds), the weak model dotted in the line's colour."""
    summary, trajectories, _ = study(name)
    sizes = sorted(trajectories["n_st"].unique())
    values = sorted(
        trajectories[axis].unique(), key=lambda v: (float(v) != _baseline_value(name), float(v))
    )
    if name == "batch_size":
        values = sorted(values, key=lambda b: (int(b) != 0, -int(b)))
    fig = figure(8.0, 5.6)
    axes = fig.subplots(2, -(-len(sizes) // 2), sharey=True).ravel()
    for ax, n_st in zip(axes, sizes):
        for k, value in enumerate(values):
            at = trajectories[
                (trajectories["n_st"] == n_st)
                & np.isclose(trajectories[axis].astype(float), float(value))
            ]
            curve = at[at["step"] >= 1].groupby("step")["test_acc"].mean()
            colour = f"C{k}"
            ax.plot(
                curve.index.to_numpy(),
                curve.to_numpy(),
                color=colour,
                lw=1.6,
                label=_legend(name, value),
            )
            weak = summary[
                (summary["n_st"] == n_st) & np.isclose(summary[axis].astype(float), float(value))
            ]
            ax.axhline(float(weak["weak_test_acc"].mean()), color=colour, ls=":", lw=1.0)
        ax.set_xscale("log")
        ax.set_title(f"n_st = {int(n_st)}", fontsize=10)
        ax.tick_params(labelsize=9)
        ax.grid(alpha=0.3)
    for ax in axes[len(sizes) :]:
        ax.set_visible(False)
    for ax in axes[-2:]:
        ax.set_xlabel("step", fontsize=10)
    for ax in axes[::2]:
        ax.set_ylabel("test accuracy", fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    from matplotlib.lines import Line2D

    handles.append(Line2D([], [], color="0.3", ls=":", lw=1.0))
    labels.append("weak model (its colour)")
    fig.legend(
        handles, labels, loc="outside lower center", ncols=len(labels), fontsize=9, frameon=False
    )
    fig.suptitle(f"{_title(name)}: test accuracy (mean over seeds)", fontsize=11)
    png(fig, figure_name)


def _legend(name: str, value) -> str:
    if name == "batch_size":
        return "full batch" if int(value) == 0 else f"b = {int(value)}"
    if name == "second_layer":
        return "fixed layer" if float(value) == 0 else f"eta_a = {float(value):g}"
    return f"K = {int(value)}"


def _title(name: str) -> str:
    return {
        "batch_size": "Mini-batch SGD",
        "second_layer": "A trained second layer",
        "classes": "K classes",
    }[name]
