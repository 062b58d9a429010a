"""The jitted core run (docs/model.md#training): padding, tracing, determinism, record schedules,
status."""

import equinox as eqx
import jax
import numpy as np
import pytest

import w2s_jax as w2s
from w2s_jax.engines.run import run_key
from w2s_jax.sweeping.tables import summarize
from w2s_jax.training.records import RECORD_FIELDS

TINY_DATA = dict(d=48, mu_norm=4.0, nu_norm=4.0, sigma_p=1.0)
TINY_TRAIN = dict(m=4, n_wk=64, T_wk=30, n_test=128, T=30, record_every=5)


def _split(n_max=None, data=None, **train):
    return w2s.split(
        w2s.DataConfig(**(TINY_DATA | (data or {}))),
        w2s.TrainConfig(**(TINY_TRAIN | train)),
        n_max=n_max,
    )


_run = jax.jit(w2s.run, static_argnums=0)


def _assert_same(a, b, rtol=1e-5, atol=1e-6):
    for field in w2s.Trajectory._fields:
        np.testing.assert_allclose(
            np.asarray(getattr(a, field), dtype=float),
            np.asarray(getattr(b, field), dtype=float),
            rtol=rtol,
            atol=atol,
            err_msg=field,
        )


def test_trajectory_shapes():
    static, params = _split(n_st=20)
    traj = _run(static, params, run_key(0, 0))
    R = len(static.record_steps)
    assert static.record_steps[0] == 0 and static.record_steps[-1] == static.T
    for field in RECORD_FIELDS:
        assert getattr(traj, field).shape == (R,), field
    assert traj.gamma.shape == (R, 2, static.m, 4)
    assert traj.weak_test_acc.shape == ()
    assert np.all(np.asarray(traj.gamma[0]) == 0.0), "no learned component at step 0"


def test_padding_invariance():
    """Padding the training set to n_max > n_st changes nothing (the mask is exact)."""
    key = run_key(0, 3)
    exact = _run(*_split(n_st=20), key)
    padded = _run(*_split(n_max=64, n_st=20), key)
    _assert_same(exact, padded)


def test_identical_key_identical_result_and_different_key_differs():
    static, params = _split(n_st=24)
    a = _run(static, params, run_key(0, 1))
    b = _run(static, params, run_key(0, 1))
    c = _run(static, params, run_key(0, 2))
    for field in w2s.Trajectory._fields:
        np.testing.assert_array_equal(np.asarray(getattr(a, field)), np.asarray(getattr(b, field)))
    assert not np.array_equal(np.asarray(a.test_acc), np.asarray(c.test_acc))


def test_traces_once_for_many_parameter_values():
    """n_st, p_b, nu_norm, sigma_p are traced: new values never recompile."""
    counted = jax.jit(eqx.debug.assert_max_traces(w2s.run, max_traces=1), static_argnums=0)
    static, _ = _split(n_max=40, n_st=40)
    for n_st, p_b, nu_norm, sigma_p in [
        (10, 0.4, 4.0, 1.0),
        (40, 0.2, 3.0, 0.5),
        (25, 0.6, 5.0, 2.0),
    ]:
        _, params = _split(
            n_max=40, n_st=n_st, data=dict(p_b=p_b, p_h=0.3, nu_norm=nu_norm, sigma_p=sigma_p)
        )
        jax.block_until_ready(counted(static, params, run_key(0, 0)))


def test_log_spaced_record_schedule():
    static, params = _split(n_st=16, T=200, record_schedule="log", record_points=12)
    steps = np.asarray(static.record_steps)
    assert steps[0] == 0 and steps[-1] == 200 and np.all(np.diff(steps) > 0)
    assert steps[1] == 1 and len(steps) <= 12
    # The same steps on a linear schedule see the same trajectory.
    linear, lparams = _split(n_st=16, T=200, record_every=1)
    log_traj, lin_traj = _run(static, params, run_key(0, 0)), _run(linear, lparams, run_key(0, 0))
    np.testing.assert_allclose(log_traj.test_acc, np.asarray(lin_traj.test_acc)[steps], atol=1e-6)
    np.testing.assert_allclose(
        log_traj.train_loss, np.asarray(lin_traj.train_loss)[steps], rtol=1e-4
    )


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_other_update_rules_train(optimizer):
    static, params = _split(n_st=32, optimizer=optimizer, eta=0.05)
    traj = _run(static, params, run_key(0, 0))
    loss = np.asarray(traj.train_loss)
    assert np.all(np.isfinite(loss)) and loss[-1] < loss[0]


def test_divergence_is_flagged():
    # GD on the logistic loss has bounded gradients, so only an absurd step size overflows;
    # an infinite one (past the config's validation) makes the weights non-finite at once.
    static, params = _split(n_st=16, output_scale="1")
    traj = _run(static, params._replace(eta=np.float32(np.inf)), run_key(0, 0))
    assert not np.all(np.asarray(traj.finite))
    assert summarize(static.record_steps, traj)["status"] == "diverged"
    ok_static, ok_params = _split(n_st=16)
    assert (
        summarize(ok_static.record_steps, _run(ok_static, ok_params, run_key(0, 0)))["status"]
        == "ok"
    )


def test_pseudo_labels_and_label_correction_are_consistent():
    static, params = _split(n_st=64, data=dict(p_h=0.5, p_b=0.3))
    traj = _run(static, params, run_key(0, 5))
    # The weak model is at chance on hard-only points, so some pseudo-labels are wrong.
    assert int(traj.n_wrong_pseudo) > 0
    assert 0.0 < float(traj.pseudo_label_acc) < 1.0
    lc = np.asarray(traj.label_correction)
    assert np.all((lc >= 0) & (lc <= 1))


def test_train_config_errors_name_the_field():
    for kwargs, key in [
        (dict(n_st=0), "n_st"),
        (dict(eta=-1.0), "eta"),
        (dict(m=2.5), "m"),
        (dict(record_schedule="cubic"), "record_schedule"),
        (dict(n_st=10**7), "n_st"),
    ]:
        with pytest.raises(w2s.ConfigError, match=f"^{key}:"):
            w2s.TrainConfig(**kwargs)
    with pytest.raises(w2s.ConfigError, match="^n_max:"):
        _split(n_max=10, n_st=20)
