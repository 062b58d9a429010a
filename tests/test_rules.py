"""The regime thresholds live in `analysis.rules`, and the prose shows the numbers used."""

from __future__ import annotations

import inspect

from w2s_jax.analysis import classes, early_stopping, paper, plane, rules
from w2s_jax.model import theory


def test_classify_defaults_are_the_rules():
    defaults = inspect.signature(classes.classify).parameters
    assert defaults["harmful_error"].default == rules.HARMFUL_ERROR == theory.HARMFUL_FRACTION
    assert defaults["fit_min"].default == rules.FIT_MIN
    assert defaults["lc_min"].default == rules.LC_MIN
    assert defaults["tol"].default == rules.WINDOW_TOL
    assert early_stopping.MIN_DEGRADATION == rules.MIN_DEGRADATION


def test_prose_renders_the_numbers():
    assert rules.harmful_error_text() == "0.12·p_h"
    text = rules.classes_rule()
    assert "0.12·p_h" in text and "0.99" in text and "50%" in text
    assert "0.01" in rules.window_rule()
    assert "0.02" in paper.PAPER[75][2] and "0.12·p_h" in paper.PAPER[2000][2]
    assert "0.12·p_h" in plane.DISPLAY["harmful"][1]
    for name in ("harmful", "benign", "label_correction", "not_converged", "degraded"):
        assert rules.rule(name)
