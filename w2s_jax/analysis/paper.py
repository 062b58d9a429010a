"""The paper's synthetic table beside a sweep's runs at the paper's `n_st`
(docs/model.md#calibration).

What the paper reports per `n_st`, the rule we hold a run against, and a table of both: the
weak model's accuracy, the student's best and final test accuracy, its fit of the
pseudo-labels and the share of wrong pseudo-labels it corrects at its best step.
"""

from __future__ import annotations

import pandas as pd

from w2s_jax.analysis.rules import (
    FIT_MIN,
    ROUNDING,
    WEAK_MARGIN,
    at_least,
    harmful_error_text,
)

__all__ = ["PAPER", "paper_rows", "paper_table"]

_H = f"test error below {harmful_error_text()}"
#: n_st -> (the paper's regime, what the paper reports, the rule a run must meet).
PAPER = {
    75: (
        "harmful",
        "train ~100%, test ~85% (the weak model's level)",
        f"fits every pseudo-label; final test within {WEAK_MARGIN:g} of the weak model's",
    ),
    2000: (
        "benign",
        "train ~100%, test above 85%",
        f"fits every pseudo-label; final {_H}",
    ),
    20000: (
        "label correction",
        "train ~85% at early stopping, test ~100%, degrading with overtraining",
        f"at the best step most wrong pseudo-labels corrected and {_H}; final test below the best",
    ),
}


def _meets(regime: str, run: pd.Series) -> bool:
    if regime == "harmful":
        fitted = at_least(run["final_train_acc_pseudo"], FIT_MIN)
        gap = abs(run["final_test_acc"] - run["weak_test_acc"])
        return bool(fitted and gap <= WEAK_MARGIN + ROUNDING)
    if regime == "benign":
        return bool(run["end_class"] == "benign")
    return bool(run["class"] == "label_correction" and run["final_test_acc"] < run["best_test_acc"])


def paper_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """`runs` (from `analysis.classify`) at the paper's `n_st`, each with `meets`: whether it
    shows the paper's regime by the rule of `PAPER`."""
    kept = runs[runs["n_st"].isin(PAPER)].copy()
    kept["paper_regime"] = kept["n_st"].map(lambda n: PAPER[n][0])
    kept["meets"] = [_meets(PAPER[r.n_st][0], r) for _, r in kept.iterrows()]
    return kept


def paper_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per paper `n_st` (and per other swept cell columns in `runs`): the paper's
    claim, our means over seeds, and how many seeds meet the claim."""
    rows = paper_rows(runs)
    out = []
    for n_st, group in rows.groupby("n_st"):
        regime, reported, _ = PAPER[n_st]
        out.append(
            dict(
                n_st=n_st,
                paper=f"{regime}: {reported}",
                d_over_n=group["d_over_n"].mean() if "d_over_n" in group else float("nan"),
                tau=group["tau"].mean(),
                n_st_snr=group["n_st_snr"].mean() if "n_st_snr" in group else float("nan"),
                weak=group["weak_test_acc"].mean(),
                best=group["best_test_acc"].mean(),
                best_step=group["best_step"].mean(),
                corrected_at_best=group["label_correction_best"].mean(),
                final=group["final_test_acc"].mean(),
                final_train_pseudo=group["final_train_acc_pseudo"].mean(),
                meets=f"{int(group['meets'].sum())}/{len(group)}",
            )
        )
    return pd.DataFrame(out)
