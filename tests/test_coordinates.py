"""Theory coordinates in the config (docs/model.md#coordinates): resolution, round trips, refusals;
and the
memory check that refuses a run that cannot fit before anything is compiled or written."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from _sweep_cases import snapshot

from w2s_jax.cli.main import main
from w2s_jax.model.config import ConfigError
from w2s_jax.model.coordinates import resolve, theory_coordinates
from w2s_jax.sweeping.config_file import load_config
from w2s_jax.sweeping.driver import run_sweep

BASE = dict(n_st=2000, p_b=0.4, sigma_p=0.2)


def _coords(fields):
    return theory_coordinates(
        fields["n_st"],
        fields["p_b"],
        fields["nu_norm"],
        fields.get("mu_norm", 5.0),
        fields["sigma_p"],
        fields["d"],
    )


@pytest.mark.parametrize("pair", list(itertools.combinations(("tau", "snr", "d", "nu_norm"), 2)))
def test_any_two_of_tau_snr_d_nu_norm_resolve_and_round_trip(pair):
    target = BASE | dict(d=93750, nu_norm=1.9364916731037085)  # tau = 30, snr = 1e-3
    truth = _coords(target)
    given = {k: (truth[k] if k in truth else target[k]) for k in pair}
    fields = resolve(BASE | given)
    assert not set(fields) & {"tau", "snr", "mu_over_nu"}
    assert isinstance(fields["d"], int)
    got = _coords(fields)
    if "tau" in pair:  # a requested tau comes back exactly (d rounded, nu_norm solves tau)
        assert got["tau"] == pytest.approx(truth["tau"], rel=1e-9)
    if "snr" in pair:
        assert got["snr"] == pytest.approx(truth["snr"], rel=1e-9 if "d" in pair else 1e-4)
    assert fields["d"] == pytest.approx(93750, rel=1e-4)


def test_tau_survives_the_rounding_of_d():
    # tau / (n_st p_b² snr²) = 1234.56...: d is rounded, tau still comes back to 1e-9.
    fields = resolve(BASE | dict(tau=37.037037, snr=1e-2, n_st=75))
    assert isinstance(fields["d"], int)
    assert _coords(fields)["tau"] == pytest.approx(37.037037, rel=1e-9)


def test_mu_over_nu_sets_mu_norm():
    fields = resolve(BASE | dict(tau=30.0, snr=1e-3, mu_over_nu=2.5))
    assert fields["mu_norm"] == pytest.approx(2.5 * fields["nu_norm"])
    assert resolve(dict(mu_over_nu=0.5))["mu_norm"] == pytest.approx(2.5)  # default nu_norm 5


@pytest.mark.parametrize(
    "fields,key",
    [
        (dict(tau=30.0), "tau"),  # under-determined: one of the four
        (dict(tau=30.0, snr=1e-3, d=1000), "tau, snr, d"),  # over-determined
        (dict(snr=1e-3, d=1000, nu_norm=2.0), "snr, d, nu_norm"),
        (dict(mu_over_nu=1.0, mu_norm=3.0), "mu_norm, mu_over_nu"),
        (dict(tau=-1.0, snr=1e-3), "tau"),
        (dict(tau=30.0, snr=1e-3, p_b=0.0), "p_b"),
        (dict(tau=1e-6, snr=10.0), "tau, snr"),  # d far below 8
    ],
)
def test_bad_combinations_name_their_keys(fields, key):
    with pytest.raises(ConfigError, match=f"^{key}:"):
        resolve(BASE | fields)


def test_a_sweep_over_theory_coordinates_carries_both_kinds_of_columns():
    config = dict(
        name="coords",
        seeds=1,
        data=dict(snr=1e-3, sigma_p=0.2, mu_over_nu=1.0, p_b=0.4, p_h=0.3),
        train=dict(
            engine="gram",
            gram_noise="wishart",
            m=2,
            n_wk=16,
            n_test=16,
            T=2,
            T_wk=2,
            record_every=1,
        ),
        grid=dict(tau=[3.0, 30.0], n_st=[8, 16]),
    )
    summary = run_sweep(config, None, quiet=True, devices=1).summary
    for column in ("tau", "snr", "n_st_snr", "mu_over_nu", "d", "nu_norm", "mu_norm"):
        assert column in summary
    requested = np.repeat([3.0, 30.0], 2)  # grid order: tau outermost
    np.testing.assert_allclose(summary["tau"], requested, rtol=1e-9)
    np.testing.assert_allclose(summary["snr"], 1e-3, rtol=1e-3)
    np.testing.assert_allclose(summary["n_st_snr"], summary["n_st"] * summary["snr"])
    np.testing.assert_allclose(summary["mu_norm"], summary["nu_norm"])
    assert summary["d"].nunique() == 4  # d follows from tau, snr and n_st cell by cell


def test_bad_coordinates_in_a_toml_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[data]\ntau = 30.0\nsnr = 1e-3\nd = 1000\n")
    assert main(["sweep", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "give exactly two of tau, snr, d, nu_norm" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
    assert load_config({"grid": {"tau": [1.0, 2.0]}, "data": {"snr": 0.01}}).n_cells == 2


BIG = """\
name = "too_big"
[data]
d = 1000000000
sigma_p = 0.00003
[train]
n_st = 500
n_wk = 100
n_test = 100
m = 4
T = 2
T_wk = 2
record_every = 1
"""


def test_a_run_that_cannot_fit_is_refused_before_anything_is_written(tmp_path, capsys):
    config = tmp_path / "big.toml"
    config.write_text(BIG)
    out = tmp_path / "out"
    before = snapshot(tmp_path)
    assert main(["sweep", str(config), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("w2s sweep: error: engine: one run")
    assert "GiB with the direct engine" in err[0] and 'use engine = "wishart"' in err[0]
    assert snapshot(tmp_path) == before  # nothing written, not even DIR
    # What the message says to do works.
    config.write_text(BIG.replace("[train]", '[train]\nengine = "wishart"'))
    assert main(["sweep", str(config), "--out", str(out), "--quiet"]) == 0
    assert (out / "summary.parquet").exists()


def _top_hessian_eigenvalue(data, train, iters=40):
    """Power iteration on the mean loss's Hessian at initialization (direct engine's loss)."""
    import jax
    import jax.numpy as jnp

    from w2s_jax.engines.run import run_key
    from w2s_jax.model.config import split
    from w2s_jax.model.networks import ReLUCNN
    from w2s_jax.model.samples import init_filters, sample_all
    from w2s_jax.training.teacher import train_weak
    from w2s_jax.training.updates import logistic_loss, predict

    static, params = split(data, train)
    weak_set, strong_set, _ = sample_all(static, params, run_key(0, 0))
    yhat = predict(train_weak(static, params, weak_set)(strong_set.X)).astype(jnp.float32)
    W0 = init_filters(static, params, run_key(0, 0))

    def loss(W):
        return jnp.mean(logistic_loss(yhat * ReLUCNN(W, static.output_scale)(strong_set.X)))

    hvp = jax.jit(lambda v: jax.jvp(jax.grad(loss), (W0,), (v,))[1])
    v = jax.random.normal(jax.random.key(1), W0.shape)
    for _ in range(iters):
        v = hvp(v / jnp.linalg.norm(v))
    return float(jnp.linalg.norm(v))


@pytest.mark.parametrize(
    "data,train",
    [
        (dict(d=2000, sigma_p=1.0, mu_norm=5.0, nu_norm=5.0), dict(n_st=300)),  # signal spike
        (dict(d=4000, sigma_p=0.3, mu_norm=1.0, nu_norm=1.0), dict(n_st=100)),  # noise diagonal
        (dict(d=300, sigma_p=0.5, mu_norm=1.0, nu_norm=2.0, p_h=0.5, p_b=0.2), dict(n_st=600)),
    ],
)
def test_stable_step_estimates_the_top_of_the_hessian(data, train):
    from w2s_jax.model.config import DataConfig, TrainConfig
    from w2s_jax.model.coordinates import step_scale

    data = DataConfig(**data)
    train = TrainConfig(**(dict(m=10, n_wk=200, T_wk=50, n_test=8, T=1) | train))
    measured = _top_hessian_eigenvalue(data, train)
    estimated = 2.0 / float(step_scale(vars(data) | vars(train)))
    assert 0.6 < estimated / measured < 1.3, (estimated, measured)


def test_eta_rel_scales_the_step_to_each_cell():
    fields = dict(d=10**5, sigma_p=0.1, mu_norm=1.0, nu_norm=1.0, m=20)
    small, large = (
        resolve(fields | dict(n_st=75, eta_rel=0.5)),
        resolve(fields | dict(n_st=2000, eta_rel=0.5)),
    )
    # Noise dominates the curvature at small n_st: the stable step grows with n_st/(sigma_p² d).
    assert large["eta"] > 5 * small["eta"]
    with pytest.raises(ConfigError, match="^eta, eta_rel:"):
        resolve(fields | dict(eta=0.1, eta_rel=0.5))
    config = load_config(
        dict(data=dict(d=1000), train=dict(eta_rel=0.25), grid=dict(n_st=[10, 100]))
    )
    etas = [config.configs(cell)[1].eta for cell in config.cells()]
    assert etas[0] != etas[1] and all(e > 0 for e in etas)


@pytest.mark.parametrize("pair", [("tau", "snr"), ("tau", "d"), ("snr", "d")])
def test_three_with_nu_norm_fix_sigma_p(pair):
    target = dict(n_st=2000, p_b=0.4, d=93750, nu_norm=1.0, sigma_p=0.1032795558988644)
    truth = _coords(target)
    given = {k: (truth[k] if k in truth else target[k]) for k in pair}
    fields = resolve(dict(n_st=2000, p_b=0.4, nu_norm=1.0) | given)
    assert fields["nu_norm"] == 1.0 and fields["d"] == 93750
    assert fields["sigma_p"] == pytest.approx(target["sigma_p"], rel=1e-9)
    if "tau" in pair:
        assert _coords(fields)["tau"] == pytest.approx(truth["tau"], rel=1e-9)


def test_n_st_snr_is_snr_per_unit_of_data():
    fields = resolve(dict(tau=30.0, n_st_snr=2.0, n_st=1000, p_b=0.4, nu_norm=1.0))
    got = _coords(fields)
    assert got["n_st_snr"] == pytest.approx(2.0, rel=1e-4) and got["tau"] == pytest.approx(30.0)
    # the pair fixes the over-parameterization: d / n_st = tau / (p_b² n_st_snr²)
    assert fields["d"] / 1000 == pytest.approx(30.0 / (0.16 * 4.0), rel=1e-3)
    with pytest.raises(ConfigError, match="^snr, n_st_snr:"):
        resolve(dict(snr=1e-3, n_st_snr=2.0, tau=1.0))
    with pytest.raises(ConfigError, match="^tau, snr, d, nu_norm:"):
        resolve(dict(tau=30.0, snr=1e-3, d=1000, nu_norm=1.0))


def test_d_over_n_sets_d():
    fields = resolve(dict(n_st_snr=2.0, d_over_n=50.0, n_st=1000, p_b=0.4, nu_norm=1.0))
    got = _coords(fields)
    assert fields["d"] == 50_000 and got["d_over_n"] == 50.0
    assert got["tau"] == pytest.approx(0.16 * 4.0 * 50.0)  # tau = p_b² (n_st snr)² d/n_st
    with pytest.raises(ConfigError, match="^d, d_over_n:"):
        resolve(dict(d=100, d_over_n=5.0, snr=0.1))
