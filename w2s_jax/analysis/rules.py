"""The rules that sort runs into the paper's regimes: every threshold once, and its wording.

`classes`, `paper`, `plane`, `fit`, `early_stopping` and `report` read the numbers here, and
the prose of reports and figures is rendered from them, so a threshold changes in one place.
"""

from __future__ import annotations

import numpy as np

from w2s_jax.model.theory import HARMFUL_FRACTION

__all__ = [
    "HARMFUL_ERROR",
    "FIT_MIN",
    "LC_MIN",
    "WINDOW_TOL",
    "WEAK_MARGIN",
    "MIN_DEGRADATION",
    "MIN_STEP",
    "ROUNDING",
    "at_least",
    "below",
    "harmful_error_text",
    "harmful_level",
    "rule",
    "classes_rule",
    "window_rule",
]

#: Harmful (Theorem 3.4): final test error at least `HARMFUL_ERROR·p_h`.
HARMFUL_ERROR = HARMFUL_FRACTION
#: Fitting the pseudo-labels: final `train_acc_pseudo` at least this.
FIT_MIN = 0.99
#: Label correction (Theorem 3.6): share of wrong pseudo-labels corrected at the best step.
LC_MIN = 0.5
#: The early-stopping window: steps whose test accuracy is within this of the best.
WINDOW_TOL = 0.01
#: The paper's harmful row: final test accuracy within this of the weak model's.
WEAK_MARGIN = 0.02
#: A peak to time: the test accuracy lost after the best step, at least this.
MIN_DEGRADATION = 0.02
#: A best step below this is not resolved by the record schedule (log spacing starts at 1).
MIN_STEP = 3
#: Accuracies are counts over a set stored in float32 (`k/n` to about 6e-8): two values closer
#: than this are one count, so a cutoff is met or missed by counts, never by rounding (964 of
#: 1000 right is a test error of 0.036, which is not below `0.12·0.3`, whatever float32 makes
#: of `1 - 0.964`).
ROUNDING = 1e-6


def at_least(value, cutoff) -> np.ndarray:
    """`value >= cutoff`, up to `ROUNDING`."""
    return np.asarray(value, dtype=float) >= np.asarray(cutoff, dtype=float) - ROUNDING


def below(value, cutoff) -> np.ndarray:
    """`value < cutoff` by more than `ROUNDING`."""
    return np.asarray(value, dtype=float) < np.asarray(cutoff, dtype=float) - ROUNDING


def harmful_level(p_h, harmful_error: float = HARMFUL_ERROR) -> np.ndarray:
    """The test accuracy `1 − harmful_error·p_h` at and below which a run is harmful."""
    return 1.0 - harmful_error * np.asarray(p_h, dtype=float)


def harmful_error_text() -> str:
    """The harmful test error as written in the paper, e.g. `0.12·p_h`."""
    return f"{HARMFUL_ERROR:g}·p_h"


def rule(name: str) -> str:
    """One class's rule in words, with its numbers.

    Args:
        name: `harmful`, `benign`, `label_correction`, `not_converged` or `degraded` (harmful
            at the end after an early-stopping peak).
    """
    h, fit = harmful_error_text(), f"final train accuracy on the pseudo-labels ≥ {FIT_MIN:g}"
    rules = {
        "label_correction": f"at its best step at least {LC_MIN:.0%} of the wrongly "
        f"pseudo-labelled training points get their true label and the test error is below {h}",
        "harmful": f"fits the pseudo-labels ({fit}) and ends with test error at or above {h}",
        "benign": f"fits the pseudo-labels ({fit}) and ends with test error below {h}",
        "degraded": f"harmful at the end after a best step with test error below {h}",
        "not_converged": "diverged, or ends without fitting the pseudo-labels "
        "and is not a label-correction run",
    }
    return rules[name]


def classes_rule() -> str:
    """The whole classification, in the order it is applied."""
    return (
        f"`label_correction` if {rule('label_correction')}; else `harmful` / `benign` if the "
        f"run fits the pseudo-labels (final train accuracy ≥ {FIT_MIN:g}) and ends with test "
        f"error at or above / below `{harmful_error_text()}` (Theorem 3.4); else `not_converged`."
    )


def window_rule() -> str:
    """The early-stopping window in words."""
    return (
        "the steps around the best step where test accuracy stays within "
        f"{WINDOW_TOL:g} of the best"
    )
