"""docs/images.md: the MNIST table and the pool-size study, from `studies/mnist_table`,
`studies/mnist_table_20000` and `studies/mnist_pools`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from w2s_jax.analysis.report import markdown_table
from w2s_jax.analysis.rules import HARMFUL_ERROR, ROUNDING, WEAK_MARGIN, below

from ._data import f3, manifest, ready, runs, seconds, signed, span, study, waiting

TABLE, LIMIT, POOLS = "mnist_table", "mnist_table_20000", "mnist_pools"
COIN = "mnist_coin"
COIN_KEYS = ("coin_size", "coin_wall", "coin_table", "coin_rows", "coin_answer")
TABLE_KEYS = (
    "table_seeds",
    "n_test",
    "table_se",
    "table",
    "75_verdict",
    "75_fit",
    "75_end",
    "2000_verdict",
    "2000_gains",
    "2000_corrected",
    "2000_class",
    "2000_error",
    "2000_side",
    "teacher",
    "table_size",
    "table_wall",
)
LIMIT_KEYS = (
    "limit_teacher",
    "20000_size",
    "20000_wall",
    "20000_fit",
    "20000_best",
    "20000_corrected",
    "20000_window",
)
POOL_KEYS = (
    "pools_size",
    "pools_wall",
    "pools_table",
    "pools_seeds",
    "pools_se",
    "pools_75",
    "pools_2000",
    "pools_weakest",
    "pools_corrected",
    "pools_agree",
)


def facts(draw: bool = False) -> tuple[dict[str, str], list[str]]:
    out, missing = {}, []
    for name, keys, make in (
        (TABLE, TABLE_KEYS, _table),
        (LIMIT, LIMIT_KEYS, _limit),
        (POOLS, POOL_KEYS, _pools),
        (COIN, COIN_KEYS, _coin),
    ):
        if ready(name):
            out |= {f"images_{k}": v for k, v in make().items()}
        else:
            out |= {f"images_{k}": waiting(name) for k in keys}
            missing.append(name)
    out["images_hard_final"] = _hard_final()
    return out, missing


# -- helpers -------------------------------------------------------------------------------


def _engine(row) -> str:
    if row.engine == "limit":
        return f"limit, T = {int(row.T)}"
    return "Wishart" if getattr(row, "gram_noise", "wishart") == "wishart" else str(row.engine)


def _seeds(frame: pd.DataFrame) -> str:
    n = frame["seed"].nunique()
    return "one seed" if n == 1 else f"{n} seeds"


def _se(frame: pd.DataFrame) -> str:
    """The largest binomial standard error of a final test accuracy in `frame`."""
    acc = frame["final_test_acc"].to_numpy(float)
    return f"{np.max(np.sqrt(acc * (1 - acc) / frame['n_test'].to_numpy(float))):.3f}"


def _best(row) -> str:
    return f"{f3(row.best_test_acc)} ({int(row.best_step)})"


def _relative(gain: float) -> str:
    """`0.064 below` / `0.175 above` / `at the level of`."""
    if abs(gain) < 5e-4:
        return "at the level of"
    return f"{f3(abs(gain))} {'below' if gain < 0 else 'above'}"


def _size(frame: pd.DataFrame) -> str:
    return f"{_seeds(frame)}, `T = {int(frame['T'].iloc[0])}`"


def _wall(name: str) -> str:
    m = manifest(name)
    text = f"{seconds(m['wall_s'])} wall (compile {seconds(m['compile_s'])})"
    if m.get("runs_resumed"):  # the manifest times the last invocation only
        text += f" for the last {m['runs_computed']} of its {m['n_runs']} runs"
    return text


def _hard_final() -> str:
    """Range of the hard-only test accuracy at the last recorded step over the page's runs."""
    values = []
    for n in (TABLE, LIMIT, POOLS):
        if not ready(n):
            continue
        trajectories = study(n)[1]
        last = trajectories.sort_values("step").groupby(["cell", "seed"]).tail(1)
        values += list(last["test_acc_hard"].to_numpy(float))
    return span(values, 2, sep=" and ") if values else waiting(TABLE)


# -- the table --------------------------------------------------------------------------------


def _table() -> dict[str, str]:
    r = runs(TABLE).sort_values("n_st")
    rows = [r]
    if ready(LIMIT):
        rows.append(runs(LIMIT))
    both = pd.concat(rows, ignore_index=True)
    table = pd.DataFrame(
        {
            "n_st": both["n_st"].astype(int),
            "engine": [_engine(x) for x in both.itertuples()],
            "teacher": [f3(v) for v in both["weak_test_acc"]],
            "pseudo-label acc": [f3(v) for v in both["pseudo_label_acc"]],
            "best test (step)": [_best(x) for x in both.itertuples()],
            "train (pseudo) @best": [f3(v) for v in both["train_acc_pseudo_best"]],
            "corrected@best": [f3(v) for v in both["label_correction_best"]],
            "final test": [f3(v) for v in both["final_test_acc"]],
            "gain_best": [signed(v) for v in both["gain_best"]],
            "gain_final": [signed(v) for v in both["gain_final"]],
        }
    )
    small = r[r["n_st"] == 75].iloc[0]
    big = r[r["n_st"] == 2000].iloc[0]
    fitted = small.final_train_acc_pseudo >= 1.0
    verdict = f"is {small['class'].replace('_', ' ')}**"
    verdict += (
        ", as in the synthetic table"
        if small["class"] == "harmful"
        else ", unlike the synthetic table"
    )
    beats = big.gain_final > 0 and big.final_train_acc_pseudo >= 0.99
    if beats:
        verdict_big = "overfits its pseudo-labels and still beats the teacher**"
    elif big.gain_final > 0:
        verdict_big = "beats the teacher without fitting every pseudo-label**"
    else:
        verdict_big = "does not beat its teacher**"
    corrected = (
        "with no wrong label corrected at the best step: every pseudo-label is fitted"
        if big.label_correction_best == 0 and big.train_acc_pseudo_best >= 1.0
        else f"with {f3(big.label_correction_best)} of the wrong labels corrected at the best step"
    )
    error = 1.0 - float(big.final_test_acc)
    harmful_error = HARMFUL_ERROR * float(big.p_h)
    return {
        "table_seeds": _seeds(r),
        "n_test": f"{int(r['n_test'].iloc[0])}",
        "table_se": _se(both),
        "table": markdown_table(table),
        "75_verdict": verdict,
        "75_fit": (
            f"fits all {int(small.n_st)} pseudo-labels"
            if fitted
            else f"fits {f3(small.final_train_acc_pseudo)} of its pseudo-labels"
        ),
        "75_end": _relative(small.gain_final),
        "2000_verdict": verdict_big,
        "2000_gains": f"{signed(big.gain_final)} at the end, {signed(big.gain_best)} at its best "
        f"step, {int(big.best_step)}",
        "2000_corrected": corrected,
        "2000_class": big["class"].replace("_", " "),
        "2000_error": f3(error),
        "2000_side": "below"
        if below(error, harmful_error)
        else "at"
        if not below(harmful_error, error)
        else "above",
        "teacher": f3(r["weak_test_acc"].mean()),
        "table_size": _size(r),
        "table_wall": _wall(TABLE),
    }


def _limit() -> dict[str, str]:
    row = runs(LIMIT).iloc[0]
    fitted = row.final_train_acc_pseudo >= 0.99
    last = int(row.best_step) == int(row.final_step)
    fit = (
        "fits its labels by the last step"
        if fitted
        else "has not finished fitting its labels at the last step"
    ) + (
        f" ({f3(row.final_train_acc_pseudo)} of the pseudo-labels; the classes call it "
        f"{row['class'].replace('_', ' ')})"
    )
    best = (
        f"its best step is its last: {f3(row.best_test_acc)} test, "
        f"{_relative(row.gain_best)} its teacher"
        if last
        else f"its best step is {int(row.best_step)}: {f3(row.best_test_acc)} test, "
        f"{_relative(row.gain_best)} its teacher (final {f3(row.final_test_acc)})"
    )
    window = (
        f"no early-stopping window of label correction appears within these {int(row['T'])} steps"
        if row.label_correction_best < 0.5
        else "most wrong labels are corrected at the best step"
    )
    return {
        "limit_teacher": f3(row.weak_test_acc),
        "20000_size": f"`T = {int(row['T'])}`",
        "20000_wall": _wall(LIMIT),
        "20000_fit": fit,
        "20000_best": best,
        "20000_corrected": f3(row.label_correction_best),
        "20000_window": window,
    }


# -- the pools -------------------------------------------------------------------------------


def _pools() -> dict[str, str]:
    r = runs(POOLS).sort_values(["n_st", "image_pool"])
    table = pd.DataFrame(
        {
            "n_st": r["n_st"].astype(int),
            "image_pool": r["image_pool"].astype(int),
            "teacher": [f3(v) for v in r["weak_test_acc"]],
            "best test (step)": [_best(x) for x in r.itertuples()],
            "corrected@best": [f3(v) for v in r["label_correction_best"]],
            "final test": [f3(v) for v in r["final_test_acc"]],
            "gain_best": [signed(v) for v in r["gain_best"]],
            "gain_final": [signed(v) for v in r["gain_final"]],
        }
    )
    small = r[r["n_st"] == 75].sort_values("image_pool")
    big = r[r["n_st"] == 2000].sort_values("image_pool")
    worst = small.loc[small["gain_final"].idxmin()]
    if (small["gain_final"] < 0).all():
        harmful = (small["class"] == "harmful").all()
        text75 = (
            (
                "every pool size is harmful (the student ends below its teacher)"
                if harmful
                else "every pool size ends below its teacher"
            )
            + ", most with "
            f"{_images(worst.image_pool)} per class ({signed(worst.gain_final)} at the end)"
        )
    else:
        above = small[small["gain_final"] >= 0]
        text75 = (
            "the student ends below its teacher except with "
            + ", ".join(f"{_images(p)}" for p in above["image_pool"])
            + f" per class; the worst is {_images(worst.image_pool)} per class "
            f"({signed(worst.gain_final)} at the end)"
        )
    one = big[big["image_pool"] == big["image_pool"].min()].iloc[0]
    rest = big[big["image_pool"] > one.image_pool]
    level = abs(one.gain_final) <= WEAK_MARGIN + ROUNDING
    needs = level and (rest["gain_final"] > WEAK_MARGIN).all()
    text2000 = (
        ("the gain over the teacher needs more than one image per class: " if needs else "")
        + f"with {_images(one.image_pool)} per class (the fixed-signal model with image-shaped "
        "signals) the student ends "
        + ("at its teacher's level" if level else f"{_relative(one.gain_final)} its teacher")
        + f" ({signed(one.gain_final)}); "
        + ", ".join(
            f"with {_images(p)} {signed(v)}" for p, v in zip(rest["image_pool"], rest["gain_final"])
        )
    )
    weakest = r.groupby("image_pool")["weak_test_acc"].mean()
    corrected = (
        "No cell corrects any wrong label at its best step: every student has fitted all its "
        "pseudo-labels by then."
        if (r["label_correction_best"] == 0).all()
        else "Wrong labels corrected at the best step: up to "
        f"{f3(r['label_correction_best'].max())}."
    )
    agree = _agree()
    return {
        "pools_size": _size(r),
        "pools_wall": f"{seconds(manifest(POOLS)['wall_s'])}",
        "pools_table": markdown_table(table),
        "pools_seeds": _seeds(r),
        "pools_se": _se(r),
        "pools_75": text75,
        "pools_2000": text2000,
        "pools_weakest": f"{_images(weakest.idxmin())} per class ({f3(weakest.min())})",
        "pools_corrected": corrected,
        "pools_agree": agree,
    }


def _images(pool) -> str:
    pool = int(pool)
    return "one image" if pool == 1 else f"{pool} images"


def _agree() -> str:
    """Whether the pools study's 166-image cells repeat the table's Wishart rows."""
    if not ready(TABLE):
        return waiting(TABLE)
    pools = study(POOLS)[0]
    table = study(TABLE)[0]
    pools = pools[pools["image_pool"].astype(str) == "166"].sort_values(["n_st", "seed"])
    table = table.sort_values(["n_st", "seed"])
    columns = ["weak_test_acc", "pseudo_label_acc", "final_test_acc", "best_test_acc", "best_step"]
    a = pools[["n_st", "seed", *columns]].reset_index(drop=True)
    b = table[["n_st", "seed", *columns]].reset_index(drop=True)
    where = "the 166-image cells of `studies/mnist_pools` and the rows of `studies/mnist_table`"
    if len(a) == len(b) and (a.to_numpy(float) == b.to_numpy(float)).all():
        return f"{where} agree to the last digit"
    if len(a) != len(b):
        return f"{where} do not hold the same runs"
    gap = np.abs(a[columns].to_numpy(float) - b[columns].to_numpy(float)).max()
    return f"{where} differ by up to {gap:.2g}"


def _coin() -> dict[str, str]:
    """The MNIST table with the coin teacher: per run, and what each n_st does."""
    r = runs(COIN).sort_values(["n_st", "seed"])
    table = pd.DataFrame(
        {
            "n_st": r["n_st"].astype(int),
            "seed": r["seed"].astype(int),
            "teacher": [f3(v) for v in r["weak_test_acc"]],
            "pseudo-label acc": [f3(v) for v in r["pseudo_label_acc"]],
            "final test": [f3(v) for v in r["final_test_acc"]],
            "gain_final": [signed(v) for v in r["gain_final"]],
            "gain_best": [signed(v) for v in r["gain_best"]],
            "train (pseudo) final": [f3(v) for v in r["final_train_acc_pseudo"]],
            "corrected final": [f3(v) for v in r["final_label_correction"]],
            "class": [c.replace("_", " ") for c in r["class"]],
        }
    )
    rows, corrected_at = [], []
    for n, g in r.groupby("n_st"):
        fits = bool((g["final_train_acc_pseudo"] >= 1.0).all())
        corrects = bool((g["final_label_correction"] > 0).all())
        if corrects:
            corrected_at.append(int(n))
        what = (
            "fits every pseudo-label (so corrects none of the wrong ones)"
            if fits
            else f"fits {span(g['final_train_acc_pseudo'])} of its pseudo-labels and gets "
            f"{span(g['final_label_correction'])} of the wrong ones right"
        )
        rows.append(
            f"- **n_st = {int(n)}**: the student {what}, and ends {_gains(g['gain_final'])} "
            f"against its teacher, whose accuracy is {span(g['weak_test_acc'])} ({_seeds(g)})."
        )
    answer = (
        "**Label correction appears at n_st = "
        + " and ".join(str(n) for n in corrected_at)
        + "** (a share of the wrong pseudo-labels predicted right at the end, in every seed)"
        if corrected_at
        else "**No label correction appears** (no run predicts a wrong pseudo-label right at "
        "the end)"
    )
    return {
        "coin_size": _size(r),
        "coin_wall": _wall(COIN),
        "coin_table": markdown_table(table),
        "coin_rows": "\n".join(rows),
        "coin_answer": answer,
    }


def _gains(values) -> str:
    """`+0.076 to +0.082` (one number where the seeds agree)."""
    lo, hi = signed(min(values)), signed(max(values))
    return lo if lo == hi else f"{lo} to {hi}"
