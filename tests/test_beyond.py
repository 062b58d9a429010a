"""Beyond the theorems: mini-batch SGD, a trained second layer, K classes.

The defaults must reproduce the model as it was before these switches, bit for bit
(`tests/_golden.py` holds those runs).
"""

import jax
import numpy as np
import pytest

from tests._exact import jit_as_users
from tests._golden import PATH, golden_runs, machine_path


@pytest.mark.slow
def test_defaults_reproduce_the_golden_runs_bit_for_bit():
    now = golden_runs()
    own = machine_path()
    exact = own.exists()
    golden = dict(np.load(own if exact else PATH))
    assert set(golden) <= set(now)
    for name, value in golden.items():
        if exact or not np.issubdtype(value.dtype, np.floating):
            np.testing.assert_array_equal(now[name], value, err_msg=name)
        else:  # another processor: float32 rounding apart
            np.testing.assert_allclose(now[name], value, rtol=2e-5, atol=2e-6, err_msg=name)


# --- shared tiny runs -------------------------------------------------------------------

import jax.numpy as jnp  # noqa: E402

import w2s_jax as w2s  # noqa: E402
from w2s_jax.engines.run import run_key  # noqa: E402
from w2s_jax.model.config import ConfigError  # noqa: E402
from w2s_jax.training.batches import batch_key, batch_mask, steps_per_epoch  # noqa: E402

DATA = dict(d=48, mu_norm=4.0, nu_norm=4.0, sigma_p=1.0)
TRAIN = dict(n_st=20, m=4, n_wk=32, T_wk=20, n_test=64, T=24, record_every=6)
_run = jax.jit(w2s.run, static_argnums=0)


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def _split(n_max=None, **train):
    return w2s.split(w2s.DataConfig(**DATA), w2s.TrainConfig(**(TRAIN | train)), n_max=n_max)


def _assert_same(a, b, atol=1e-10, rtol=1e-9):
    for name in a._fields:
        x, y = np.asarray(getattr(a, name), float), np.asarray(getattr(b, name), float)
        np.testing.assert_allclose(x, y, atol=atol, rtol=rtol, err_msg=name)


# --- mini-batch SGD ---------------------------------------------------------------------


@pytest.mark.parametrize("n_st,batch_size", [(20, 6), (17, 4), (9, 9)])
def test_each_epoch_visits_every_real_point_once(n_st, batch_size):
    static, params = _split(n_max=24, n_st=n_st, batch_size=batch_size)
    mask = jnp.arange(static.n_max) < n_st
    key = batch_key(run_key(0, 1))
    per_epoch = int(steps_per_epoch(params))
    assert per_epoch == -(-n_st // batch_size)
    epochs = []
    for epoch in range(2):
        masks = np.stack(
            [
                np.asarray(batch_mask(static, params, key, mask, epoch * per_epoch + j))
                for j in range(per_epoch)
            ]
        )
        assert not masks[:, n_st:].any(), "a padded point entered a batch"
        np.testing.assert_array_equal(masks.sum(axis=0)[:n_st], 1)
        sizes = masks.sum(axis=1)
        assert np.all(sizes[:-1] == batch_size) and sizes[-1] == n_st - batch_size * (per_epoch - 1)
        epochs.append(masks)
    if per_epoch > 1:
        assert not np.array_equal(epochs[0], epochs[1]), "each epoch draws its own order"


def test_batches_do_not_depend_on_the_padded_size():
    key = batch_key(run_key(0, 2))
    for step in range(5):
        small, large = (
            batch_mask(*_split(n_max=n, n_st=13, batch_size=5), key, jnp.arange(n) < 13, step)
            for n in (13, 40)
        )
        np.testing.assert_array_equal(np.asarray(small), np.asarray(large)[:13])


def test_minibatch_runs_are_padding_invariant_and_differ_from_full_batch():
    key = run_key(0, 3)
    exact = _run(*_split(batch_size=6), key)
    padded = _run(*_split(n_max=32, batch_size=6), key)
    _assert_same(exact, padded, atol=1e-6, rtol=1e-5)
    full = _run(*_split(), key)
    assert not np.allclose(np.asarray(full.train_loss), np.asarray(exact.train_loss))


def test_batch_size_n_st_is_full_batch(x64):
    key = run_key(0, 4)
    full = _run(*_split(n_max=24, dtype="float64"), key)
    for batch_size in (20, 50):  # equal to n_st, and larger (clipped to n_st)
        _assert_same(full, _run(*_split(n_max=24, dtype="float64", batch_size=batch_size), key))


# --- a trained second layer -------------------------------------------------------------


def test_gradient_of_the_second_layer_matches_its_closed_form(x64):
    """`dL/da_{s,r} = -(1/n) sum_i sigmoid(-yhat_i f_i) yhat_i (±1)_s sum_p ReLU(<w_{s,r}, x_ip>)`
    (`+1` for the `+1` branch, `-1` for the other)."""
    keys = jax.random.split(jax.random.key(0), 4)
    n, m, d = 12, 3, 10
    X = jax.random.normal(keys[0], (n, 3, d), jnp.float64)
    W = jax.random.normal(keys[1], (2, m, d), jnp.float64)
    a = jax.random.uniform(keys[2], (2, m), jnp.float64, 0.2, 1.0)
    yhat = jnp.where(jax.random.bernoulli(keys[3], shape=(n,)), 1.0, -1.0)

    def loss(a):
        return jnp.mean(jax.nn.softplus(-yhat * w2s.ReLUCNN(W, a=a)(X)))

    activations = jax.nn.relu(jnp.einsum("srd,npd->nsrp", W, X)).sum(axis=3)  # (n, 2, m)
    f = jnp.einsum("nsr,sr->ns", activations, a) @ jnp.array([1.0, -1.0])
    weight = -jax.nn.sigmoid(-yhat * f) * yhat / n
    closed = jnp.einsum("n,nsr->sr", weight, activations) * jnp.array([1.0, -1.0])[:, None]
    np.testing.assert_allclose(np.asarray(jax.grad(loss)(a)), np.asarray(closed), rtol=1e-12)
    # With a at the fixed scale, the network is the fixed-second-layer one.
    fixed = w2s.ReLUCNN(W)(X)
    np.testing.assert_allclose(w2s.ReLUCNN(W, a=jnp.full((2, m), 1 / m))(X), fixed, rtol=1e-12)


def test_one_step_of_the_second_layer_in_the_engine(x64):
    """After one GD step, `a = 1/m - eta_a · dL/da` with the closed form on the run's draws."""
    from w2s_jax.model.samples import init_filters, sample_all
    from w2s_jax.training.teacher import train_weak
    from w2s_jax.training.updates import predict

    eta_a = 0.7
    static, params = _split(
        dtype="float64", second_layer="trained", eta_a=eta_a, T=1, record_every=1
    )
    key = run_key(0, 5)
    traj = _run(static, params, key)
    weak_set, train, _ = sample_all(static, params, key)
    yhat = predict(train_weak(static, params, weak_set)(train.X)).astype(jnp.float64)
    W0 = init_filters(static, params, key)
    m = static.m
    activations = jax.nn.relu(jnp.einsum("srd,npd->nsrp", W0, train.X)).sum(axis=3)
    f = activations.sum(axis=2) @ jnp.array([1.0, -1.0]) / m
    weight = -jax.nn.sigmoid(-yhat * f) * yhat / train.X.shape[0]
    grad = jnp.einsum("n,nsr->sr", weight, activations) * jnp.array([1.0, -1.0])[:, None]
    a1 = 1 / m - eta_a * grad
    np.testing.assert_allclose(traj.a_mean_pos, [1 / m, a1[0].mean()], rtol=1e-10)
    np.testing.assert_allclose(traj.a_mean_neg, [1 / m, a1[1].mean()], rtol=1e-10)
    np.testing.assert_allclose(traj.a_min_pos, [1 / m, a1[0].min()], rtol=1e-10)
    np.testing.assert_allclose(traj.a_min_neg, [1 / m, a1[1].min()], rtol=1e-10)


def test_fixed_second_layer_records_its_scale_and_trained_moves():
    key = run_key(0, 6)
    fixed = _run(*_split(output_scale="1"), key)
    np.testing.assert_array_equal(np.asarray(fixed.a_mean_pos), 1.0)
    np.testing.assert_array_equal(np.asarray(fixed.a_min_neg), 1.0)
    trained = _run(*_split(second_layer="trained", eta=0.5), key)
    assert abs(float(trained.a_mean_pos[-1]) - 0.25) > 1e-4
    assert not np.allclose(np.asarray(trained.test_acc), np.asarray(fixed.test_acc)) or not (
        np.allclose(np.asarray(trained.train_loss), np.asarray(fixed.train_loss))
    )


def test_a_trained_layer_with_step_zero_is_the_fixed_layer(x64):
    key = run_key(0, 9)
    fixed = _run(*_split(dtype="float64", n_max=24), key)
    frozen = _run(*_split(dtype="float64", n_max=24, second_layer="trained", eta_a=0.0), key)
    _assert_same(fixed, frozen)


# --- the Gram engine follows both -------------------------------------------------------


@pytest.mark.parametrize(
    "switches",
    [
        dict(batch_size=6),
        dict(batch_size=7, second_layer="trained", eta_a=0.3, optimizer="momentum"),
    ],
)
def test_gram_engine_reproduces_direct_engine_beyond_the_theorems(x64, switches):
    static, params = _split(n_max=24, dtype="float64", eta=0.5, **switches)
    key = run_key(0, 8)
    direct = jit_as_users(w2s.run)(static, params, key)
    gram = jit_as_users(w2s.run)(static._replace(engine="gram"), params, key)
    assert np.all(np.asarray(direct.finite))
    assert 0 < float(direct.train_loss[-1]) < float(direct.train_loss[0])
    _assert_same(direct, gram)


# --- config -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad,key",
    [
        (dict(batch_size=-1), "batch_size"),
        (dict(batch_size=2.5), "batch_size"),
        (dict(second_layer="learned"), "second_layer"),
        (dict(eta_a=-0.1), "eta_a"),
    ],
)
def test_bad_switches_name_their_key(bad, key):
    with pytest.raises(ConfigError, match=f"^{key}:"):
        w2s.TrainConfig(**bad)


def test_defaults_and_eta_a_follows_eta():
    cfg = w2s.TrainConfig(eta=0.3)
    assert (cfg.batch_size, cfg.second_layer, cfg.eta_a) == (0, "fixed", 0.3)
    static, params = _split(batch_size=5)
    assert static.minibatch and int(params.batch_size) == 5
    assert not _split()[0].minibatch


# --- K classes --------------------------------------------------------------------------

from w2s_jax.engines import multiclass  # noqa: E402
from w2s_jax.engines.run import run_engine  # noqa: E402
from w2s_jax.model.data import sample_keys  # noqa: E402
from w2s_jax.model.multiclass import (  # noqa: E402
    ClassesLinearCNN,
    ClassesReLUCNN,
    class_signals,
    sample_classes_from_keys,
)


def _split_classes(n_classes, n_max=None, data=None, **train):
    return w2s.split(
        w2s.DataConfig(**(DATA | dict(n_classes=n_classes) | (data or {}))),
        w2s.TrainConfig(**(TRAIN | train)),
        n_max=n_max,
    )


@pytest.mark.parametrize(
    "switches", [dict(), dict(batch_size=7, second_layer="trained", eta_a=0.3, eta=0.5)]
)
def test_two_classes_coincide_with_the_binary_model_at_half_the_weak_step(x64, switches):
    """Softmax on two logits is the logistic loss of their difference, so the strong model is
    the binary one; the weak model's two vectors move their difference at twice `eta_wk`."""
    key = run_key(0, 10)
    binary = _run(*_split(n_max=24, dtype="float64", eta_wk=0.2, **switches), key)
    static, params = _split_classes(2, n_max=24, dtype="float64", eta_wk=0.1, **switches)
    classes = jax.jit(run_engine, static_argnums=(0, 1))(multiclass.ENGINE, static, params, key)
    assert 0 < float(binary.train_loss[-1]) < float(binary.train_loss[0])
    _assert_same(binary, classes, atol=1e-9, rtol=1e-8)
    # The weak models themselves: w_0 - w_1 at eta_wk is the binary w at 2·eta_wk, not at eta_wk.
    from w2s_jax.engines.multiclass import sample_all_classes, train_weak_classes
    from w2s_jax.model.samples import sample_all
    from w2s_jax.training.teacher import train_weak

    weak_classes = train_weak_classes(static, params, sample_all_classes(static, params, key)[0])
    difference = np.asarray(weak_classes.w[0] - weak_classes.w[1])
    for eta_wk, same in ((0.2, True), (0.1, False)):
        b_static, b_params = _split(n_max=24, dtype="float64", eta_wk=eta_wk, **switches)
        w = np.asarray(train_weak(b_static, b_params, sample_all(b_static, b_params, key)[0]).w)
        assert np.allclose(difference, w, rtol=1e-9, atol=1e-12) == same


def _hard_only_accuracy(w: np.ndarray, nu_norm: float = 1.0) -> float:
    """Noise-free weak accuracy on hard-only data: the mean over classes y and signs eps."""
    K = w.shape[0]
    signals = np.asarray(class_signals(K, w.shape[1], 1.0, nu_norm, jnp.float64))
    correct = []
    for y in range(K):
        for eps in (1, -1):
            X = np.stack([eps * signals[K + y], eps * signals[K + y], 0 * signals[0]])[None]
            correct.append(int(np.argmax(np.asarray(ClassesLinearCNN(jnp.asarray(w))(X))) == y))
    return float(np.mean(correct))


@pytest.mark.slow
def test_proposition_2_1_with_k_classes_caps_hard_accuracy_at_one_half(x64):
    """For K = 2 every weight set scores exactly 1/2 on hard-only data; for K > 2 not 1/K:
    anything in [0, 1/2] (argmax of `u` and of `-u` cannot both be the true class)."""
    rng = np.random.default_rng(0)
    for K in (2, 3, 5):
        d = 2 * K + 3
        scores = [_hard_only_accuracy(rng.normal(size=(K, d))) for _ in range(300)]
        assert max(scores) <= 0.5
        if K == 2:
            assert set(scores) == {0.5}
        else:
            assert min(scores) < 0.5 and len(set(scores)) > 2
    for K in (3, 5):
        d = 2 * K
        nu = np.eye(2 * K, d)[K:]
        assert _hard_only_accuracy(nu) == 0.5  # w_k = nu_k: right for eps = +1 only
        assert _hard_only_accuracy(np.zeros((K, d))) == 1 / K  # ties go to class 0
        middle = np.zeros((K, d))  # <w_y, nu_y> between the others': never the argmax
        for y in range(K):
            middle[(y + 1) % K] += nu[y]
            middle[(y + 2) % K] -= nu[y]
        assert _hard_only_accuracy(middle) == 0.0


def test_proposition_2_2_with_k_classes_relu_filters_separate_hard_data(x64):
    """Filters `+nu_k` and `-nu_k` in class k's branch classify every hard-only sample."""
    K, d, n = 4, 40, 400
    keys = sample_keys(jax.random.key(1), n)
    data = sample_classes_from_keys(
        keys, d, K, p_e=0.0, p_h=1.0, mu_norm=5.0, nu_norm=5.0, sigma_p=0.05, dtype=jnp.float64
    )
    nu = class_signals(K, d, 5.0, 5.0, jnp.float64)[K:]
    W = jnp.stack([nu, -nu], axis=1)  # (K, 2, d)
    accuracy = np.mean(np.asarray(jnp.argmax(ClassesReLUCNN(W)(data.X), axis=1) == data.y))
    assert accuracy == 1.0
    assert set(np.unique(np.asarray(data.y))) == set(range(K))
    weak = ClassesLinearCNN(nu / 25.0)
    assert np.mean(np.asarray(jnp.argmax(weak(data.X), axis=1) == data.y)) < 0.6


def test_k_classes_run_records_padding_invariant_and_learns():
    static, params = _split_classes(3, eta=0.5, T=30, record_every=10)
    assert static.signal_dims == 6 and static.n_classes == 3
    key = run_key(0, 11)
    exact = _run(static, params, key)
    padded = _run(*_split_classes(3, n_max=32, eta=0.5, T=30, record_every=10), key)
    _assert_same(exact, padded, atol=1e-6, rtol=1e-5)
    assert exact.gamma.shape == (len(static.record_steps), 3, static.m, 6)
    assert np.all(np.asarray(exact.finite))
    assert float(exact.train_loss[-1]) < float(exact.train_loss[0])
    assert float(exact.weak_test_acc) > 1 / 3


@pytest.mark.parametrize(
    "data,train,key",
    [
        (dict(n_classes=1), dict(), "n_classes"),
        (dict(n_classes=2.5), dict(), "n_classes"),
        (dict(n_classes=30, d=40), dict(), "n_classes"),
        (dict(n_classes=3, easy_layout="antipodal"), dict(), "easy_layout"),
        (dict(n_classes=3), dict(engine="gram"), "engine"),
    ],
)
def test_bad_class_configs_name_their_key(data, train, key):
    from w2s_jax.sweeping.config_file import load_config

    with pytest.raises(ConfigError, match=f"{key}:"):
        load_config(dict(data=DATA | data, train=train))


def test_sample_classes_draws_uniform_classes_and_sample_refuses_k_classes():
    cfg = w2s.DataConfig(d=16, n_classes=5)
    data = w2s.sample_classes(jax.random.key(0), 2000, cfg)
    counts = np.bincount(np.asarray(data.y), minlength=5)
    assert counts.min() > 330 and counts.max() < 470  # 400 ± ~4 sd
    X = np.asarray(data.X)
    assert np.all(X[:, 2, :10] == 0.0) and np.all(X[:, :2, 10:] == 0.0)
    with pytest.raises(ConfigError, match="^n_classes:"):
        w2s.sample(jax.random.key(0), 4, cfg)


def test_wishart_path_runs_minibatches_and_a_trained_layer():
    """The Wishart path shares `train_in_gram`: both switches reach it (same law, own draws)."""
    static, params = _split(
        engine="gram", gram_noise="wishart", batch_size=6, second_layer="trained", eta=0.5
    )
    traj = _run(static, params, run_key(0, 12))
    assert np.all(np.asarray(traj.finite))
    assert float(traj.train_loss[-1]) < float(traj.train_loss[0])
    assert abs(float(traj.a_mean_pos[-1]) - 0.25) > 1e-4
