"""Theory quantities (docs/model.md#regimes; Oh, Song & Yun 2025, Theorems 3.4 and 3.6,
reconstructed).

The benign/harmful statistic is `tau = n_st · p_b² · nu_norm⁴ / (sigma_p⁴ · d)`: the
student's hard signal `nu` grows through the `p_b·n_st` bridge points at a rate
`∝ nu_norm²` against noise memorization `∝ sigma_p²·d`, and the ratio of the two squared
gives `tau`. Theorem 3.4 says the student overfits benignly when `tau >= C` and harmfully
when `tau <= C'`; the constants are unknown and `w2s_jax.analysis.fit` estimates them.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "stable_step",
    "tau",
    "add_tau",
    "n_st_at_tau",
    "weak_test_accuracy",
    "harmful_error",
    "THEORY_EXPONENTS",
    "TAU_FEATURES",
]

#: Exponents of (n_st, p_b, nu_norm, sigma_p, d) in tau (Theorem 3.4).
THEORY_EXPONENTS = {"n_st": 1.0, "p_b": 2.0, "nu_norm": 4.0, "sigma_p": -4.0, "d": -1.0}
#: The parameters tau depends on, in the order of THEORY_EXPONENTS.
TAU_FEATURES = tuple(THEORY_EXPONENTS)


def tau(n_st, p_b, nu_norm, sigma_p, d):
    """`tau = n_st · p_b² · nu_norm⁴ / (sigma_p⁴ · d)` (Theorem 3.4); broadcasts over arrays."""
    n_st, p_b, nu_norm, sigma_p, d = (
        np.asarray(v, dtype=float) for v in (n_st, p_b, nu_norm, sigma_p, d)
    )
    return n_st * p_b**2 * nu_norm**4 / (sigma_p**4 * d)


def n_st_at_tau(C, p_b, nu_norm, sigma_p, d):
    """The `n_st` at which `tau = C`: the theory's boundary along the `n_st` axis."""
    return C / tau(1.0, p_b, nu_norm, sigma_p, d)


def weak_test_accuracy(p_h):
    """The weak model's accuracy in the limit of many weak samples, `1 - p_h/2`.

    It is exactly 1/2 on hard-only data for every weight vector (Proposition 2.1) and can
    be perfect on the rest.
    """
    return 1.0 - 0.5 * np.asarray(p_h, dtype=float)


#: Theorem 3.4: harmful overfitting means test error at least HARMFUL_FRACTION · p_h.
HARMFUL_FRACTION = 0.12


def harmful_error(p_h):
    """The test error that Theorem 3.4 guarantees in the harmful regime: `0.12 · p_h`."""
    return HARMFUL_FRACTION * np.asarray(p_h, dtype=float)


def add_tau(df):
    """Return `df` with a `tau` column computed from its parameter columns (if missing)."""
    if "tau" in df.columns:
        return df
    out = df.copy()
    out["tau"] = tau(df["n_st"], df["p_b"], df["nu_norm"], df["sigma_p"], df["d"])
    return out


def stable_step(n_st, p_e, p_h, p_b, mu_norm, nu_norm, sigma_p, d, m, output_scale="1/m"):
    """An estimate of the largest stable GD step at initialization, `2 / lambda_max(H)`.

    The network is piecewise linear, so the mean loss's Hessian is the Gauss-Newton matrix
    `(1/n) Σ ℓ''(z_i) ∇f_i ∇f_iᵀ` with `ℓ'' = 1/4` at the small logits of initialization.
    With about half of the `2m` filters active on each patch:

    - the noise patches give an (almost) diagonal kernel, `scale² · m · sigma_p² · (d/n_st +
      1/4)` per sample (the `1/4`: noise directions shared once `n_st > d`);
    - the signal patches give one spike per class of height
      `scale² · m · n_st · S / 2` with `S = max(mu² (4 p_e + p_b), nu² (2 p_h + p_b / 2))`,

    so `lambda_max(H) ≈ (scale² m / 4) · (sigma_p² (d/n_st + 1/4) + S/2)`. Against power
    iteration on the true Hessian over ten configurations (`d` from 200 to 20000, `n_st` from
    75 to 4000, both norms and output scales) the estimate of `lambda_max` came within a
    factor 0.68-1.2 (low at small `n_st`, where the most active sample sets the edge).
    Broadcasts over arrays.
    """
    scale = np.where(np.asarray(output_scale) == "1/m", 1.0 / np.asarray(m, float), 1.0)
    mu2, nu2 = np.asarray(mu_norm, float) ** 2, np.asarray(nu_norm, float) ** 2
    signal = np.maximum(mu2 * (4 * np.asarray(p_e) + p_b), nu2 * (2 * np.asarray(p_h) + 0.5 * p_b))
    noise = np.asarray(sigma_p, float) ** 2 * (np.asarray(d, float) / n_st + 0.25)
    curvature = scale**2 * np.asarray(m, float) / 4 * (noise + signal / 2)
    return 2.0 / curvature
