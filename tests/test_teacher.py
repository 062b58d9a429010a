"""The teacher switch: a fixed oracle (coin or rule on hard-only data) really replaces the
trained teacher in every engine, sits at `1 - p_h/2`, and the tables report the student
against it (gain, imitation)."""

import functools

import jax
import numpy as np
import pytest

from w2s_jax import DataConfig, TrainConfig, dtype_scope, run, split
from w2s_jax.engines.run import run_key
from w2s_jax.model.config import ConfigError
from w2s_jax.sweeping.driver import run_sweep

DATA = dict(d=64, nu_norm=3.0, p_h=0.3, p_b=0.4)
TRAIN = dict(n_st=60, m=4, n_wk=80, n_test=1500, T=40, T_wk=30, record_every=10)


_RUN = jax.jit(run, static_argnums=0)


def _run(dtype="float32", **train):
    return _cached(dtype, tuple(sorted(train.items())))


@functools.cache
def _cached(dtype, train):
    """One run per distinct config for the whole module (several tests compare the same one)."""
    with dtype_scope(dtype):
        static, params = split(DataConfig(**DATA), TrainConfig(**TRAIN | dict(train), dtype=dtype))
        return _RUN(static, params, run_key(0, 1))


@pytest.mark.parametrize("hard_labels", ["coin", "rule"])
def test_the_oracle_is_right_off_the_hard_data_and_a_coin_or_a_rule_on_it(hard_labels):
    traj = _run(teacher="oracle", hard_labels=hard_labels)
    assert float(traj.weak_test_acc_easy) == 1.0 and float(traj.weak_test_acc_both) == 1.0
    assert abs(float(traj.weak_test_acc_hard) - 0.5) < 0.08  # 1500·0.3 hard-only test points
    share = float(traj.teacher_rule_share)
    assert share == 1.0 if hard_labels == "rule" else share < 0.6


def test_the_switch_changes_the_teacher_and_only_the_teacher():
    trained, coin, rule = _run(), _run(teacher="oracle"), _run(teacher="oracle", hard_labels="rule")
    assert len({float(t.train_loss[-1]) for t in (trained, coin, rule)}) == 3
    assert len({float(t.teacher_rule_share) for t in (trained, coin, rule)}) == 3
    # same data, filters and steps: the records at step 0 see the same student
    np.testing.assert_array_equal(trained.test_acc[0], coin.test_acc[0])


@pytest.mark.parametrize("hard_labels", ["coin", "rule"])
def test_gram_engine_follows_the_oracle_exactly(hard_labels):
    direct = _run("float64", teacher="oracle", hard_labels=hard_labels)
    gram = _run("float64", teacher="oracle", hard_labels=hard_labels, engine="gram")
    for field in ("train_loss", "test_acc", "imitation", "rho_wrong", "pseudo_label_acc"):
        np.testing.assert_allclose(getattr(gram, field), getattr(direct, field), rtol=1e-9)


DRAWN = [dict(engine="gram", gram_noise="wishart"), dict(engine="limit")]


@pytest.mark.parametrize("engine", DRAWN)
def test_the_oracle_on_the_drawn_noise_engines(engine):
    coin = _run(teacher="oracle", **engine)
    rule = _run(teacher="oracle", hard_labels="rule", **engine)
    direct = _run(teacher="oracle")
    # the labels depend on the data and the run key only, not on the engine
    assert float(coin.weak_test_acc) == float(direct.weak_test_acc)
    assert float(rule.teacher_rule_share) == 1.0


def test_the_tables_report_the_student_against_its_teacher():
    config = dict(
        name="gain",
        seeds=2,
        data=DATA,
        train=TRAIN | dict(teacher="oracle", hard_labels="rule"),
        grid=dict(n_st=[60]),
    )
    s = run_sweep(config, quiet=True, devices=1).summary
    np.testing.assert_allclose(s.gain_final, s.final_test_acc - s.weak_test_acc)
    np.testing.assert_allclose(s.gain_best, s.best_test_acc - s.weak_test_acc)
    assert s.imitation_final.between(0, 1).all() and (s.teacher_rule_share == 1.0).all()
    assert set(s.teacher) == {"oracle"} and set(s.hard_labels) == {"rule"}


def test_the_oracle_with_more_than_two_classes_is_refused():
    with pytest.raises(ConfigError, match="^teacher: "):
        split(DataConfig(n_classes=3), TrainConfig(teacher="oracle"))


# The mixed oracle: a share `rule_share` of the hard-only labels follow the rule, on shared draws.

FIELDS = ("train_loss", "test_acc", "imitation", "rho_wrong", "pseudo_label_acc")


@pytest.mark.parametrize(("q", "end"), [(0.0, "coin"), (1.0, "rule")])
def test_the_mix_at_its_ends_is_the_coin_and_the_rule_exactly(q, end):
    mix = _run(teacher="oracle", hard_labels="mix", rule_share=q)
    pure = _run(teacher="oracle", hard_labels=end)
    for field in FIELDS + ("teacher_rule_share", "weak_test_acc", "n_wrong_pseudo"):
        np.testing.assert_array_equal(getattr(mix, field), getattr(pure, field))


def test_the_mix_moves_the_teacher_from_coin_to_rule():
    shares = [
        float(_run(teacher="oracle", hard_labels="mix", rule_share=q).teacher_rule_share)
        for q in (0.0, 0.25, 0.5, 0.75, 1.0)
    ]
    assert shares == sorted(shares) and len(set(shares)) == 5, shares
    # the majority of a (y, eps) group is the rule: share (1 + q)/2, up to the coins' noise
    np.testing.assert_allclose(shares[1:4], [0.625, 0.75, 0.875], atol=0.06)
    mid = _run(teacher="oracle", hard_labels="mix", rule_share=0.5)
    assert abs(float(mid.weak_test_acc_hard) - 0.5) < 0.08  # still half right: 1 - p_h/2


def test_gram_engine_follows_the_mixed_oracle_exactly():
    mix = dict(teacher="oracle", hard_labels="mix", rule_share=0.5)
    direct, gram = _run("float64", **mix), _run("float64", engine="gram", **mix)
    for field in FIELDS:
        np.testing.assert_allclose(getattr(gram, field), getattr(direct, field), rtol=1e-9)


@pytest.mark.parametrize(
    ("train", "key"),
    [
        (dict(teacher="oracle", hard_labels="mix"), "rule_share"),
        (dict(teacher="oracle", hard_labels="coin", rule_share=0.5), "rule_share"),
        (dict(teacher="oracle", hard_labels="rule", rule_share=0.0), "rule_share"),
        (dict(teacher="oracle", hard_labels="mix", rule_share=1.5), "rule_share"),
        (dict(teacher="trained", hard_labels="rule"), "hard_labels"),
        (dict(teacher="trained", rule_share=0.5), "rule_share"),
    ],
)
def test_a_rule_share_that_does_not_apply_or_is_missing_is_refused(train, key):
    with pytest.raises(ConfigError, match=f"^{key}: "):
        TrainConfig(**train)


def test_a_sweep_along_the_rule_share_axis():
    config = dict(
        name="mix",
        seeds=2,
        data=DATA,
        train=TRAIN | dict(teacher="oracle", hard_labels="mix", rule_share=0.5),
        grid=dict(rule_share=[0.0, 0.5, 1.0]),
    )
    s = run_sweep(config, quiet=True, devices=1).summary
    share = s.groupby("rule_share").teacher_rule_share.mean()
    assert list(share.index) == [0.0, 0.5, 1.0] and share.is_monotonic_increasing
    assert share.loc[1.0] == 1.0
