"""Early stopping as a law: the best step `T_es` against the theory coordinates and the step.

In the data-abundant region the student peaks early and then degrades toward the weak model
(Theorem 3.6 gives no formula we can read). `fit_law` fits the power law

    log T_es = c + sum_j a_j · log x_j

by least squares over the runs that have a peak to time (a degradation of at least
`MIN_DEGRADATION` after the best step, and a best step of at least `MIN_STEP`), with classical
standard errors and 95% intervals, and (by default) one intercept per seed; the same fit
serves the window's end and its width. The fit is statsmodels' OLS.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from w2s_jax.analysis import plots
from w2s_jax.analysis.rules import MIN_DEGRADATION, MIN_STEP

__all__ = [
    "LawFit",
    "MIN_DEGRADATION",
    "MIN_STEP",
    "peaked",
    "fit_law",
    "law_table",
    "law_figure",
]


def peaked(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs with an early-stopping peak to time."""
    keep = (runs["degradation"] >= MIN_DEGRADATION) & (runs["best_step"] >= MIN_STEP)
    return runs[keep & (runs["best_step"] < runs["T"])]


@dataclasses.dataclass
class LawFit:
    target: str
    features: tuple[str, ...]
    n_runs: int
    constant: float  # exp(c)
    exponents: tuple[float, ...]
    lo: tuple[float, ...]
    hi: tuple[float, ...]
    r2: float

    def formula(self) -> str:
        terms = " · ".join(
            f"{f}^{a:.2f} [{lo:.2f}, {hi:.2f}]"
            for f, a, lo, hi in zip(self.features, self.exponents, self.lo, self.hi)
        )
        fit = f"R² = {self.r2:.3f}, {self.n_runs} runs"
        return f"{self.target} ≈ {self.constant:.3g} · {terms}  ({fit})"

    def rows(self) -> list[dict]:
        return [
            dict(
                target=self.target,
                feature=f,
                exponent=a,
                lo=lo,
                hi=hi,
                r2=self.r2,
                n_runs=self.n_runs,
            )
            for f, a, lo, hi in zip(self.features, self.exponents, self.lo, self.hi)
        ]


def fit_law(
    runs: pd.DataFrame,
    features=("n_st_snr", "d_over_n", "eta"),
    target: str = "best_step",
    per_seed: bool = True,
) -> LawFit | None:
    """Least squares of `log target` on `log features` over `peaked(runs)`; features that take
    one value are dropped. With `per_seed`, each seed gets its own intercept: cells that share
    a seed share their draws (the weak model among them), and the exponents are then measured
    within a seed; the constant reported is the mean over seeds. None when there are fewer
    runs than parameters plus two."""
    import statsmodels.api as sm  # here, not at the top: `w2s run` loads this module too

    data = peaked(runs)
    features = tuple(f for f in features if f in data and data[f].nunique() > 1)
    seeds = np.unique(data["seed"]) if per_seed and "seed" in data else np.array([0])
    if len(data) < len(features) + len(seeds) + 2:
        return None
    if len(seeds) > 1:
        intercepts = [(data["seed"].to_numpy() == s).astype(float) for s in seeds]
    else:
        intercepts = [np.ones(len(data))]
    k = len(intercepts)
    X = np.column_stack(intercepts + [np.log(data[f].to_numpy(float)) for f in features])
    y = np.log(data[target].to_numpy(float))
    result = sm.OLS(y, X).fit()
    beta, (lo, hi) = result.params, result.conf_int(0.05).T
    # R² about the mean, whether the intercept is one column or one per seed.
    r2 = 1 - result.ssr / result.centered_tss
    return LawFit(
        target=target,
        features=features,
        n_runs=len(data),
        constant=float(np.exp(np.mean(beta[:k]))),
        exponents=tuple(map(float, beta[k:])),
        lo=tuple(map(float, lo[k:])),
        hi=tuple(map(float, hi[k:])),
        r2=float(r2),
    )


def law_table(
    runs: pd.DataFrame, features=("n_st_snr", "d_over_n", "eta"), per_seed: bool = True
) -> pd.DataFrame:
    """The law for the best step and for the window's end, one row per exponent."""
    runs = runs.assign(window_width=runs["window_end"] - runs["window_start"] + 1)
    rows = []
    for target in ("best_step", "window_end", "window_width"):
        fit = fit_law(runs, features, target, per_seed)
        if fit is not None:
            rows += fit.rows()
    return pd.DataFrame(rows)


def law_figure(runs: pd.DataFrame, fit: LawFit, path=None):
    """Measured best step against the fitted law (log-log), one colour per step size."""
    data = peaked(runs)
    fig, axes = plots._panels(1, width=5.0, height=4.2, columns=1)
    ax = axes[0]
    predicted = fit.constant * np.prod(
        [data[f].to_numpy(float) ** a for f, a in zip(fit.features, fit.exponents)], axis=0
    )
    hue = "eta" if "eta" in data and data["eta"].nunique() > 1 else fit.features[0]
    for value, group in data.groupby(hue):
        mask = data[hue].to_numpy() == value
        ax.scatter(predicted[mask], group[fit.target], s=16, alpha=0.8, label=f"{hue} = {value:g}")
    line = np.geomspace(max(predicted.min(), 1) / 2, predicted.max() * 2, 10)
    ax.plot(line, line, "k--", lw=1, label="measured = law")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="law: " + " · ".join(f"{f}^{a:.2f}" for f, a in zip(fit.features, fit.exponents)),
        ylabel=f"measured {fit.target}",
        title=f"Early-stopping time (R² = {fit.r2:.2f}, {fit.n_runs} runs)",
    )
    ax.legend(fontsize=7)
    return plots.save(fig, path)
