"""The boundary fits on planted boundaries where the answer is known."""

import _synthetic as S
import numpy as np
import pandas as pd
import pytest

from w2s_jax.analysis import classes, fit
from w2s_jax.model import theory


@pytest.fixture(scope="module")
def planted():
    summary, traj = S.planted_boundary(C=2.0, k=4.0, seeds=6)
    return fit.benign_outcome(classes.classify(summary, traj))


def test_constant_recovered_within_interval(planted):
    result = fit.fit_constant(planted, n_boot=100)
    assert result.C_lo <= 2.0 <= result.C_hi or result.C_wald_lo <= 2.0 <= result.C_wald_hi
    assert pytest.approx(2.0, rel=0.25) == result.C
    assert result.k > 1.0 and result.accuracy > 0.85
    assert "C =" in str(result)


def test_exponents_of_the_theory_are_accepted(planted):
    result = fit.fit_exponents(planted, n_boot=50)
    table = result.table.set_index("feature")
    assert list(table.index) == ["n_st", "p_b", "nu_norm", "sigma_p"]
    for feature, expected in (("p_b", 2.0), ("nu_norm", 4.0), ("sigma_p", -4.0)):
        assert table.loc[feature, "theory"] == expected
        assert abs(table.loc[feature, "exponent"] - expected) < 1.0
    assert result.lr_dof == 3 and result.lr_p_value > 0.01


def test_planted_other_exponents_are_found_and_theory_rejected():
    """Plant nu_norm^2 (not nu_norm^4): the fit finds ~2 and the LR test rejects (1, 2, 4, -4)."""
    summary, traj = S.planted_boundary(C=0.1, k=6.0, seeds=6, exponents=(1, 2, 2, -4), rng=1)
    data = fit.benign_outcome(classes.classify(summary, traj))
    result = fit.fit_exponents(data, n_boot=20)
    nu = result.table.set_index("feature").loc["nu_norm"]
    assert abs(nu["exponent"] - 2.0) < 0.8 and not (nu["wald_lo"] <= 4.0 <= nu["wald_hi"])
    assert result.lr_p_value < 1e-3


def test_per_slice_crossings_follow_tau(planted):
    slices = fit.boundary_per_slice(planted, n_boot=30)
    assert len(slices) == 8 and set(slices["side"]) <= {"crossed", "all_benign", "all_harmful"}
    crossed = slices[slices["side"] == "crossed"]
    assert len(crossed) >= 4
    # The crossing in n_st sits where tau = C in that slice, within a factor 2.5 of the grid.
    expected = theory.n_st_at_tau(2.0, crossed["p_b"], crossed["nu_norm"], crossed["sigma_p"], 1000)
    ratio = crossed["n_st_50"].to_numpy() / np.asarray(expected)
    assert np.all((ratio > 0.4) & (ratio < 2.5))
    ok = crossed.dropna(subset=["n_st_50_lo"])
    assert np.all(ok["n_st_50_lo"] <= ok["n_st_50"] + 1e-6) and np.all(
        ok["n_st_50"] <= ok["n_st_50_hi"] + 1e-6
    )


def test_separated_data_give_finite_boundary():
    """Perfectly separated outcomes (no noise) still give a boundary between the two sides."""
    x = np.log(np.array([10.0, 20.0, 40.0, 80.0] * 3))
    y = (x > np.log(30)).astype(float)
    beta, cov = fit.logistic_fit(np.column_stack([np.ones_like(x), x]), y)
    crossing = np.exp(-beta[0] / beta[1])
    assert 20 < crossing < 40 and np.all(np.isfinite(cov))


def test_benign_outcome_rules():
    runs = pd.DataFrame(
        dict(
            end_class=["harmful", "benign", "not_converged", "harmful"],
            **{"class": ["harmful", "benign", "not_converged", "label_correction"]},
            n_st=[1, 2, 3, 4],
            p_b=0.4,
            nu_norm=5.0,
            sigma_p=1.0,
            d=10,
            seed=0,
        )
    )
    assert fit.benign_outcome(runs, "end")["benign"].tolist() == [0, 1, 0]
    assert fit.benign_outcome(runs, "class")["benign"].tolist() == [0, 1, 1]
    assert fit.benign_outcome(runs, "label_correction")["benign"].tolist() == [0, 0, 1]
    with pytest.raises(ValueError, match="rule"):
        fit.benign_outcome(runs, "best")


def test_maximum_likelihood_where_it_exists_ridge_where_separated():
    rng = np.random.default_rng(1)
    x = np.log(rng.uniform(1, 100, 300))
    X = np.column_stack([np.ones_like(x), x])
    noisy = (x + rng.normal(0, 1, len(x)) > np.log(30)).astype(float)
    model = fit.logistic_model(X, noisy)
    ridge, _ = fit.ridge_logistic(X, noisy)
    assert not model.ridge and np.allclose(model.beta, ridge, rtol=0.01)
    assert fit.logistic_model(X, (x > np.log(30)).astype(float)).ridge
