"""One cell's values checked before anything uses them: every raw field by type and range, every
theory coordinate, and representability in the run's float dtype. Values that theory
coordinates give (`d`, `nu_norm`, `sigma_p`, `mu_norm`, `eta`) are checked the same way and
named by the coordinate the user wrote (`d_over_n: gives d = 2, below the minimum 8`).

`DataConfig` and `TrainConfig` check the same ranges again, and the cross-field rules.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

import numpy as np

from w2s_jax.model.config import (
    D_MAX,
    DATA_FIELDS,
    DATASETS,
    ENGINES,
    GRAM_NOISES,
    HARD_LABELS,
    MAX_CLASSES,
    N_ST_MAX,
    OPTIMIZERS,
    SECOND_LAYERS,
    TEACHERS,
    TRAIN_FIELDS,
    ConfigError,
    show,
)
from w2s_jax.model.coordinates import COORDINATES

__all__ = ["RULES", "D_MAX", "check_cell", "check_value", "float_limits", "resolve_checked"]

#: The largest step count and record interval (int32 step counters).
STEPS_MAX = 10_000_000
INT32_MAX = 2**31 - 1


class Rule(NamedTuple):
    """What one field accepts: `kind` is "int", "float", "choice", "text" or "bool"; an "int"
    with `choices` also accepts those words (`image_pool`: an integer or "all")."""

    kind: str
    low: float | None = None
    high: float | None = None
    positive: bool = False
    choices: tuple = ()
    optional: bool = False  # None allowed (the value then follows from others)


_POSITIVE = Rule("float", positive=True)
_PROBABILITY = Rule("float", 0.0, 1.0)

#: Every raw field of `DataConfig` and `TrainConfig` and what it accepts.
RULES: dict[str, Rule] = dict(
    d=Rule("int", 8, D_MAX),
    mu_norm=_POSITIVE,
    nu_norm=_POSITIVE,
    sigma_p=_POSITIVE,
    p_h=_PROBABILITY,
    p_b=_PROBABILITY,
    p_e=Rule("float", 0.0, 1.0, optional=True),
    easy_layout=Rule("choice", choices=("orthogonal", "antipodal")),
    hard_sign=Rule("choice", choices=("shared", "antipodal")),
    n_classes=Rule("int", 2, MAX_CLASSES),
    dataset=Rule("choice", choices=DATASETS),
    digit_classes=Rule("text"),
    image_pool=Rule("int", 1, N_ST_MAX, choices=("all",)),
    images_recur=Rule("bool"),
    n_st=Rule("int", 1, N_ST_MAX),
    m=Rule("int", 1, 100_000),
    sigma_0=Rule("float", 0.0),
    n_wk=Rule("int", 1, N_ST_MAX),
    eta_wk=_POSITIVE,
    T_wk=Rule("int", 0, STEPS_MAX),
    eta=_POSITIVE,
    T=Rule("int", 0, STEPS_MAX),
    record_every=Rule("int", 1, INT32_MAX),
    record_schedule=Rule("choice", choices=("linear", "log")),
    record_points=Rule("int", 2, 100_000),
    n_test=Rule("int", 1, N_ST_MAX),
    output_scale=Rule("choice", choices=("1/m", "1")),
    optimizer=Rule("choice", choices=OPTIMIZERS),
    optimizer_wk=Rule("choice", choices=OPTIMIZERS),
    engine=Rule("choice", choices=ENGINES),
    gram_noise=Rule("choice", choices=GRAM_NOISES),
    dtype=Rule("choice", choices=("float32", "float64")),
    batch_size=Rule("int", 0, N_ST_MAX),
    second_layer=Rule("choice", choices=SECOND_LAYERS),
    eta_a=Rule("float", 0.0, optional=True),
    teacher=Rule("choice", choices=TEACHERS),
    hard_labels=Rule("choice", choices=HARD_LABELS),
)
assert set(RULES) == set(DATA_FIELDS + TRAIN_FIELDS)
_COORDINATE = _POSITIVE
#: Raw fields that theory coordinates set (`model.coordinates.resolve`).
_DERIVED = ("d", "nu_norm", "sigma_p", "mu_norm", "eta")


def float_limits(dtype: str) -> tuple[float, float]:
    """`(smallest normal, largest finite)` positive number of a float dtype."""
    info = np.finfo(np.dtype(dtype))
    return float(info.tiny), float(info.max)


def _problem(rule: Rule, value: Any, dtype: str) -> str | None:
    """What is wrong with `value` under `rule` (None: nothing), as a phrase."""
    if value is None and rule.optional:
        return None
    if rule.kind == "choice":
        if not isinstance(value, str) or value not in rule.choices:
            return f"must be one of {', '.join(map(repr, rule.choices))}"
        return None
    if rule.kind == "text":
        return None if isinstance(value, str) else "expected a string"
    if rule.kind == "bool":
        return None if isinstance(value, (bool, np.bool_)) else "expected true or false"
    if rule.kind == "int" and rule.choices and isinstance(value, str):
        if value in rule.choices:
            return None
        return f"expected an integer or one of {', '.join(map(repr, rule.choices))}"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return "expected an integer" if rule.kind == "int" else "expected a number"
    if rule.kind == "int":
        if isinstance(value, (float, np.floating)) and not float(value).is_integer():
            return "expected an integer"
        if value < rule.low or value > rule.high:
            return f"must be an integer in [{show(rule.low)}, {show(rule.high)}]"
        return None
    value = float(value)
    if not math.isfinite(value):
        return "must be finite"
    if rule.positive and value <= 0:
        return "must be > 0"
    if rule.low is not None and value < rule.low:
        return f"must be >= {show(rule.low)}" if rule.high is None else _interval(rule)
    if rule.high is not None and value > rule.high:
        return _interval(rule)
    tiny, huge = float_limits(dtype)
    if abs(value) > huge:
        return f"must be <= {huge:.4g}, the largest {dtype} number (the run's dtype)"
    if 0 < abs(value) < tiny:
        least = ">=" if rule.positive else "0 or >="
        return f"must be {least} {tiny:.4g}, the smallest normal {dtype} number (the run's dtype)"
    return None


def _interval(rule: Rule) -> str:
    return f"must be in [{show(rule.low)}, {show(rule.high)}]"


def check_value(name: str, value: Any, dtype: str = "float32") -> None:
    """Refuse a raw field or coordinate of the wrong type, out of range or beyond `dtype`."""
    rule = _COORDINATE if name in COORDINATES else RULES[name]
    problem = _problem(rule, value, dtype)
    if problem is not None:
        raise ConfigError(f"{name}: {problem}, got {show(value)}")


def check_cell(fields: dict[str, Any]) -> str:
    """Check every raw field and coordinate of one cell's values; returns the run's dtype."""
    dtype = fields.get("dtype", "float32")
    check_value("dtype", dtype)
    for name, value in fields.items():
        if name in RULES or name in COORDINATES:
            check_value(name, value, dtype)
    return dtype


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
        raise ConfigError(
            f"{', '.join(coordinates)}: give no finite raw fields ({err}); use smaller or "
            "larger values"
        ) from None
    for name in _DERIVED:
        if name not in fields or (name in given and fields[name] is given[name]):
            continue
        value, rule = fields[name], RULES[name]
        problem = _problem(rule, value, dtype)
        if problem is None:
            continue
        number = isinstance(value, (int, float)) and math.isfinite(value)
        if number and rule.low is not None and value < rule.low:
            problem = f"below the minimum {show(rule.low)}"
        elif number and rule.high is not None and value > rule.high:
            problem = f"above the maximum {show(rule.high)}"
        raise ConfigError(f"{_source(name, given)}: gives {name} = {show(value)}, {problem}")
    return fields
