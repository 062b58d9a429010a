"""The lower edge of benign overfitting as `n_st` grows, from traced crossings (`w2s trace`).

In the phase plane's coordinates an iso-`tau` line is straight with slope −2:
`tau = p_b²·(n_st·snr)²·(d/n_st)`, so `log(d/n_st) = log(tau/p_b²) − 2·log(n_st·snr)`.
Theorem 3.4's lower edge is such a line, `tau = C`. `edge_line` fits a straight line to one
`n_st`'s traced crossings (one per `n_st·snr` column that crosses) and gives its slope and the
`tau` it sits at, with intervals from a bootstrap over the columns (pairs: each resample
refits the line to columns drawn with replacement, so the interval says how much the columns
disagree with one line); `trend` sets the slopes of several `n_st` against `log n_st`, to ask
whether −2 is within reach of the trend.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["crossing_taus", "edge_line", "trend"]

BOOTSTRAP = 2000


def crossing_taus(trace: pd.DataFrame, p_b: float) -> pd.DataFrame:
    """The crossed lines of a lower-edge trace table (`trace.parquet`) with the `tau` of each
    crossing and of its interval's ends (`tau` falls as `d/n_st` grows)."""
    crossed = trace[trace["status"] == "crossed"].copy()
    factor = p_b**2 * crossed["n_st_snr"] ** 2
    crossed["tau"] = factor * crossed["crossing"]
    crossed["tau_lo"] = factor * crossed["ci_lo"]
    crossed["tau_hi"] = factor * crossed["ci_hi"]
    return crossed


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    slope, intercept = np.polyfit(x, y, 1)
    return float(slope), float(intercept)


def edge_line(crossed: pd.DataFrame, level: float = 0.95, seed: int = 0) -> dict:
    """The straight line through one `n_st`'s crossings in `(log n_st·snr, log d/n_st)`: its
    slope, the geometric-mean `tau` of the crossings (`C`), and their intervals from a pairs
    bootstrap over the columns. NaN where fewer than two (slope) or one (`C`) columns crossed,
    or where every resample has fewer than two distinct columns."""
    x = np.log(crossed["n_st_snr"].to_numpy(float))
    y = np.log(crossed["crossing"].to_numpy(float))
    log_tau = np.log(crossed["tau"].to_numpy(float))
    out = dict(columns=len(x), slope=np.nan, slope_lo=np.nan, slope_hi=np.nan)
    out |= dict(C=np.nan, C_lo=np.nan, C_hi=np.nan)
    if len(x) == 0:
        return out
    out["C"] = float(np.exp(log_tau.mean()))
    rng = np.random.default_rng(seed)
    draws = rng.integers(len(x), size=(BOOTSTRAP, len(x)))
    alpha = (1 - level) / 2
    means = log_tau[draws].mean(axis=1)
    out["C_lo"], out["C_hi"] = np.exp(np.quantile(means, [alpha, 1 - alpha]))
    if len(x) < 2:
        return out
    out["slope"] = _line(x, y)[0]
    slopes = [_line(x[d], y[d])[0] for d in draws if len(np.unique(d)) > 1]
    if slopes:
        out["slope_lo"], out["slope_hi"] = np.quantile(slopes, [alpha, 1 - alpha])
    return out


def trend(lines: pd.DataFrame, target: float = -2.0) -> dict:
    """The slopes of several `n_st` (rows of `edge_line` with an `n_st` column) against
    `log10 n_st`: a weighted straight line (weights from the slopes' interval widths), its
    change per decade of `n_st`, and the `n_st` at which it would reach `target` (NaN when the
    trend does not head there). Two `n_st` give a line through both: no error on the trend."""
    rows = lines.dropna(subset=["slope"]).sort_values("n_st")
    out = dict(points=len(rows), per_decade=np.nan, per_decade_se=np.nan, reaches_at=np.nan)
    if len(rows) < 2:
        return out
    x = np.log10(rows["n_st"].to_numpy(float))
    y = rows["slope"].to_numpy(float)
    sd = ((rows["slope_hi"] - rows["slope_lo"]) / (2 * 1.96)).to_numpy(float)
    w = (
        1
        / np.where(np.isfinite(sd) & (sd > 0), sd, np.nanmax(sd[np.isfinite(sd)], initial=1.0)) ** 2
    )
    X = np.column_stack([np.ones_like(x), x])
    cov = np.linalg.pinv(X.T @ (w[:, None] * X))
    beta = cov @ X.T @ (w * y)
    out["per_decade"] = float(beta[1])
    if len(rows) > 2:
        out["per_decade_se"] = float(np.sqrt(cov[1, 1]))
    if beta[1] != 0 and (target - y[-1]) / beta[1] > 0:
        out["reaches_at"] = float(10 ** ((target - beta[0]) / beta[1]))
    return out
