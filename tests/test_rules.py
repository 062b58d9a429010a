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


def test_a_cutoff_is_met_by_counts_not_by_float32_rounding():
    """964 of 1000 test points right is an error of 0.036: not below 0.12·0.3, though float32
    stores the accuracy as 0.96400005; 990 of 1000 pseudo-labels fitted is fitted, though
    float32 may store 0.98999995."""
    import numpy as np
    import pandas as pd

    from w2s_jax.analysis import classes, rules

    acc = np.float32(0.96400005)  # as the sweep stored 964/1000 (results/paper_oracle)
    assert 1.0 - float(acc) < 0.036  # the trap
    assert not rules.below(1.0 - float(acc), rules.HARMFUL_ERROR * 0.3)
    assert rules.at_least(float(np.float32(0.98999995)), rules.FIT_MIN)
    summary = pd.DataFrame(
        dict(
            cell=[0],
            seed=[0],
            n_st=[100],
            p_h=[0.3],
            p_b=[0.4],
            nu_norm=[1.0],
            sigma_p=[1.0],
            d=[100],
            weak_test_acc=[0.85],
        )
    )
    steps = [0, 10]
    traj = pd.DataFrame(
        dict(
            cell=0,
            seed=0,
            n_st=100,
            p_h=0.3,
            p_b=0.4,
            nu_norm=1.0,
            sigma_p=1.0,
            d=100,
            step=steps,
            test_acc=np.float32([0.9, 0.96400005]),
            train_acc_pseudo=np.float32([0.5, 0.98999995]),
            train_acc_true=np.float32([0.5, 0.85]),
            label_correction=np.float32([0.0, 0.0]),
        )
    )
    run = classes.classify(summary, traj).iloc[0]
    assert run["class"] == "harmful"  # fitted, and error 0.036 is at the cutoff
