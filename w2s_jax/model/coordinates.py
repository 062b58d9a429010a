"""Theory coordinates (docs/model.md#coordinates): a config may give the dimensionless numbers
a theorist thinks in instead of the raw fields they fix.

- `tau = n_st · p_b² · nu_norm⁴ / (sigma_p⁴ · d)` (Theorem 3.4),
- `snr = nu_norm² / (sigma_p² · d)`, the per-sample hard-signal-to-noise ratio, so that
  `tau = n_st · p_b² · snr² · d`,
- `n_st_snr = n_st · snr` (instead of `snr`): data-scarce below about one, data-abundant
  above; with `tau` it fixes the over-parameterization, `d / n_st = tau / (p_b² n_st_snr²)`,
- `d_over_n = d / n_st` (instead of `d`, rounded to an integer `d`): the over-parameterization,
  `>> 1` in the theorems' regime,
- `mu_over_nu = mu_norm / nu_norm`.

With `n_st`, `p_b` and `sigma_p` known, two equations tie `(tau, snr, d, nu_norm)`: exactly two
of the four must be given, and the other two follow. Without `sigma_p`, three of them with
`nu_norm` fix `sigma_p` as well (feature norms held, the noise level follows).
`d` is an integer: when it is derived it is rounded to the nearest one and `nu_norm` (or
`sigma_p`) then solves `tau` exactly (so a requested `tau`
comes back to float precision, and a requested `snr` to a relative `O(1/d)`); when `d` is given,
both requested numbers come back exactly. `mu_over_nu` fixes `mu_norm` from the resolved
`nu_norm` (give one of `mu_norm`, `mu_over_nu`).

A step size may be given relative to the estimated largest stable one for the cell,
`eta_rel` (`eta = eta_rel · theory.stable_step(...)`; give one of `eta`, `eta_rel`): at
`d = 10^6` the stable range differs by orders of magnitude from `d = 1000`.
"""

from __future__ import annotations

import math
from typing import Any

from w2s_jax.model.config import ConfigError, DataConfig, TrainConfig
from w2s_jax.model.schema import SCHEMA
from w2s_jax.model.theory import stable_step

__all__ = [
    "THEORY_COLUMNS",
    "COORDINATES",
    "DATA_COORDINATES",
    "TRAIN_COORDINATES",
    "resolve",
    "step_scale",
    "theory_coordinates",
]

#: Keys a config may give instead of raw fields: in `[data]`, and `eta_rel` in `[train]`
#: (declared in `model.schema`).
DATA_COORDINATES = SCHEMA.names("data", coordinate=True)
TRAIN_COORDINATES = SCHEMA.names("train", coordinate=True)
COORDINATES = DATA_COORDINATES + TRAIN_COORDINATES
#: The columns the result tables carry beside the raw fields (`theory_coordinates`, the step).
THEORY_COLUMNS = ("tau", "snr", "n_st_snr", "d_over_n", "mu_over_nu", "eta_max", "eta_over_max")
_TIED = ("tau", "snr", "d", "nu_norm")


def _default(name: str) -> Any:
    source = DataConfig if name in DataConfig.__dataclass_fields__ else TrainConfig
    return source.__dataclass_fields__[name].default


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SCHEMA.error(name, f"expected a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise SCHEMA.error(name, f"must be a finite number > 0, got {value}")
    return float(value)


def resolve(fields: dict[str, Any]) -> dict[str, Any]:
    """Replace theory coordinates in `fields` (a cell's data and train values) by raw fields.

    Returns a new dict without `tau`, `snr`, `mu_over_nu` and with `d`, `nu_norm`, `mu_norm`
    set. Raises `ConfigError` naming the keys when the coordinates over- or under-determine
    the raw fields. `fields` without any coordinate comes back unchanged.
    """
    if not any(k in fields for k in COORDINATES):
        return dict(fields)
    if "n_st_snr" in fields:  # the data-abundance axis of the (tau, n_st·snr) plane
        if "snr" in fields:
            raise ConfigError("snr, n_st_snr: give one of them, not both")
        n_st = fields.get("n_st", _default("n_st"))
        snr = _positive("n_st_snr", fields["n_st_snr"]) / n_st
        fields = {k: v for k, v in fields.items() if k != "n_st_snr"} | {"snr": snr}
    if "d_over_n" in fields:  # the over-parameterization: the theorem's regime is d_over_n >> 1
        if "d" in fields:
            raise ConfigError("d, d_over_n: give one of them, not both")
        n_st = fields.get("n_st", _default("n_st"))
        d = round(_positive("d_over_n", fields["d_over_n"]) * n_st)
        fields = {k: v for k, v in fields.items() if k != "d_over_n"} | {"d": d}
    out = {k: v for k, v in fields.items() if k not in COORDINATES}
    given = [k for k in _TIED if k in fields]
    if "tau" in fields or "snr" in fields:
        free_sigma = "sigma_p" not in fields  # then three of the four fix sigma_p too
        if len(given) not in ((2, 3) if free_sigma else (2,)) or set(given) == {"tau", "snr", "d"}:
            missing = " or ".join(k for k in _TIED if k not in fields)
            raise SCHEMA.error(
                ", ".join(given),
                "give exactly two of tau, snr, d, nu_norm, or three with "
                "nu_norm and no sigma_p (they are tied by tau = n_st·p_b²·snr²·d and "
                f"snr = nu_norm²/(sigma_p²·d)); got {len(given)}"
                + (f", add {missing}" if len(given) < 2 else ""),
            )
        n_st = fields.get("n_st", _default("n_st"))
        p_b = fields.get("p_b", _default("p_b"))
        if not p_b or p_b <= 0:
            raise SCHEMA.error("p_b", f"tau and snr need p_b > 0, got {p_b}")
        values = {k: fields[k] for k in given}
        if len(given) == 3:
            out.update(_solve_sigma(values, n_st, p_b))
        else:
            out.update(_solve(values, n_st, p_b, fields.get("sigma_p", _default("sigma_p"))))
    if "mu_over_nu" in fields:
        if "mu_norm" in fields:
            raise ConfigError("mu_norm, mu_over_nu: give one of them, not both")
        ratio = _positive("mu_over_nu", fields["mu_over_nu"])
        out["mu_norm"] = ratio * out.get("nu_norm", _default("nu_norm"))
    if "eta_rel" in fields:
        if "eta" in fields:
            raise ConfigError("eta, eta_rel: give one of them, not both")
        out["eta"] = _positive("eta_rel", fields["eta_rel"]) * float(step_scale(out))
    return out


def step_scale(fields):
    """`theory.stable_step` of raw fields (a dict of numbers with defaults filled in, or of
    table columns): the step `eta_rel = 1` stands for."""
    get = lambda k: fields.get(k, _default(k))  # noqa: E731
    p_e = fields.get("p_e") if fields.get("p_e") is not None else 1.0 - get("p_h") - get("p_b")
    return stable_step(
        get("n_st"),
        p_e,
        get("p_h"),
        get("p_b"),
        get("mu_norm"),
        get("nu_norm"),
        get("sigma_p"),
        get("d"),
        get("m"),
        get("output_scale"),
    )


def _solve(given: dict[str, Any], n_st: float, p_b: float, sigma_p: float) -> dict[str, Any]:
    """`d` and `nu_norm` from two of `(tau, snr, d, nu_norm)`."""
    values = {k: _positive(k, v) for k, v in given.items()}
    base = n_st * p_b**2  # tau = base · snr² · d
    if "d" in values:  # the other one is tau or snr
        d = given["d"]
        snr = values["snr"] if "snr" in values else math.sqrt(values["tau"] / (base * d))
        return dict(d=d, nu_norm=sigma_p * math.sqrt(snr * d))
    if "tau" in values and "snr" in values:
        exact = values["tau"] / (base * values["snr"] ** 2)
    elif "tau" in values:  # and nu_norm: tau = base · nu⁴ / (sigma_p⁴ · d)
        exact = base * values["nu_norm"] ** 4 / (sigma_p**4 * values["tau"])
    else:  # snr and nu_norm
        exact = values["nu_norm"] ** 2 / (sigma_p**2 * values["snr"])
    d = max(1, round(exact))
    if "tau" in values:  # nu_norm solves the requested tau at the rounded d
        nu_norm = sigma_p * (values["tau"] * d / base) ** 0.25
    else:
        nu_norm = values["nu_norm"]
    key = "tau, snr" if "snr" in values and "tau" in values else ", ".join(values)
    if d < 8:
        raise ConfigError(
            f"{key}: resolve to d = {exact:.3g}, below the minimum d = 8 (raise tau or lower snr)"
        )
    return dict(d=d, nu_norm=nu_norm)


def _solve_sigma(given: dict[str, Any], n_st: float, p_b: float) -> dict[str, Any]:
    """`d` and `sigma_p` from `nu_norm` and two of `(tau, snr, d)` (not `tau, snr, d`)."""
    values = {k: _positive(k, v) for k, v in given.items()}
    nu, base = values["nu_norm"], n_st * p_b**2
    if "d" in values:
        d = given["d"]
        snr = values["snr"] if "snr" in values else math.sqrt(values["tau"] / (base * d))
    else:  # tau and snr: d is rounded, then sigma_p solves tau exactly
        exact = values["tau"] / (base * values["snr"] ** 2)
        d = max(1, round(exact))
        if d < 8:
            raise ConfigError(
                f"tau, snr: resolve to d = {exact:.3g}, below the minimum d = 8 "
                "(raise tau or lower snr)"
            )
        snr = math.sqrt(values["tau"] / (base * d))
    return dict(d=d, nu_norm=nu, sigma_p=nu / math.sqrt(snr * d))


def theory_coordinates(n_st, p_b, nu_norm, mu_norm, sigma_p, d) -> dict[str, Any]:
    """`tau`, `snr`, `n_st_snr` (`n_st · snr`, data-scarce below about one), `d_over_n` and
    `mu_over_nu` of raw fields (numbers or arrays)."""
    snr = nu_norm**2 / (sigma_p**2 * d)
    return dict(
        tau=n_st * p_b**2 * snr**2 * d,
        snr=snr,
        n_st_snr=n_st * snr,
        d_over_n=d / n_st,
        mu_over_nu=mu_norm / nu_norm,
    )
