"""Classification of runs and early-stopping windows, from recorded trajectories.

Every run (one grid cell × seed) gets one class, decided in this order (the thresholds and
their wording are in `w2s_jax.analysis.rules`):

1. `not_converged`: the run diverged, or it ends without fitting the pseudo-labels
   (final `train_acc_pseudo < FIT_MIN`) and is not a label-correction run.
2. `label_correction` (Theorem 3.6): at its best step the student predicts the true label
   on at least `LC_MIN` of the wrongly pseudo-labelled training points, and its test error
   there is below the harmful level `HARMFUL_ERROR·p_h`.
3. `harmful` (Theorem 3.4): it fits the pseudo-labels and ends with test error at least
   `HARMFUL_ERROR·p_h`, i.e. no better than the weak model (error `p_h/2`) plus a margin of
   `(1/2 - HARMFUL_ERROR)·p_h`.
4. `benign`: it fits the pseudo-labels and ends with test error below `HARMFUL_ERROR·p_h`.

Beside the class: the gain over the teacher, `gain = acc - weak` in accuracy points (as in
`summary.parquet`), and `errors_removed = (acc - weak) / (1 - weak)`, the share of the weak
model's test errors that the student removes (0: no better than the teacher, 1: perfect);
with the weak model at its limit `1 - p_h/2` the harmful level is
`errors_removed = 1 - 2·HARMFUL_ERROR`.
Independently of the class, `end_class` is what the run is at its last step (harmful /
benign / not_converged) and `degradation = best_test_acc - final_test_acc` measures what
overtraining costs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from w2s_jax.analysis.rules import (
    FIT_MIN,
    HARMFUL_ERROR,
    LC_MIN,
    WINDOW_TOL,
    at_least,
    below,
    harmful_level,
)
from w2s_jax.model.config import DATA_FIELDS, TRAIN_FIELDS
from w2s_jax.model.coordinates import THEORY_COLUMNS
from w2s_jax.model.theory import add_tau

__all__ = [
    "CLASSES",
    "parameter_columns",
    "swept_columns",
    "class_rule",
    "classify",
    "early_stopping_windows",
    "per_cell",
    "class_counts",
    "gain",
]

CLASSES = ("harmful", "benign", "label_correction", "not_converged")


def parameter_columns(df: pd.DataFrame) -> list[str]:
    """The columns of `df` that are data or training parameters, in table order
    (docs/model.md#config)."""
    known = set(DATA_FIELDS) | set(TRAIN_FIELDS)
    return [c for c in df.columns if c in known]


def swept_columns(df: pd.DataFrame) -> list[str]:
    """The parameter columns that take more than one value in `df` (the grid axes)."""
    return [c for c in parameter_columns(df) if df[c].nunique(dropna=False) > 1]


def gain(acc, weak):
    """Share of the weak model's test errors removed: `(acc - weak) / (1 - weak)`."""
    acc, weak = np.asarray(acc, dtype=float), np.asarray(weak, dtype=float)
    return (acc - weak) / np.maximum(1.0 - weak, 1e-12)


def _run_keys(df: pd.DataFrame) -> list[str]:
    """Columns that identify a run: the sweep's `cell` index (if present), parameters, seed."""
    return (["cell"] if "cell" in df else []) + parameter_columns(df) + ["seed"]


def _per_run(trajectories: pd.DataFrame, tol: float) -> pd.DataFrame:
    """Best step, window and values at the best and final steps for every run."""
    keys = _run_keys(trajectories)
    t = trajectories.sort_values(keys + ["step"], kind="stable").reset_index(drop=True)
    group = t.groupby(keys, dropna=False, sort=False).ngroup().to_numpy()
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    ends = np.r_[starts[1:], len(t)]
    step = t["step"].to_numpy()
    acc = t["test_acc"].to_numpy(dtype=float)
    acc = np.where(np.isfinite(acc), acc, -np.inf)
    best = np.empty(len(starts), dtype=int)
    lo = np.empty(len(starts), dtype=int)
    hi = np.empty(len(starts), dtype=int)
    for k, (a, b) in enumerate(zip(starts, ends)):
        curve = acc[a:b]
        i = int(curve.argmax())
        inside = curve >= curve[i] - tol
        # The window is the contiguous stretch around the best step within `tol` of the best.
        j = i
        while j > 0 and inside[j - 1]:
            j -= 1
        h = i
        while h + 1 < len(curve) and inside[h + 1]:
            h += 1
        best[k], lo[k], hi[k] = a + i, a + j, a + h
    last = ends - 1
    out = t.loc[starts, keys].reset_index(drop=True)

    def at(rows, column):
        return t[column].to_numpy()[rows] if column in t else np.full(len(rows), np.nan)

    out["best_step"] = step[best]
    out["best_test_acc"] = acc[best]
    out["window_start"] = step[lo]
    out["window_end"] = step[hi]
    out["window_length"] = step[hi] - step[lo]
    out["final_step"] = step[last]
    out["final_test_acc"] = at(last, "test_acc")
    for column in ("train_acc_pseudo", "train_acc_true", "label_correction", "test_acc_hard"):
        out[f"{column}_best"] = at(best, column)
    out["final_train_acc_pseudo"] = at(last, "train_acc_pseudo")
    out["final_label_correction"] = at(last, "label_correction")
    out["degradation"] = out["best_test_acc"] - out["final_test_acc"]
    return out


def class_rule(
    frame: pd.DataFrame,
    ok=None,
    *,
    harmful_error: float = HARMFUL_ERROR,
    fit_min: float = FIT_MIN,
    lc_min: float = LC_MIN,
) -> tuple[np.ndarray, np.ndarray]:
    """The rule of this module's docstring: `(end_class, class)` of rows holding
    `final_train_acc_pseudo`, `final_test_acc`, `best_test_acc`, `label_correction_best` and
    `p_h` (runs, or seed means of them). `ok`: the rows whose runs finished (default all);
    a row with a non-finite final accuracy is not finished either."""
    final = frame["final_test_acc"].to_numpy(dtype=float)
    ok = np.ones(len(frame), bool) if ok is None else np.asarray(ok, bool)
    ok = ok & np.isfinite(final)
    level = 1.0 - harmful_level(frame["p_h"], harmful_error)  # the harmful test error
    fitted = at_least(frame["final_train_acc_pseudo"], fit_min)
    beats = below(1.0 - final, level)
    end = np.where(~ok | ~fitted, "not_converged", np.where(beats, "benign", "harmful"))
    lc = np.nan_to_num(frame["label_correction_best"].to_numpy(float))
    corrects = at_least(lc, lc_min) & below(1.0 - frame["best_test_acc"].to_numpy(float), level)
    return end, np.where(~ok, "not_converged", np.where(corrects, "label_correction", end))


def classify(
    summary: pd.DataFrame,
    trajectories: pd.DataFrame,
    *,
    harmful_error: float = HARMFUL_ERROR,
    fit_min: float = FIT_MIN,
    lc_min: float = LC_MIN,
    tol: float = WINDOW_TOL,
) -> pd.DataFrame:
    """One row per run (cell × seed) with its class, end class and early-stopping window.

    Args:
        summary: `summary.parquet` rows (parameters, `seed`, `weak_test_acc`, `status`, ...).
        trajectories: `trajectories.parquet` rows (parameters, `seed`, `step`, metrics).
        harmful_error: test error, as a multiple of `p_h`, at and above which a run is
            harmful (Theorem 3.4's `HARMFUL_ERROR·p_h`).
        fit_min: final `train_acc_pseudo` that counts as fitting the pseudo-labels.
        lc_min: share of wrongly pseudo-labelled points corrected at the best step.
        tol: test-accuracy tolerance of the early-stopping window.

    Returns:
        The parameters, `seed`, `tau`, `weak_test_acc`, the window columns of
        `early_stopping_windows`, `gain_best`, `gain_final` (test accuracy minus the teacher's, as
        in `summary.parquet`), `errors_removed_best`, `errors_removed_final` (the share of the
        teacher's test errors removed, `gain`), `harmful_level` (the test
        accuracy below which a run is harmful), `end_class` and `class`.
    """
    runs = _per_run(trajectories, tol)
    keys = _run_keys(runs)
    carried = ("weak_test_acc", "pseudo_label_acc", "status") + THEORY_COLUMNS
    extra = [c for c in carried if c in summary and c not in keys]
    runs = runs.merge(summary[keys + extra], on=keys, how="left", validate="one_to_one")
    runs = add_tau(runs)
    if "status" not in runs:
        runs["status"] = "ok"
    weak = runs["weak_test_acc"].to_numpy(dtype=float)
    runs["gain_best"] = runs["best_test_acc"].to_numpy(dtype=float) - weak
    runs["gain_final"] = runs["final_test_acc"].to_numpy(dtype=float) - weak
    runs["errors_removed_best"] = gain(runs["best_test_acc"], weak)
    runs["errors_removed_final"] = gain(runs["final_test_acc"], weak)
    runs["harmful_level"] = harmful_level(runs["p_h"], harmful_error)
    runs["end_class"], runs["class"] = class_rule(
        runs,
        ok=runs["status"].to_numpy() == "ok",
        harmful_error=harmful_error,
        fit_min=fit_min,
        lc_min=lc_min,
    )
    return runs


def early_stopping_windows(
    summary: pd.DataFrame, trajectories: pd.DataFrame, *, tol: float = WINDOW_TOL
) -> pd.DataFrame:
    """Per run: best step and accuracy, the window of steps within `tol` of the best, the
    final accuracy and the share of wrong pseudo-labels corrected at the best step."""
    runs = classify(summary, trajectories, tol=tol)
    columns = _run_keys(runs) + [
        "tau",
        "weak_test_acc",
        "best_step",
        "best_test_acc",
        "window_start",
        "window_end",
        "window_length",
        "final_test_acc",
        "degradation",
        "label_correction_best",
    ]
    return runs[columns]


def per_cell(runs: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Average the numeric columns of per-run rows over seeds: one row per grid cell.

    Adds `n_seeds`, the share of each class (`p_<class>`) and the share of runs whose end
    state is benign (`p_benign_end`) when those columns are present.
    """
    keys = (["cell"] if "cell" in runs else []) + parameter_columns(runs)
    numeric = [
        c
        for c in (columns or runs.columns)
        if c not in keys and c != "seed" and pd.api.types.is_numeric_dtype(runs[c])
    ]
    grouped = runs.groupby(keys, dropna=False, sort=True)
    out = grouped[numeric].mean()
    out["n_seeds"] = grouped.size()
    if "class" in runs:
        for name in CLASSES:
            out[f"p_{name}"] = grouped["class"].apply(lambda s, n=name: float((s == n).mean()))
    if "end_class" in runs:
        out["p_benign_end"] = grouped["end_class"].apply(lambda s: float((s == "benign").mean()))
    return out.reset_index()


def class_counts(runs: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """How many runs fall in each class (columns in `CLASSES` order), optionally per `by`."""
    if not by:
        counts = runs["class"].value_counts().reindex(list(CLASSES), fill_value=0)
        return counts.rename("runs").to_frame().T.reset_index(drop=True)
    counts = runs.groupby(list(by) + ["class"], dropna=False).size().unstack("class", fill_value=0)
    counts = counts.reindex(columns=list(CLASSES), fill_value=0)
    counts.columns.name = None
    return counts.reset_index()
