"""The teacher axis's analysis: where a cell's seed-mean metric crosses a level along `q`,
and the trained teacher predicted from the mixture at its measured rule share."""

import numpy as np
import pandas as pd
import pytest

from w2s_jax.analysis.mixture import (
    agreement,
    crossing,
    predict_trained,
    q_crossings,
    shared_seeds,
)

Q = np.array([0.0, 0.25, 0.5, 0.75, 1.0])


@pytest.mark.parametrize(
    ("values", "rising", "want"),
    [
        ([0.2, 0.1, -0.1, -0.2, -0.3], False, 0.375),  # gain falls through 0 between 0.25, 0.5
        ([-0.1, -0.2, -0.3, -0.4, -0.5], False, -np.inf),  # below from the start
        ([0.3, 0.2, 0.1, 0.05, 0.01], False, np.inf),  # never gets there
        ([0.5, 0.6, 0.8, 0.95, 1.0], True, 0.5 + 0.25 * 2 / 3),  # 0.8 -> 0.95 at 0.5 -> 0.75
    ],
)
def test_a_crossing_is_interpolated_between_the_grid_points(values, rising, want):
    level = 0.9 if rising else 0.0
    assert crossing(Q, np.array(values), level, rising) == pytest.approx(want)


def _plane(gain_of_q, seeds=6, noise=0.0, rng=None):
    """Two cells, gain linear in q with a cell-dependent zero, plus seed noise."""
    rows = []
    for cell, zero in ((1.0, 0.3), (10.0, 0.7)):
        for seed in range(seeds):
            jitter = 0.0 if rng is None else rng.normal(0, noise)
            for q in Q:
                rows.append(
                    dict(
                        seed=seed,
                        n_st=300,
                        n_st_snr=cell,
                        d_over_n=10.0,
                        rule_share=q,
                        gain_final=gain_of_q(q, zero) + jitter,
                        gain_best=gain_of_q(q, zero) + 0.05,
                        teacher_rule_share=(1 + q) / 2,
                        weak_test_acc=0.85,
                    )
                )
    return pd.DataFrame(rows)


def test_each_cell_gets_its_own_crossing_and_a_seed_interval_around_it():
    rng = np.random.default_rng(1)
    plane = _plane(lambda q, zero: 0.2 * (zero - q), noise=0.01, rng=rng)
    got = q_crossings(plane, "gain_final", 0.0, rising=False).set_index("n_st_snr")
    np.testing.assert_allclose(got.q, [0.3, 0.7], atol=0.1)
    assert (got.q_lo <= got.q).all() and (got.q <= got.q_hi).all()
    assert (got.q_hi - got.q_lo > 0).all() and (got.seeds == 6).all()


def test_the_trained_teacher_is_predicted_at_its_measured_rule_share():
    plane = _plane(lambda q, zero: zero - q)
    trained = pd.DataFrame(
        dict(
            seed=[0, 1, 0, 1],
            n_st=300,
            n_st_snr=[1.0, 1.0, 10.0, 10.0],
            d_over_n=10.0,
            teacher_rule_share=[0.75, 0.75, 0.6, 0.6],  # q = 0.5 and 0.2
            gain_final=[-0.2, -0.2, 0.5, 0.5],
            gain_best=[0.0, 0.0, 0.5, 0.5],
            weak_test_acc=[0.85, 0.85, 0.80, 0.80],
        )
    )
    got = predict_trained(plane, trained).set_index("n_st_snr")
    np.testing.assert_allclose(got.gain_final_predicted, [0.3 - 0.5, 0.7 - 0.2])
    np.testing.assert_allclose(got.gain_final_residual, [0.0, 0.0], atol=1e-12)
    assert list(got.near_oracle_acc) == [True, False] and got.inside.all()
    assert agreement(got, "gain_final")["r2"] == pytest.approx(1.0)
    assert agreement(got, "gain_best")["r2"] < 1.0  # best gains were off by 0.05 and 0.2


def test_ends_with_more_seeds_than_the_mixture_use_only_the_shared_seeds():
    """At n_st = 1000 the coin and rule planes (q = 0 and 1) have 8 seeds, the mixture 4: a
    crossing and a prediction average each q over the same 4 seeds (the extra ones would
    otherwise leave every crossing undefined)."""
    rng = np.random.default_rng(2)
    plane = _plane(lambda q, zero: 0.2 * (zero - q), seeds=4, noise=0.01, rng=rng)
    extra = _plane(lambda q, zero: 5.0, seeds=8)  # seeds 4-7 far off: must not be read
    extra = extra[(extra.seed >= 4) & extra.rule_share.isin([0.0, 1.0])]
    both = pd.concat([plane, extra], ignore_index=True)
    assert len(shared_seeds(both)) == len(plane)
    got = q_crossings(both, "gain_final", 0.0, rising=False)
    want = q_crossings(plane, "gain_final", 0.0, rising=False)
    pd.testing.assert_frame_equal(got, want)
    assert np.isfinite(got.q).all() and (got.seeds == 4).all()
    trained = plane[plane.rule_share == 0.5].assign(teacher_rule_share=0.7)
    pd.testing.assert_frame_equal(predict_trained(both, trained), predict_trained(plane, trained))
