"""The Gram engine against the direct engine, and the Wishart sampler against the law of Z Zᵀ."""

from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from tests._exact import jit_as_users
from w2s_jax.engines import wishart
from w2s_jax.engines.cost import engine_flops, engine_used
from w2s_jax.engines.run import run, run_engine, run_key
from w2s_jax.engines.wishart import (
    NoiseCoordinates,
    bartlett_factor,
    sample_noise_coordinates,
    sample_wishart,
)
from w2s_jax.model.config import ConfigError, DataConfig, TrainConfig, split
from w2s_jax.model.data import SIGNAL_DIMS
from w2s_jax.model.samples import init_filters, sample_all

TINY = dict(n_st=20, m=4, n_wk=16, n_test=32, T=20, T_wk=10, record_every=5)


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def _static_params(n_max=24, data=None, **train):
    cfg = TINY | train
    return split(data or DataConfig(d=64), TrainConfig(**cfg), n_max=n_max)


def _assert_same(a, b, atol=1e-10):
    for name in a._fields:
        x, y = np.asarray(getattr(a, name), float), np.asarray(getattr(b, name), float)
        np.testing.assert_allclose(x, y, atol=atol, rtol=1e-9, err_msg=name)


ORTHOGONAL = DataConfig(d=64)
ANTIPODAL = DataConfig(d=48, easy_layout="antipodal", hard_sign="antipodal", p_h=0.2, p_b=0.5)


# Each case compiles two full runs (~10 s each on a loaded 2-core machine), so the switches
# are paired rather than crossed.
@pytest.mark.parametrize(
    "optimizer,output_scale,data", [("sgd", "1/m", ORTHOGONAL), ("momentum", "1", ANTIPODAL)]
)
def test_gram_engine_reproduces_direct_engine(x64, optimizer, output_scale, data):
    # n_max > n_st: the padded points must stay out of the dynamics in both engines.
    static, params = _static_params(
        data=data, dtype="float64", optimizer=optimizer, output_scale=output_scale, eta=0.5
    )
    key = run_key(0, 3)
    direct = jit_as_users(run)(static, params, key)
    gram = jit_as_users(run)(static._replace(engine="gram"), params, key)
    assert np.all(np.asarray(direct.finite))
    assert 0 < float(direct.train_loss[-1]) < float(direct.train_loss[0])  # it trained
    _assert_same(direct, gram)


def test_wishart_pipeline_is_exact_in_span_coordinates(x64):
    """The Wishart engine on the sampled noise written in an orthonormal basis of its span (by QR)
    equals the direct engine: the compressed weak and strong training lose nothing."""
    static, params = _static_params(dtype="float64")
    key = run_key(0, 5)
    weak_set, train, test = sample_all(static, params, key)
    W0 = init_filters(static, params, key)
    filters_noise = W0.reshape(-1, static.d).at[:, :SIGNAL_DIMS].set(0.0)
    # The basis order of engines.wishart: weak noise, training noise, initial filters.
    span = jnp.concatenate([weak_set.noise, train.noise, filters_noise])  # (N, d), N <= d - 4
    Q, R = jnp.linalg.qr(span.T)
    rows = R.T  # lower-triangular: each block's columns past its last row are zero
    n0 = static.n_wk + static.n_max
    coords = NoiseCoordinates(
        weak=rows[: static.n_wk, : static.n_wk],
        train=rows[static.n_wk : n0, :n0],
        filters=rows[n0:],
        test=test.noise @ Q,
        filters_signal=W0[..., :SIGNAL_DIMS],
    )
    # The Wishart engine with its drawn coordinates replaced by the sampled noise's.
    in_span = wishart.ENGINE._replace(
        sample=lambda *args: wishart.sample(*args)._replace(start=coords)
    )
    traj = jax.jit(partial(run_engine, in_span), static_argnums=0)(static, params, key)
    direct = jax.jit(run, static_argnums=0)(static, params, key)
    for name in direct._fields:
        np.testing.assert_allclose(
            np.asarray(getattr(traj, name), float),
            np.asarray(getattr(direct, name), float),
            atol=1e-9,
            rtol=1e-8,
            err_msg=name,
        )


def test_wishart_run_never_forms_d_sized_arrays():
    static, params = _static_params(engine="gram", gram_noise="wishart")
    assert static.d == 0  # d is a traced number on the Wishart path
    big = params._replace(d=jnp.float32(1e9))  # a d that could never be materialized
    jaxpr = jax.make_jaxpr(run, static_argnums=0)(static, big, run_key(0, 0))
    sizes = [v.aval.size for eqn in jaxpr.eqns for v in eqn.outvars if hasattr(v.aval, "size")]
    assert max(sizes) < 10**5


def test_wishart_runs_at_any_d_with_one_compile():
    """Cells at d = 12 (singular: d - 4 < n_wk + 2m + n_max), 10^3 and 10^7 share one trace
    (sigma_p² d held at 100 so that every d has a learnable signal)."""
    counted = jax.jit(eqx.debug.assert_max_traces(run, max_traces=1), static_argnums=0)
    for d in (12, 1000, 10**7):
        data = DataConfig(d=d, sigma_p=(100 / d) ** 0.5)
        static, params = _static_params(data=data, engine="gram", gram_noise="wishart")
        traj = counted(static, params, run_key(0, 0))
        assert np.all(np.asarray(traj.finite)), d
        assert 0.5 < float(traj.weak_test_acc) <= 1.0, d


@pytest.mark.slow
def test_wishart_draws_do_not_depend_on_the_width():
    """Cells that differ only in m share the teacher's data, the training and the test noise,
    and the first filters: a width comparison is paired, as on the sampled path."""
    data = DataConfig(d=10**5)
    narrow = _static_params(data=data, engine="gram", gram_noise="wishart", m=2)
    wide = _static_params(data=data, engine="gram", gram_noise="wishart", m=5)
    key = run_key(0, 1)
    a, b = (jax.jit(sample_noise_coordinates, static_argnums=0)(*sp, key) for sp in (narrow, wide))
    n0 = narrow[0].n_wk + narrow[0].n_max
    for name in ("weak", "train"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    np.testing.assert_array_equal(a.test[:, :n0], b.test[:, :n0])
    np.testing.assert_array_equal(a.filters[:, :n0], b.filters[: 2 * 2, :n0])
    assert not np.array_equal(a.filters[:, :n0], b.filters[2 * 2 :, :n0])  # new filters, new draws
    ra, rb = (jax.jit(run, static_argnums=0)(*sp, key) for sp in (narrow, wide))
    for name in ("weak_test_acc", "pseudo_label_acc", "n_wrong_pseudo"):
        np.testing.assert_array_equal(getattr(ra, name), getattr(rb, name), err_msg=name)


@pytest.mark.slow
def test_wishart_draws_do_not_depend_on_the_padding():
    """A run padded to a larger n_max is the same run: the draws are keyed by block, the
    training noise comes last in the basis, so Wishart grids can be tiered like sampled ones."""
    data = DataConfig(d=10**5)
    exact = _static_params(n_max=20, data=data, engine="gram", gram_noise="wishart")
    padded = _static_params(n_max=150, data=data, engine="gram", gram_noise="wishart")
    key = run_key(0, 1)
    a = jax.jit(run, static_argnums=0)(*exact, key)
    b = jax.jit(run, static_argnums=0)(*padded, key)
    _assert_same(a, b, atol=1e-5)


def _wishart_draws(sampler, n, dof, count, seed):
    keys = jax.random.split(jax.random.key(seed), count)
    return np.asarray(jax.vmap(lambda k: sampler(k, n, dof, jnp.float64))(keys))


def _direct_draws(n, dof, count, seed):
    keys = jax.random.split(jax.random.key(seed), count)
    Z = jax.vmap(lambda k: jax.random.normal(k, (n, dof), jnp.float64))(keys)
    return np.asarray(jnp.einsum("bik,bjk->bij", Z, Z))


@pytest.mark.parametrize("n,dof", [(3, 5), (4, 4), (4, 2)])
def test_wishart_moments(x64, monkeypatch, n, dof):
    """E W = dof·I, Var W_ii = 2·dof, Var W_ij = dof (i != j).

    The factor's entries are drawn in keyed blocks (`wishart.BLOCK`), which decide only which
    key an entry comes from, not its law; 8 x 8 blocks make the 20000 draws 256 times
    cheaper than the 128 x 128 of a run (`test_wishart_law_matches_z_zt` uses those).
    """
    monkeypatch.setattr(wishart, "BLOCK", 8)
    draws = _wishart_draws(sample_wishart, n, dof, 20000, seed=0)
    mean, var = draws.mean(axis=0), draws.var(axis=0)
    se_mean = np.sqrt(dof * (1 + np.eye(n)) / len(draws))
    assert np.all(np.abs(mean - dof * np.eye(n)) < 5 * se_mean)
    np.testing.assert_allclose(var, dof * (1 + np.eye(n)), rtol=0.08)


@pytest.mark.slow
def test_wishart_law_matches_z_zt(x64):
    """Two-sample KS tests of entries and of the smallest eigenvalue against Z Zᵀ draws."""
    n, dof = 3, 4
    ours = _wishart_draws(sample_wishart, n, dof, 4000, seed=1)
    ref = _direct_draws(n, dof, 4000, seed=2)
    statistics = {
        "W00": lambda w: w[:, 0, 0],
        "W22": lambda w: w[:, 2, 2],
        "W12": lambda w: w[:, 1, 2],
        "min_eig": lambda w: np.linalg.eigvalsh(w)[:, 0],
        "corr01": lambda w: w[:, 0, 1] / np.sqrt(w[:, 0, 0] * w[:, 1, 1]),
    }
    for name, f in statistics.items():
        assert stats.ks_2samp(f(ours), f(ref)).pvalue > 1e-3, name
    # The diagonal is chi-squared with dof degrees of freedom.
    assert stats.kstest(ours[:, 2, 2], stats.chi2(dof).cdf).pvalue > 1e-3


def test_bartlett_factor_is_lower_triangular_with_positive_diagonal(x64):
    L = np.asarray(bartlett_factor(jax.random.key(0), 5, 7, jnp.float64))
    assert np.allclose(np.triu(L, 1), 0.0)
    assert np.all(np.diag(L) > 0)
    # Singular (dof < n): rows from dof on live in the first dof columns; rank dof.
    S = np.asarray(bartlett_factor(jax.random.key(0), 5, 3, jnp.float64))
    assert np.allclose(S[:, 3:], 0.0) and np.linalg.matrix_rank(S @ S.T) == 3
    # A larger factor starts with the smaller one (draws keyed by row and block).
    big = np.asarray(bartlett_factor(jax.random.key(0), 300, 1000, jnp.float64))
    small = np.asarray(bartlett_factor(jax.random.key(0), 140, 1000, jnp.float64))
    np.testing.assert_array_equal(big[:140, :140], small)


def test_config_validation():
    with pytest.raises(ConfigError, match="optimizer"):
        TrainConfig(engine="gram", optimizer="adam")
    with pytest.raises(ConfigError, match="gram_noise"):
        TrainConfig(gram_noise="wishart")  # engine "direct"
    with pytest.raises(ConfigError, match="optimizer_wk"):
        TrainConfig(engine="gram", gram_noise="wishart", optimizer_wk="adam")
    with pytest.raises(ConfigError, match="gram_noise"):
        TrainConfig(gram_noise="bartlett")
    static, _ = split(DataConfig(), TrainConfig(engine="gram", gram_noise="wishart"))
    assert static.engine == "wishart" and "gram_noise" not in static._fields


def test_auto_engine_picks_by_cost():
    small_d, _ = split(DataConfig(d=16), TrainConfig(engine="auto", n_st=400, m=4))
    large_d, _ = split(DataConfig(d=20000), TrainConfig(engine="auto", n_st=200))
    assert engine_used(small_d) == "direct"
    assert engine_used(large_d) == "gram"
    assert engine_used(large_d._replace(optimizer="adam")) == "direct"
    flops = engine_flops(large_d)
    assert flops["wishart"] < flops["gram"] < flops["direct"]
    # The Wishart draw only where the config says that exact in law is enough.
    allowed = large_d._replace(auto_in_law=True)
    assert engine_used(allowed) == "wishart"
    assert engine_used(split(DataConfig(d=20000), TrainConfig(engine="gram"))[0]) == "gram"


def test_staircase_products_equal_the_dense_ones(x64, monkeypatch):
    """The Gram blocks by row blocks of the factor (skipping its zero upper triangle) equal
    the dense products, with fewer flops."""
    from w2s_jax.engines import triangular

    monkeypatch.setattr(triangular, "GRAM_BLOCK", 16)
    n, lead = 50, 7
    L = bartlett_factor(jax.random.key(0), lead + n, 1000, jnp.float64)
    rows, test = L[lead:], jax.random.normal(jax.random.key(1), (9, lead + n), jnp.float64)
    G = triangular.staircase_gram(rows, lead)
    np.testing.assert_allclose(G, rows @ rows.T, rtol=1e-13, atol=1e-12)
    np.testing.assert_array_equal(G, G.T)
    np.testing.assert_allclose(
        triangular.staircase_cross(rows, test, lead), rows @ test.T, rtol=1e-13, atol=1e-12
    )
    gram_flops, cross_flops = triangular.staircase_flops(n, lead + n, lead, 9)
    assert gram_flops < 2.0 * n * n * (lead + n) and cross_flops < 2.0 * n * 9 * (lead + n)
