"""The `d → ∞` limit engine: the Wishart engine converges to it draw by draw as `d` grows at a
fixed noise norm, a config's `d` and `sigma_p` enter only through that norm, and the switches
it cannot follow are refused."""

import jax
import numpy as np
import pytest

from w2s_jax import DataConfig, TrainConfig, dtype_scope, run, split
from w2s_jax.engines.run import run_key
from w2s_jax.model.config import ConfigError

BASE = dict(n_st=40, m=4, n_wk=60, n_test=100, T=60, T_wk=40, eta=1.0, record_every=10)
NORM_SQ = 996.0  # s² = sigma_p²·(d - 4) at d = 1000, sigma_p = 1


def _run(d, **train):
    with dtype_scope("float64"):
        sigma_p = float(np.sqrt(NORM_SQ / (d - 4)))
        static, params = split(
            DataConfig(d=d, sigma_p=sigma_p, nu_norm=2.0), TrainConfig(dtype="float64", **train)
        )
        return jax.jit(run, static_argnums=0)(static, params, run_key(0, 3))


def test_wishart_converges_to_the_limit_as_d_grows():
    limit = _run(1000, engine="limit", **BASE)
    gaps = []
    for d in (10**4, 10**6, 10**8):
        wishart = _run(d, engine="gram", gram_noise="wishart", **BASE)
        gaps.append(np.max(np.abs(np.asarray(wishart.train_loss - limit.train_loss))))
    assert gaps[0] > gaps[1] > gaps[2]
    # the gap shrinks like d^(-1/2): a factor of about 10 for every factor 100 in d
    assert gaps[2] < gaps[0] / 20
    assert gaps[2] < 1e-3


def test_the_limit_depends_on_d_and_sigma_p_only_through_the_noise_norm():
    a, b = _run(1000, engine="limit", **BASE), _run(10**6, engine="limit", **BASE)
    for field in ("train_loss", "test_acc", "rho_wrong", "gamma_nu_pos"):
        np.testing.assert_allclose(getattr(a, field), getattr(b, field), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "data, train, key",
    [
        ({}, dict(optimizer="adam"), "optimizer"),
        ({}, dict(optimizer_wk="adam"), "optimizer_wk"),
        (dict(n_classes=3), {}, "engine"),
    ],
)
def test_what_the_limit_cannot_follow_is_refused(data, train, key):
    with pytest.raises(ConfigError, match=rf"^{key}: .*'limit'"):
        split(DataConfig(**data), TrainConfig(engine="limit", **train))
