"""The empirical harmful/benign boundary against Theorem 3.4's `tau >= C`.

Three fits of the benign indicator `y` of each run (cell × seed), all logistic regressions by
maximum likelihood (statsmodels), with a weak ridge penalty where the classes are separated (so
that separated grids, common with clean simulations, still give finite, well-placed
boundaries):

- `boundary_per_slice`: within each slice of the grid (all axes but `n_st` fixed),
  `P(y=1) = σ(k·(log tau - log tau_50))`; the crossing `n_st_50` is the `n_st` at which
  `tau = tau_50`. The interval comes from a bootstrap over seeds.
- `fit_constant`: the same model with one `(k, C)` for every slice at once; `C` is the
  fitted constant of `tau >= C`, with a bootstrap interval over seeds and a Wald interval.
- `fit_exponents`: `logit P = b_0 + Σ_j b_j log x_j` over `x = n_st, p_b, nu_norm, sigma_p`
  (and `d` when it varies). Only ratios are identified, so the exponents are reported
  relative to `n_st`: `(1, b_p_b/b_n_st, ...)`, to compare with `(1, 2, 4, -4)`; intervals by
  the delta method and by a bootstrap over seeds, plus a likelihood-ratio test of the
  theory's exponents against the free fit.

Seeds are resampled as whole units because cells that share a seed share their random
draws (common random numbers), so a seed is the independent replicate.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from w2s_jax.analysis.classes import swept_columns
from w2s_jax.model.theory import THEORY_EXPONENTS, add_tau

__all__ = [
    "benign_outcome",
    "Logistic",
    "logistic_model",
    "logistic_fit",
    "ridge_logistic",
    "boundary_per_slice",
    "seed_bootstrap",
    "fit_constant",
    "fit_exponents",
    "ConstantFit",
    "ExponentFit",
]

RIDGE = 1e-3  # penalty on slopes; keeps separated grids finite without moving the boundary
BOOTSTRAP = 200
MLE_STEPS = 10  # Newton steps from the ridge fit before the data count as quasi-separated


def benign_outcome(runs: pd.DataFrame, rule: str = "end") -> pd.DataFrame:
    """Runs with a 0/1 column `benign`, dropping runs that did not converge.

    Args:
        runs: the output of `analysis.classify`.
        rule: `"end"` (Theorem 3.4's converged state: `end_class` is benign, the run fits
            the pseudo-labels and ends below the harmful error) or `"class"` (`class` is
            benign or label_correction, i.e. not harmful at its best step) or
            `"label_correction"` (the onset of Theorem 3.6's regime: `class` is
            label_correction).
    """
    if rule == "end":
        kept = runs[runs["end_class"] != "not_converged"].copy()
        kept["benign"] = (kept["end_class"] == "benign").astype(float)
    elif rule in ("class", "label_correction"):
        kept = runs[runs["class"] != "not_converged"].copy()
        good = ["benign", "label_correction"] if rule == "class" else ["label_correction"]
        kept["benign"] = kept["class"].isin(good).astype(float)
    else:
        raise ValueError(f"rule: must be 'end', 'class' or 'label_correction', got {rule!r}")
    return add_tau(kept)


@dataclasses.dataclass
class Logistic:
    """A fitted `P(y=1) = σ(X @ beta)`: coefficients, their covariance, the log-likelihood."""

    beta: np.ndarray
    cov: np.ndarray
    llf: float  # unpenalized log-likelihood at `beta`
    ridge: bool  # whether the data were separated and the ridge fit was used


def logistic_model(X: np.ndarray, y: np.ndarray, ridge: float = RIDGE) -> Logistic:
    """Maximum-likelihood logistic regression (statsmodels' `Logit`); column 0 of `X` is the
    intercept. Where the maximum likelihood does not exist (the classes are separated, or all
    runs share one label, as clean simulations often give) the ridge fit `ridge_logistic`
    stands instead; it is also the starting point of statsmodels' Newton steps."""
    import statsmodels.api as sm  # here, not at the top: `w2s run` loads this module too

    X, y = np.asarray(X, float), np.asarray(y, float)
    beta, cov = ridge_logistic(X, y, ridge)
    z = X @ beta
    llf = float(-np.sum(np.logaddexp(0.0, z) - y * z))
    if np.all((z > 0) == (y > 0.5)):  # a plane splits the classes: no maximum likelihood
        return Logistic(beta, cov, llf, True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # overflow and non-convergence on quasi-separated data
        try:
            # From the ridge fit, Newton converges in a few steps where the maximum likelihood
            # exists; on quasi-separated data the slopes only grow, so give up early.
            result = sm.Logit(y, X).fit(start_params=beta, maxiter=MLE_STEPS, disp=0)
        except np.linalg.LinAlgError:
            return Logistic(beta, cov, llf, True)
    mle_cov = np.asarray(result.cov_params())
    if not result.mle_retvals["converged"] or not np.all(np.isfinite(mle_cov)):
        return Logistic(beta, cov, llf, True)
    return Logistic(np.asarray(result.params), mle_cov, float(result.llf), False)


def logistic_fit(X: np.ndarray, y: np.ndarray, ridge: float = RIDGE):
    """`(beta, covariance)` of `logistic_model`."""
    model = logistic_model(X, y, ridge)
    return model.beta, model.cov


def ridge_logistic(X: np.ndarray, y: np.ndarray, ridge: float = RIDGE):
    """Ridge-penalized logistic regression `P(y=1) = σ(X @ beta)`; column 0 of `X` is the
    intercept. Kept by hand because statsmodels' penalized fits give no covariance, and only
    the penalty keeps the slopes finite on separated data.

    Returns `(beta, covariance)`; the covariance is the inverse penalized Hessian.
    """
    X, y = np.asarray(X, float), np.asarray(y, float)
    penalty = np.full(X.shape[1], ridge)
    penalty[0] = 0.0

    # Newton's method with step halving: the penalized objective is strictly convex in the
    # slopes, and a handful of small solves is far cheaper than a general-purpose optimizer.
    def objective(beta):
        z = X @ beta
        return np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * np.sum(penalty * beta**2)

    beta = np.zeros(X.shape[1])
    beta[0] = np.log((y.mean() + 1e-3) / (1 - y.mean() + 1e-3))
    penalty[0] = 1e-9  # keeps the Hessian invertible when every run has the same label
    value = objective(beta)
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(X @ beta)))
        grad = X.T @ (p - y) + penalty * beta
        hessian = (X * (p * (1 - p))[:, None]).T @ X + np.diag(penalty)
        try:
            direction = np.linalg.solve(hessian, grad)
        except np.linalg.LinAlgError:
            direction = grad
        step = 1.0
        while step > 1e-6:
            candidate = beta - step * direction
            new = objective(candidate)
            if new <= value + 1e-12:
                break
            step /= 2
        beta, improvement, value = candidate, value - new, new
        if improvement < 1e-10 and np.max(np.abs(step * direction)) < 1e-8:
            break
    p = 1.0 / (1.0 + np.exp(-(X @ beta)))
    hessian = (X * (p * (1 - p))[:, None]).T @ X + np.diag(penalty)
    try:
        cov = np.linalg.inv(hessian)
    except np.linalg.LinAlgError:
        cov = np.full_like(hessian, np.nan)
    return beta, cov


def seed_bootstrap(df: pd.DataFrame, statistic, n: int, rng: np.random.Generator):
    """`statistic(rows)` on `n` resamples of `df`'s rows, whole seeds drawn with replacement."""
    seeds = df["seed"].to_numpy()
    by_seed = [np.flatnonzero(seeds == s) for s in np.unique(seeds)]
    values = []
    for _ in range(n):
        draw = rng.integers(len(by_seed), size=len(by_seed))
        values.append(statistic(np.concatenate([by_seed[i] for i in draw])))
    return np.asarray(values, dtype=float)


def _crossing_log_tau(x: np.ndarray, y: np.ndarray) -> float:
    """`log tau` at which the fitted benign probability is 1/2 (NaN if one class only).

    Args:
        x: `log tau` of each run. y: its 0/1 benign indicator.
    """
    if y.min() == y.max():
        return np.nan
    beta, _ = logistic_fit(np.column_stack([np.ones_like(x), x]), y)
    return -beta[0] / beta[1] if beta[1] > 0 else np.nan


def boundary_per_slice(
    data: pd.DataFrame,
    along: str = "n_st",
    level: float = 0.95,
    n_boot: int = BOOTSTRAP,
    seed: int = 0,
) -> pd.DataFrame:
    """Where the benign probability crosses 1/2 along `along`, per slice of the grid.

    Args:
        data: `benign_outcome` rows.
    Returns:
        One row per slice: the slice's parameters, `tau_50` and `n_st_50` with `lo`/`hi`
        bounds at `level`, `side` (`crossed`, `all_benign`, `all_harmful`) and `n_runs`.
    """
    rng = np.random.default_rng(seed)
    axes = [c for c in swept_columns(data) if c != along]
    if "p_e" in axes and ("p_b" in axes or "p_h" in axes):
        axes.remove("p_e")  # implied by p_h and p_b
    groups = data.groupby(axes, dropna=False) if axes else [((), data)]
    rows = []
    alpha = (1 - level) / 2
    for key, df in groups:
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(axes, key))
        y = df["benign"].to_numpy()
        row["n_runs"] = len(df)
        row["side"] = "all_benign" if y.min() == 1 else "all_harmful" if y.max() == 0 else "crossed"
        x, yf = np.log(df["tau"].to_numpy(float)), y.astype(float)
        log_tau = _crossing_log_tau(x, yf)
        boots = (
            seed_bootstrap(df, lambda i, x=x, yf=yf: _crossing_log_tau(x[i], yf[i]), n_boot, rng)
            if np.isfinite(log_tau)
            else []
        )
        boots = np.asarray(boots)[np.isfinite(boots)] if len(boots) else np.array([])
        lo, hi = np.quantile(boots, [alpha, 1 - alpha]) if len(boots) >= 10 else (np.nan, np.nan)
        # Within a slice tau ∝ n_st, so the crossing maps to n_st by a fixed factor.
        scale = float((df[along] / df["tau"]).iloc[0]) if along == "n_st" else np.nan
        row.update(
            tau_50=np.exp(log_tau),
            tau_50_lo=np.exp(lo),
            tau_50_hi=np.exp(hi),
            n_st_50=scale * np.exp(log_tau),
            n_st_50_lo=scale * np.exp(lo),
            n_st_50_hi=scale * np.exp(hi),
        )
        rows.append(row)
    return pd.DataFrame(rows)


@dataclasses.dataclass
class ConstantFit:
    """The single constant of `tau >= C` and the sharpness `k` of the transition."""

    C: float
    C_lo: float
    C_hi: float
    C_wald_lo: float
    C_wald_hi: float
    k: float
    n_runs: int
    n_seeds: int
    accuracy: float  # share of runs on the side of tau = C that their class says

    def __str__(self):
        return (
            f"C = {self.C:.3g} (95% bootstrap interval {self.C_lo:.3g} – {self.C_hi:.3g}; "
            f"Wald {self.C_wald_lo:.3g} – {self.C_wald_hi:.3g}), slope k = {self.k:.2f} "
            f"per unit log tau, {self.n_runs} runs, {self.n_seeds} seeds, "
            f"{100 * self.accuracy:.1f}% of runs on the predicted side"
        )


def _log_C(X: np.ndarray, y: np.ndarray) -> float:
    if y.min() == y.max():
        return np.nan
    beta, _ = logistic_fit(X, y)
    return -beta[0] / beta[1] if beta[1] > 0 else np.nan


def fit_constant(
    data: pd.DataFrame, level: float = 0.95, n_boot: int = BOOTSTRAP, seed: int = 0
) -> ConstantFit:
    """One `C` with `P(benign) = σ(k·(log tau - log C))` across all slices (Theorem 3.4)."""
    x = np.log(data["tau"].to_numpy(float))
    X, y = np.column_stack([np.ones_like(x), x]), data["benign"].to_numpy(float)
    beta, cov = logistic_fit(X, y)
    log_C = -beta[0] / beta[1]
    # Delta method for log C = -b0/b1.
    g = np.array([-1 / beta[1], beta[0] / beta[1] ** 2])
    se = float(np.sqrt(max(g @ cov @ g, 0.0)))
    z = stats.norm.ppf(0.5 + level / 2)
    rng = np.random.default_rng(seed)
    boots = seed_bootstrap(data, lambda i: _log_C(X[i], y[i]), n_boot, rng)
    boots = boots[np.isfinite(boots)]
    alpha = (1 - level) / 2
    lo, hi = np.quantile(boots, [alpha, 1 - alpha]) if len(boots) >= 10 else (np.nan, np.nan)
    predicted = np.log(data["tau"].to_numpy(float)) >= log_C
    return ConstantFit(
        C=float(np.exp(log_C)),
        C_lo=float(np.exp(lo)),
        C_hi=float(np.exp(hi)),
        C_wald_lo=float(np.exp(log_C - z * se)),
        C_wald_hi=float(np.exp(log_C + z * se)),
        k=float(beta[1]),
        n_runs=len(data),
        n_seeds=data["seed"].nunique(),
        accuracy=float(np.mean(predicted == (data["benign"].to_numpy() == 1))),
    )


@dataclasses.dataclass
class ExponentFit:
    """Exponents relative to `n_st`'s, with the theory's values beside them."""

    table: pd.DataFrame  # feature, exponent, wald_lo, wald_hi, boot_lo, boot_hi, theory
    lr_statistic: float  # likelihood ratio, theory exponents vs free
    lr_dof: int
    lr_p_value: float
    n_runs: int

    def __str__(self):
        return (
            self.table.to_string(index=False, float_format=lambda v: f"{v:.3g}")
            + f"\nlikelihood-ratio test of the theory's exponents: chi2 = {self.lr_statistic:.2f}, "
            f"dof = {self.lr_dof}, p = {self.lr_p_value:.3g} ({self.n_runs} runs)"
        )


def _design(df: pd.DataFrame, features):
    return np.column_stack([np.ones(len(df))] + [np.log(df[f].to_numpy(float)) for f in features])


def _relative(beta):
    return beta[2:] / beta[1]


def fit_exponents(
    data: pd.DataFrame, features=None, level: float = 0.95, n_boot: int = BOOTSTRAP, seed: int = 0
) -> ExponentFit:
    """Free-exponent logistic fit `n_st^a · p_b^b · nu_norm^c · sigma_p^e (· d^f)`, `a = 1`.

    Only the features that vary in `data` enter; `n_st` must vary.
    """
    varying = [f for f in THEORY_EXPONENTS if f in data and data[f].nunique() > 1]
    features = list(features) if features is not None else varying
    if "n_st" not in features or features[0] != "n_st":
        features = ["n_st"] + [f for f in features if f != "n_st"]
    X = _design(data, features)
    y = data["benign"].to_numpy(float)
    free = logistic_model(X, y)
    beta, cov = free.beta, free.cov
    relative = _relative(beta)
    # Delta method for b_j / b_1.
    wald = []
    z = stats.norm.ppf(0.5 + level / 2)
    for j in range(2, len(beta)):
        g = np.zeros(len(beta))
        g[1], g[j] = -beta[j] / beta[1] ** 2, 1 / beta[1]
        wald.append(float(np.sqrt(max(g @ cov @ g, 0.0))))
    rng = np.random.default_rng(seed)
    boots = seed_bootstrap(
        data, lambda i: _relative(logistic_fit(X[i], y[i])[0]), n_boot, rng
    ).reshape(n_boot, -1)
    alpha = (1 - level) / 2
    rows = []
    for j, f in enumerate(features[1:]):
        b = boots[:, j][np.isfinite(boots[:, j])]
        lo, hi = np.quantile(b, [alpha, 1 - alpha]) if len(b) >= 10 else (np.nan, np.nan)
        rows.append(
            dict(
                feature=f,
                exponent=relative[j],
                wald_lo=relative[j] - z * wald[j],
                wald_hi=relative[j] + z * wald[j],
                boot_lo=lo,
                boot_hi=hi,
                theory=THEORY_EXPONENTS[f] / THEORY_EXPONENTS["n_st"],
            )
        )
    table = pd.DataFrame(
        [
            dict(
                feature="n_st",
                exponent=1.0,
                wald_lo=1.0,
                wald_hi=1.0,
                boot_lo=1.0,
                boot_hi=1.0,
                theory=1.0,
            )
        ]
        + rows
    )
    # Constrained model: logit = b0 + k·log tau restricted to the fitted features.
    log_tau = sum(THEORY_EXPONENTS[f] * np.log(data[f].to_numpy(float)) for f in features)
    X0 = np.column_stack([np.ones(len(data)), log_tau])
    lr = max(2 * (free.llf - logistic_model(X0, y).llf), 0.0)
    dof = len(features) - 1
    return ExponentFit(
        table=table,
        lr_statistic=lr,
        lr_dof=dof,
        lr_p_value=float(stats.chi2.sf(lr, dof)) if dof else np.nan,
        n_runs=len(data),
    )
