"""One cell's values checked before anything uses them: every raw field by type and range, every
theory coordinate, and representability in the run's float dtype. Values that theory
coordinates give (`d`, `nu_norm`, `sigma_p`, `mu_norm`, `eta`) are checked the same way and
named by the coordinate the user wrote (`d_over_n: gives d = 2, below the minimum 8`).

What each key accepts is declared once, in `model.schema`; `DataConfig` and `TrainConfig`
check the same ranges again, and the cross-field rules.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from w2s_jax.model.config import D_MAX, ConfigError, show
from w2s_jax.model.coordinates import COORDINATES
from w2s_jax.model.schema import SCHEMA, Field

__all__ = ["RULES", "D_MAX", "check_cell", "check_value", "resolve_checked"]

#: What every raw field of `DataConfig` and `TrainConfig` accepts (`model.schema`).
RULES: dict[str, Field] = {n: f for n, f in SCHEMA.by_name.items() if not f.coordinate}
#: Raw fields that theory coordinates set (`model.coordinates.resolve`).
_DERIVED = ("d", "nu_norm", "sigma_p", "mu_norm", "eta")


def check_value(name: str, value: Any, dtype: str = "float32") -> None:
    """Refuse a raw field or coordinate of the wrong type, out of range or beyond `dtype`."""
    SCHEMA.check_value(name, value, dtype)


def check_cell(fields: dict[str, Any]) -> str:
    """Check every raw field and coordinate of one cell's values; returns the run's dtype."""
    return SCHEMA.check_cell(fields)


def _source(name: str, given: dict[str, Any]) -> str:
    """The coordinates of `given` that set the raw field `name`."""
    if name == "eta":
        return "eta_rel"
    if name == "mu_norm":
        return "mu_over_nu"
    if name == "d" and "d_over_n" in given:
        return "d_over_n"
    keys = ("tau", "snr", "n_st_snr", "d_over_n")
    return ", ".join(k for k in keys if k in given) or "theory coordinates"


def resolve_checked(given: dict[str, Any], dtype: str, resolve) -> dict[str, Any]:
    """`resolve(given)` (theory coordinates into raw fields) with every value it sets checked;
    an arithmetic failure or a bad result names the coordinates the user wrote."""
    coordinates = [k for k in COORDINATES if k in given]
    if not coordinates:
        return dict(given)
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            fields = resolve(given)
    except ConfigError:
        raise
    except (ArithmeticError, ValueError, TypeError) as err:
        raise SCHEMA.error(
            ", ".join(coordinates),
            f"give no finite raw fields ({err}); use smaller or larger values",
        ) from None
    for name in _DERIVED:
        if name not in fields or (name in given and fields[name] is given[name]):
            continue
        value, field = fields[name], SCHEMA.by_name[name]
        problem = SCHEMA.problem(field, value, dtype)
        if problem is None:
            continue
        number = isinstance(value, (int, float)) and math.isfinite(value)
        if number and field.low is not None and value < field.low:
            problem = f"below the minimum {show(field.low)}"
        elif number and field.high is not None and value > field.high:
            problem = f"above the maximum {show(field.high)}"
        raise SCHEMA.error(_source(name, given), f"gives {name} = {show(value)}, {problem}")
    return fields
