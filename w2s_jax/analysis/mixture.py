"""The teacher axis between coin and rule (`hard_labels = "mix"`, docs/teacher_axis.md).

A mixed oracle labels each hard-only sample by the rule with probability `q` (`rule_share`)
and by a fair coin otherwise, on draws shared across `q`. Two questions are asked of a plane
swept along `q`:

- where, cell by cell, the student stops gaining over its teacher and starts imitating it:
  `q_crossings` gives the `q` at which a seed-mean metric crosses a level (final gain 0,
  imitation 0.9), with a seed-bootstrap interval;
- whether the trained teacher's map is the mixture's at the trained teacher's own measured
  rule share: `predict_trained` interpolates the mixture's seed-mean gains, cell by cell, at
  that share and sets them against what the trained teacher's students gained.

The mixture's measured rule share (`teacher_rule_share`, the share of hard-only labels fixed
by the patch) is `(1 + q)/2` in expectation; the prediction interpolates in the measured
share of both teachers, so the two are compared on the same scale.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from w2s_jax.analysis.plane import snap

__all__ = ["CELL", "q_crossings", "shared_seeds", "crossing", "predict_trained", "agreement"]

#: The columns that name a cell of the plane.
CELL = ("n_st", "n_st_snr", "d_over_n")
BOOTSTRAP = 400


def crossing(q: np.ndarray, value: np.ndarray, level: float, rising: bool) -> float:
    """The first `q` at which `value(q)` (sorted by `q`) passes `level`, going up when
    `rising` and down otherwise, by linear interpolation between grid points. `-inf` when it
    is already past the level at the smallest `q`, `+inf` when it never gets there."""
    past = value >= level if rising else value <= level
    if past[0]:
        return -np.inf
    hits = np.flatnonzero(past)
    if not len(hits):
        return np.inf
    i = hits[0]
    q0, q1, v0, v1 = q[i - 1], q[i], value[i - 1], value[i]
    return float(q0 + (level - v0) * (q1 - q0) / (v1 - v0))


def shared_seeds(mix: pd.DataFrame) -> pd.DataFrame:
    """The runs of the seeds swept at every `q` of their cell: where the ends (the coin and
    rule planes) have more seeds than the mixture, the extra seeds are left out, so each
    `q` is averaged over the same draws."""
    counts = mix.groupby([*CELL, "seed"]).rule_share.transform("nunique")
    return mix[counts == mix.groupby(list(CELL)).rule_share.transform("nunique")]


def _cell_crossing(cell: pd.DataFrame, metric: str, level: float, rising: bool, rng) -> dict:
    table = cell.pivot_table(index="seed", columns="rule_share", values=metric)
    q = table.columns.to_numpy(float)
    values = table.to_numpy(float)  # seeds × q
    point = crossing(q, values.mean(axis=0), level, rising)
    draws = rng.integers(len(values), size=(BOOTSTRAP, len(values)))
    boot = np.array([crossing(q, values[d].mean(axis=0), level, rising) for d in draws])
    # No interpolation between order statistics: a resample may cross nowhere (±inf).
    lo, hi = np.quantile(boot, 0.025, method="lower"), np.quantile(boot, 0.975, method="higher")
    return dict(q=point, q_lo=lo, q_hi=hi, seeds=len(values))


def q_crossings(
    mix: pd.DataFrame, metric: str, level: float, rising: bool, seed: int = 0
) -> pd.DataFrame:
    """Per cell of a mixture plane, the `q` at which the seed mean of `metric` passes `level`
    (`crossing`) and its 95 % seed-bootstrap interval (resampling whole seeds, the same seeds
    at every `q`, since the draws are shared: those swept at every `q`, `shared_seeds`).
    `q = -inf`: past the level already at the smallest `q` swept; `+inf`: not past it at the
    largest."""
    rng = np.random.default_rng(seed)
    mix = shared_seeds(snap(mix))
    rows = [
        dict(zip(CELL, key, strict=True)) | _cell_crossing(cell, metric, level, rising, rng)
        for key, cell in mix.groupby(list(CELL))
    ]
    return pd.DataFrame(rows)


def predict_trained(mix: pd.DataFrame, trained: pd.DataFrame, near: float = 0.01) -> pd.DataFrame:
    """For each cell of a trained-teacher plane also swept by the mixture, the mixture's
    seed-mean final and best gains interpolated at the trained teacher's seed-mean measured
    rule share, beside the trained teacher's own. `near` marks the cells whose trained
    teacher's accuracy lies within `near` of the mixture's (`1 - p_h/2` in expectation,
    measured as the mixture's seed-mean accuracy in that cell)."""
    metrics = ["gain_final", "gain_best", "teacher_rule_share", "weak_test_acc"]
    mixed = shared_seeds(snap(mix)).groupby([*CELL, "rule_share"])[metrics].mean().reset_index()
    own = snap(trained).groupby(list(CELL))[metrics].mean()
    rows = []
    for key, curve in mixed.groupby(list(CELL)):
        if key not in own.index:
            continue
        curve = curve.sort_values("teacher_rule_share")
        share = own.loc[key, "teacher_rule_share"]
        x = curve.teacher_rule_share.to_numpy()
        row = dict(zip(CELL, key, strict=True))
        row |= dict(
            trained_rule_share=share,
            inside=bool(x[0] <= share <= x[-1]),
            trained_acc=own.loc[key, "weak_test_acc"],
            mix_acc=curve.weak_test_acc.mean(),
        )
        row["near_oracle_acc"] = abs(row["trained_acc"] - row["mix_acc"]) <= near
        for metric in ("gain_final", "gain_best"):
            row[f"{metric}_trained"] = own.loc[key, metric]
            row[f"{metric}_predicted"] = float(np.interp(share, x, curve[metric].to_numpy()))
            row[f"{metric}_residual"] = row[f"{metric}_trained"] - row[f"{metric}_predicted"]
        rows.append(row)
    return pd.DataFrame(rows)


def agreement(prediction: pd.DataFrame, metric: str) -> dict:
    """How well the mixture predicts the trained teacher's `metric` over the cells of
    `prediction`: R² (1 − residual over total sum of squares, about the trained cells' mean),
    the correlation, the root-mean-square residual and the number of cells."""
    y = prediction[f"{metric}_trained"].to_numpy()
    residual = prediction[f"{metric}_residual"].to_numpy()
    total = np.sum((y - y.mean()) ** 2)
    return dict(
        cells=len(y),
        r2=float(1 - np.sum(residual**2) / total) if total > 0 else np.nan,
        corr=float(np.corrcoef(y, prediction[f"{metric}_predicted"])[0, 1])
        if len(y) > 1
        else np.nan,
        rms=float(np.sqrt(np.mean(residual**2))) if len(y) else np.nan,
    )
