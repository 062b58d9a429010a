"""The sampler of docs/model.md#data and Proposition 2.1 (the weak model cannot beat 1/2 on
hard-only data)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import w2s_jax as w2s
from w2s_jax.model.data import BOTH, EASY, HARD


def _sample(n=20_000, **kw):
    cfg = w2s.DataConfig(**({"d": 64} | kw))
    return cfg, w2s.sample(jax.random.key(1), n, cfg)


def _within(value, expected, n, p=None, sigmas=5.0):
    p = expected if p is None else p
    return abs(value - expected) <= sigmas * np.sqrt(p * (1 - p) / n)


def test_category_frequencies_and_label_balance():
    cfg, data = _sample(p_h=0.3, p_b=0.45)
    category, y = np.asarray(data.category), np.asarray(data.y)
    n = len(y)
    for cat, p in ((EASY, cfg.p_e), (HARD, cfg.p_h), (BOTH, cfg.p_b)):
        assert _within(np.mean(category == cat), p, n)
    assert _within(np.mean(y == 1), 0.5, n)
    assert _within(np.mean(np.asarray(data.eps) == 1), 0.5, n)
    assert set(np.unique(y)) == {-1, 1}


def test_noise_variance_and_orthogonality():
    cfg, data = _sample(n=4000, sigma_p=2.5, d=128)
    noise = np.asarray(data.noise, dtype=np.float64)
    assert np.all(noise[:, :4] == 0.0), "noise must be exactly orthogonal to the signal span"
    var = noise[:, 4:].var()
    # The variance estimate from 4000*124 Gaussians has relative sd sqrt(2/N) ~ 0.2%.
    assert abs(var / cfg.sigma_p**2 - 1) < 0.02
    assert abs(noise[:, 4:].mean()) < 0.01 * cfg.sigma_p


@pytest.mark.parametrize("easy_layout", ["orthogonal", "antipodal"])
@pytest.mark.parametrize("hard_sign", ["shared", "antipodal"])
def test_patch_structure(easy_layout, hard_sign):
    cfg, data = _sample(
        n=500, easy_layout=easy_layout, hard_sign=hard_sign, mu_norm=3.0, nu_norm=2.0
    )
    mu_pos, mu_neg, nu_pos, nu_neg = np.asarray(
        w2s.signal_vectors(cfg.d, cfg.mu_norm, cfg.nu_norm, cfg.easy_layout)
    )
    if easy_layout == "antipodal":
        np.testing.assert_array_equal(mu_neg, -mu_pos)
    X, y, cat, eps = (np.asarray(a) for a in (data.X, data.y, data.category, data.eps))
    for i in range(len(y)):
        mu_y, nu_y = (mu_pos, nu_pos) if y[i] == 1 else (mu_neg, nu_neg)
        if cat[i] == EASY:
            expected = (mu_y, mu_y)
        elif cat[i] == HARD:
            expected = (eps[i] * nu_y, eps[i] * nu_y) if hard_sign == "shared" else (nu_y, -nu_y)
        else:
            expected = (mu_y, eps[i] * nu_y)
        np.testing.assert_array_equal(X[i, 0], expected[0])
        np.testing.assert_array_equal(X[i, 1], expected[1])


def test_prefix_of_a_larger_sample_is_the_smaller_sample():
    cfg = w2s.DataConfig(d=32)
    small = w2s.sample(jax.random.key(3), 10, cfg)
    large = w2s.sample(jax.random.key(3), 25, cfg)
    for a, b in zip(small, large):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b)[:10])


def test_common_random_numbers_across_parameters():
    """Changing nu_norm or sigma_p rescales the same draws; it does not redraw them."""
    key = jax.random.key(4)
    a = w2s.sample(key, 200, w2s.DataConfig(d=32, sigma_p=1.0, nu_norm=1.0))
    b = w2s.sample(key, 200, w2s.DataConfig(d=32, sigma_p=3.0, nu_norm=2.0))
    np.testing.assert_allclose(np.asarray(b.noise), 3.0 * np.asarray(a.noise), rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(a.y), np.asarray(b.y))
    np.testing.assert_array_equal(np.asarray(a.category), np.asarray(b.category))


@pytest.mark.parametrize("hard_sign", ["shared", "antipodal"])
def test_proposition_2_1_weak_model_is_at_chance_on_hard_only_data(hard_sign):
    """For every w, the linear CNN's accuracy on hard-only data is 1/2 (Prop. 2.1)."""
    n, d = 4000, 64
    cfg = w2s.DataConfig(d=d, p_h=1.0, p_b=0.0, hard_sign=hard_sign)
    data = w2s.sample(jax.random.key(5), n, cfg)
    assert np.all(np.asarray(data.category) == HARD)
    keys = jax.random.split(jax.random.key(6), 12)
    directions = [jax.random.normal(k, (d,)) for k in keys]
    # Adversarial choices too: weights along the hard signals themselves.
    e = jnp.eye(d)
    directions += [e[2] - e[3], e[2] + e[3], 10 * e[2] + 0.1 * directions[0]]
    for w in directions:
        pred = jnp.where(w2s.LinearCNN(w)(data.X) >= 0, 1, -1)
        acc = float(jnp.mean(pred == data.y))
        assert _within(acc, 0.5, n, sigmas=4.5), acc


@pytest.mark.parametrize(
    "kwargs, key",
    [
        (dict(d=4), "d"),
        (dict(sigma_p=0.0), "sigma_p"),
        (dict(nu_norm=-1.0), "nu_norm"),
        (dict(p_h=1.2), "p_h"),
        (dict(p_h=0.7, p_b=0.5), "p_h + p_b"),
        (dict(p_e=0.5, p_h=0.3, p_b=0.3), "p_e + p_h + p_b"),
        (dict(hard_sign="mixed"), "hard_sign"),
        (dict(easy_layout="x"), "easy_layout"),
        (dict(d=10.5), "d"),
        (dict(mu_norm="5"), "mu_norm"),
    ],
)
def test_data_config_errors_name_the_field(kwargs, key):
    with pytest.raises(ValueError, match=f"^{key.replace('+', '[+]')}:"):
        w2s.DataConfig(**kwargs)


def test_data_config_defaults_and_implied_p_e():
    cfg = w2s.DataConfig(p_h=0.3, p_b=0.4)
    assert cfg.p_e == pytest.approx(0.3)
    assert w2s.DataConfig(p_e=0.2, p_h=0.3, p_b=0.5).p_e == 0.2
