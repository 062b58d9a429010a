"""The digits data source: real images with the theory's structure (model.digits).

Shapes and patch structure, splits without overlap, determinism from the key, independence
of the padded size, the analogues of Propositions 2.1 (every linear model is at chance on
hard-only digits) and 2.2 (hand-built ReLU filters separate them), the refusals, and the
synthetic default left as it was.
"""

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import w2s_jax as w2s
from w2s_jax.engines.cost import engine_used
from w2s_jax.model.data import BOTH, EASY, HARD, sample_from_keys, sample_keys
from w2s_jax.model.digit_images import DIGIT_PIXELS, class_means, pool_size, pools, slots
from w2s_jax.model.digits import image_indices, sample_digit_sets
from w2s_jax.model.samples import sample_all
from w2s_jax.sweeping.config_file import load_config
from w2s_jax.training.teacher import train_weak
from w2s_jax.training.updates import predict

CLASSES = "01/67"
P = pool_size(CLASSES)


def _digits(d=128, **kw):
    return w2s.DataConfig(dataset="digits", d=d, **kw)


def _split(data, n_st=40, n_wk=40, n_test=60, n_max=None, **kw):
    return w2s.split(data, w2s.TrainConfig(n_st=n_st, n_wk=n_wk, n_test=n_test, **kw), n_max)


def _kw(cfg):
    return dict(
        p_e=cfg.p_e, p_h=cfg.p_h, mu_norm=cfg.mu_norm, nu_norm=cfg.nu_norm, sigma_p=cfg.sigma_p
    )


def test_pools_are_the_bundled_images():
    images, index = pools(CLASSES)
    from sklearn.datasets import load_digits

    bunch = load_digits()
    assert (
        images.shape == (4, P, DIGIT_PIXELS)
        and min(np.sum(bunch.target == c) for c in (0, 1, 6, 7)) == P
    )
    for row, digit in enumerate((0, 1, 6, 7)):
        assert np.all(bunch.target[index[row]] == digit)
    np.testing.assert_allclose(np.linalg.norm(images, axis=-1), 1.0, rtol=1e-12)
    raw = bunch.data[index[2, 5]]
    np.testing.assert_allclose(images[2, 5], raw / np.linalg.norm(raw))


def test_shapes_and_patch_structure():
    cfg = _digits(d=100, mu_norm=3.0, nu_norm=2.0, sigma_p=0.7, p_h=0.3, p_b=0.4)
    static, params = _split(cfg, n_st=50, n_wk=40, n_test=60)
    assert static.signal_dims == DIGIT_PIXELS and static.dataset == "digits"
    key = jax.random.key(3)
    sets = sample_all(static, params, key)
    indices = image_indices(key, (40, 50, 60), CLASSES)
    from sklearn.datasets import load_digits

    raw = load_digits().data
    unit = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    for data, idx, n in zip(sets, indices, (40, 50, 60)):
        X, y, cat, eps = (np.asarray(a) for a in data)
        assert X.shape == (n, 3, 100) and y.shape == cat.shape == eps.shape == (n,)
        np.testing.assert_array_equal(y, np.where(np.arange(n) % 2 == 0, 1, -1))
        assert np.all(X[:, :2, DIGIT_PIXELS:] == 0.0), "images live on the first 64 coordinates"
        assert np.all(X[:, 2, :DIGIT_PIXELS] == 0.0), "noise is orthogonal to the pixels"
        hard = 2.0 * unit[np.asarray(idx[:, 0])] * eps[:, None]
        easy = 3.0 * unit[np.asarray(idx[:, 1])]
        x1, x2 = X[:, 0, :DIGIT_PIXELS], X[:, 1, :DIGIT_PIXELS]
        for c, (e1, e2) in {EASY: (easy, easy), HARD: (hard, hard), BOTH: (easy, hard)}.items():
            rows = cat == c
            np.testing.assert_allclose(x1[rows], e1[rows], rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(x2[rows], e2[rows], rtol=1e-5, atol=1e-6)
        digits_hard = load_digits().target[np.asarray(idx[:, 0])]
        np.testing.assert_array_equal(digits_hard, np.where(y == 1, 0, 1))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_splits_do_not_overlap_and_use_each_image_once(seed):
    # A full run: every image of the four pools is used by exactly one slot.
    n_wk, n_test = 101, 60
    n_st = 2 * (P - slots(n_wk) - slots(n_test))
    sets = image_indices(jax.random.key(seed), (n_wk, n_st, n_test), CLASSES)
    used = [set(np.asarray(s).ravel().tolist()) for s in sets]
    for s, u in zip(sets, used):
        assert len(u) == np.asarray(s).size, "an image is used twice within a set"
    assert not (used[0] & used[1]) and not (used[0] & used[2]) and not (used[1] & used[2])
    n_used = sum(len(u) for u in used)
    # Odd sizes leave one slot half-used: the last sample's label takes one pool of two.
    assert n_used == 2 * (n_wk + n_st + n_test)
    assert n_used <= 4 * P


def test_determinism_from_the_key():
    static, params = _split(_digits(), n_st=30)
    a = sample_all(static, params, jax.random.key(7))
    b = sample_all(static, params, jax.random.key(7))
    c = sample_all(static, params, jax.random.key(8))
    for x, z in zip(a, b):
        np.testing.assert_array_equal(np.asarray(x.X), np.asarray(z.X))
    assert not np.array_equal(np.asarray(a[1].X), np.asarray(c[1].X))
    ia, ic = (
        image_indices(jax.random.key(7), (40, 30, 60), CLASSES),
        image_indices(jax.random.key(8), (40, 30, 60), CLASSES),
    )
    assert not np.array_equal(np.asarray(ia[2]), np.asarray(ic[2])), "splits vary with the key"


def test_padding_leaves_the_real_samples_unchanged():
    cfg = _digits(p_h=0.3, p_b=0.4)
    small = sample_all(*_split(cfg, n_st=30), jax.random.key(5))
    padded = sample_all(*_split(cfg, n_st=30, n_max=150), jax.random.key(5))
    for name in ("X", "y", "category", "eps"):
        for s in (0, 2):  # weak and test sets do not move with n_max
            np.testing.assert_array_equal(
                np.asarray(getattr(small[s], name)), np.asarray(getattr(padded[s], name))
            )
        np.testing.assert_array_equal(
            np.asarray(getattr(small[1], name)), np.asarray(getattr(padded[1], name))[:30]
        )
    # ... and so a padded run equals the unpadded one (the mask hides the extra rows).
    train = dict(n_st=30, n_wk=40, n_test=60, T=15, record_every=5, m=4)
    a = w2s.run(*w2s.split(cfg, w2s.TrainConfig(**train)), jax.random.key(5))
    b = w2s.run(*w2s.split(cfg, w2s.TrainConfig(**train), n_max=150), jax.random.key(5))
    np.testing.assert_allclose(np.asarray(a.test_acc), np.asarray(b.test_acc))
    np.testing.assert_allclose(np.asarray(a.train_loss), np.asarray(b.train_loss), rtol=1e-5)


# Proposition 2.1 on the real images: hard-only test sets of many runs, each as large as the
# pools allow beside a weak set.
N_WK, N_TEST, N_KEYS, D = 100, 2 * (P - 50 - 1), 200, 96


def _hard_only_sets(sigma_p=1.0, polarity=True):
    cfg = _digits(d=D, p_h=1.0, p_b=0.0, sigma_p=sigma_p)
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(11), i))(jnp.arange(N_KEYS))
    sample = lambda k: sample_digit_sets(k, (N_WK, 2, N_TEST), D, CLASSES, **_kw(cfg))
    weak, _, test = jax.vmap(sample)(keys)
    X, y = test.X.reshape(-1, 3, D), test.y.reshape(-1)
    if not polarity:  # the control: the same images with the polarity taken out
        X = X * test.eps.reshape(-1)[:, None, None].astype(X.dtype)
    return cfg, weak, X, y


def _weights(cfg, weak):
    means = class_means(CLASSES)  # easy +, easy -, hard +, hard -
    pad = lambda v: jnp.zeros(D).at[:DIGIT_PIXELS].set(jnp.asarray(v, jnp.float32))
    ws = {
        "hard mean difference": pad(means[2] - means[3]),
        "easy mean difference": pad(means[0] - means[1]),
        "hard + mean": pad(means[2]),
    }
    for i in range(4):
        ws[f"gaussian {i}"] = jax.random.normal(jax.random.key(100 + i), (D,))
    # Adversarial: the weak model trained (logistic GD) on hard-only data of another run.
    static, params = w2s.split(
        cfg, w2s.TrainConfig(n_st=2, n_wk=N_WK, n_test=N_TEST, T_wk=300, eta_wk=0.5)
    )
    first = jax.tree_util.tree_map(lambda a: a[0], weak)
    ws["trained on hard-only"] = train_weak(static, params, first).w
    return ws


def _accuracy(w, X, y):
    return float(np.mean(np.asarray(predict(w2s.LinearCNN(w)(X))) == np.asarray(y)))


@pytest.mark.slow
def test_linear_teacher_is_at_chance_on_hard_only_digits():
    cfg, weak, X, y = _hard_only_sets()
    n = len(y)
    se = 0.5 / np.sqrt(n)
    for name, w in _weights(cfg, weak).items():
        acc = _accuracy(w, X, y)
        assert abs(acc - 0.5) <= 4.5 * se, f"{name}: accuracy {acc:.4f} on {n} hard-only samples"


@pytest.mark.slow
def test_the_chance_test_has_power_without_the_polarity():
    # Same images, same w, polarity removed: the linear model separates the hard pair easily,
    # so the test above would fail if the sampler leaked the label through the polarity.
    cfg, weak, X, y = _hard_only_sets(polarity=False)
    w = _weights(cfg, weak)["hard mean difference"]
    assert _accuracy(w, X, y) > 0.95


def test_hand_built_relu_filters_separate_hard_only_digits():
    # Proposition 2.2's analogue: F_{+1} has filters +-a, F_{-1} filters +-b, with a (b) the
    # part of the hard + (-) class mean orthogonal to the other: sum_p |<a, x_p>| - |<b, x_p>|
    # ignores the polarity, and no noise reaches filters that are zero off the pixels.
    cfg, _, X, y = _hard_only_sets()
    means = class_means(CLASSES)
    pos, neg = means[2], means[3]
    a = pos - (pos @ neg) * neg
    b = neg - (neg @ pos) * pos
    pad = lambda v: np.pad(v, (0, D - DIGIT_PIXELS))
    W = jnp.asarray(np.stack([[pad(a), -pad(a)], [pad(b), -pad(b)]]), jnp.float32)
    logits = w2s.ReLUCNN(W, output_scale="1")(X)
    acc = float(np.mean(np.asarray(predict(logits)) == np.asarray(y)))
    assert acc > 0.95, acc


def test_refuses_more_samples_than_the_images_hold():
    top = 2 * (P - slots(100) - slots(100))
    w2s.split(_digits(), w2s.TrainConfig(n_st=top, n_wk=100, n_test=100))
    with pytest.raises(w2s.ConfigError, match=rf"^n_st: must be <= {top} with dataset 'digits'"):
        w2s.split(_digits(), w2s.TrainConfig(n_st=top + 1, n_wk=100, n_test=100))
    with pytest.raises(w2s.ConfigError, match=r"^n_wk \+ n_test: .* 178 images per class"):
        w2s.split(_digits(), w2s.TrainConfig(n_st=1, n_wk=200, n_test=200))
    raw = dict(data=dict(dataset="digits", d=128), train=dict(n_wk=100, n_test=100))
    with pytest.raises(w2s.ConfigError, match=rf"^grid.n_st: must be <= {top} .*n_st=400"):
        load_config(raw | dict(grid=dict(n_st=[20, 400])))


def test_refuses_bad_values():
    with pytest.raises(w2s.ConfigError, match=r"^dataset: must be one of 'synthetic', 'digits'"):
        w2s.DataConfig(dataset="cifar")
    with pytest.raises(w2s.ConfigError, match=r"^d: dataset 'digits' needs d >= 65"):
        _digits(d=64)
    with pytest.raises(w2s.ConfigError, match=r"^digit_classes: expected four distinct"):
        w2s.DataConfig(digit_classes="01/61")
    with pytest.raises(w2s.ConfigError, match=r"^easy_layout: dataset 'digits'"):
        _digits(easy_layout="antipodal")


def test_cli_refusal_is_one_line_and_exit_2(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(
        '[data]\ndataset = "digits"\nd = 128\n[train]\nn_wk = 100\nn_test = 100\nn_st = 500\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "w2s_jax.cli", "sweep", str(config), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "n_st: must be <= 156" in done.stderr


def test_the_gram_engine_runs_the_digits_exactly():
    # The pixels span e1..e64 and the noise is isotropic off them, which is all the Gram
    # engine needs: it reproduces the direct engine's run.
    train = dict(n_st=40, n_wk=40, n_test=60, T=12, record_every=4, m=3, T_wk=20)
    cfg = _digits(d=96)
    direct = w2s.run(*w2s.split(cfg, w2s.TrainConfig(**train)), jax.random.key(3))
    gram = w2s.run(*w2s.split(cfg, w2s.TrainConfig(engine="gram", **train)), jax.random.key(3))
    np.testing.assert_allclose(np.asarray(gram.test_acc), np.asarray(direct.test_acc))
    np.testing.assert_allclose(
        np.asarray(gram.train_loss), np.asarray(direct.train_loss), rtol=1e-4, atol=1e-6
    )


def test_engine_auto_trains_digits_directly():
    train = dict(n_st=150, n_wk=100, n_test=50, engine="auto", m=2)
    static, _ = w2s.split(_digits(d=5000), w2s.TrainConfig(**train))
    assert engine_used(static) == "direct"
    # The same shapes on the synthetic model pick the Gram engine (d >> n_st).
    static, _ = w2s.split(w2s.DataConfig(d=5000), w2s.TrainConfig(**train))
    assert engine_used(static) == "gram"


def test_synthetic_default_is_unchanged():
    cfg = w2s.DataConfig(d=32)
    assert cfg.dataset == "synthetic"
    static, params = w2s.split(cfg, w2s.TrainConfig(n_st=20, n_wk=30, n_test=25))
    assert static.signal_dims == 4 and static.dataset == "synthetic"
    key = jax.random.key(2)
    sets = sample_all(static, params, key)
    for s, (data, n) in enumerate(zip(sets, (30, 20, 25))):
        reference = sample_from_keys(
            sample_keys(jax.random.fold_in(key, s), n), 32, **_kw(cfg), easy_layout="orthogonal"
        )
        for got, want in zip(data, reference):
            np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_a_digits_sweep_runs_end_to_end():
    config = dict(
        name="digits-tiny",
        seeds=2,
        data=dict(dataset="digits", d=96),
        train=dict(n_wk=40, n_test=40, T=10, record_every=5, m=4, T_wk=20),
        grid=dict(n_st=[10, 30]),
    )
    summary, trajectories = w2s.sweep(config, quiet=True)
    assert len(summary) == 4 and set(summary["dataset"]) == {"digits"}
    assert summary["status"].eq("ok").all()
    assert np.isfinite(trajectories["test_acc"]).all()
