"""The weak-to-strong pipeline of SPEC §3 as one pure, jittable `run(static, params, key)`.

1. train the weak `LinearCNN` on `n_wk` true-labelled samples (full-batch GD, logistic loss);
2. pseudo-label `n_max` fresh samples, of which the first `n_st` (traced) are used;
3. train the strong `ReLUCNN` on the pseudo-labels (full-batch GD, masked mean loss);
4. record test and train metrics at `static.record_steps` with a nested scan.

Grids and seeds are `vmap`s applied from outside; nothing here knows about them.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from w2s_jax.config import Params, Static
from w2s_jax.data import BOTH, EASY, HARD, SIGNAL_DIMS, Data, sample_with, signal_vectors
from w2s_jax.models import HIGHEST, LinearCNN, ReLUCNN

__all__ = ["run", "Trajectory", "logistic_loss", "make_optimizer", "predict", "sample_all",
           "train_weak", "init_filters", "record", "scan_records", "signal_components",
           "segment_lengths", "run_key"]


def logistic_loss(z):
    """`log(1 + e^{-z})`, computed stably as `softplus(-z)`."""
    return jax.nn.softplus(-z)


def predict(logits):
    """Labels in {+1, -1}; a tie gives +1 (SPEC §3)."""
    return jnp.where(logits >= 0, 1, -1)


def _momentum(learning_rate):
    return optax.sgd(learning_rate, momentum=0.9)


_OPTIMIZERS = {"sgd": optax.sgd, "momentum": _momentum, "adam": optax.adam}


def make_optimizer(name: str, learning_rate) -> optax.GradientTransformation:
    """An optax update rule whose step size stays a traced, sweepable hyperparameter."""
    return optax.inject_hyperparams(_OPTIMIZERS[name])(learning_rate=learning_rate)


class Trajectory(NamedTuple):
    """What one run returns. Per-record fields have a leading axis over `static.record_steps`.

    `gamma[k, s, r, u] = <w_{s,r}(t_k) - w_{s,r}(0), u> / |u|^2` for the signals
    `u = (mu_{+1}, mu_{-1}, nu_{+1}, nu_{-1})`. `rho_correct` / `rho_wrong`: the mean over
    correctly / wrongly pseudo-labelled training points `i` of
    `max_r <w_{yhat_i,r}(t) - w_{yhat_i,r}(0), xi_i> / |xi_i|^2` (noise memorization by the
    branch that the pseudo-label rewards).
    """

    weak_test_acc: Float[Array, ""]
    weak_test_acc_hard: Float[Array, ""]
    pseudo_label_acc: Float[Array, ""]
    n_wrong_pseudo: Int[Array, ""]
    test_acc: Float[Array, " R"]
    test_acc_easy: Float[Array, " R"]
    test_acc_hard: Float[Array, " R"]
    test_acc_both: Float[Array, " R"]
    train_acc_pseudo: Float[Array, " R"]
    train_acc_true: Float[Array, " R"]
    train_loss: Float[Array, " R"]
    label_correction: Float[Array, " R"]
    gamma_mu: Float[Array, " R"]
    gamma_nu_pos: Float[Array, " R"]
    gamma_nu_neg: Float[Array, " R"]
    rho_correct: Float[Array, " R"]
    rho_wrong: Float[Array, " R"]
    finite: Bool[Array, " R"]
    gamma: Float[Array, "R 2 m 4"]


#: Per-record scalar columns of a Trajectory (the trajectories.parquet metrics).
RECORD_FIELDS = ("test_acc", "test_acc_easy", "test_acc_hard", "test_acc_both",
                 "train_acc_pseudo", "train_acc_true", "train_loss", "label_correction",
                 "gamma_mu", "gamma_nu_pos", "gamma_nu_neg", "rho_correct", "rho_wrong")


def _masked_mean(values, mask):
    """Mean of `values` where `mask`; NaN where the mask is empty (e.g. no hard-only data)."""
    mask = mask.astype(values.dtype)
    return jnp.sum(values * mask) / jnp.sum(mask)


def sample_all(static: Static, params: Params, key: PRNGKeyArray) -> tuple[Data, Data, Data]:
    """The weak model's training set, the strong model's (padded) training set, the test set."""
    kw = dict(p_e=params.p_e, p_h=params.p_h, mu_norm=params.mu_norm, nu_norm=params.nu_norm,
              sigma_p=params.sigma_p, easy_layout=static.easy_layout,
              hard_sign=static.hard_sign, dtype=jnp.dtype(static.dtype))
    keys = [jax.random.fold_in(key, i) for i in range(3)]
    return (sample_with(keys[0], static.n_wk, static.d, **kw),
            sample_with(keys[1], static.n_max, static.d, **kw),
            sample_with(keys[2], static.n_test, static.d, **kw))


def init_filters(static: Static, params: Params, key: PRNGKeyArray) -> Float[Array, "2 m d"]:
    """`W(0) ~ N(0, sigma_0^2 I)`, from the run key's fourth stream."""
    z = jax.random.normal(jax.random.fold_in(key, 3), (2, static.m, static.d),
                          dtype=jnp.dtype(static.dtype))
    return params.sigma_0 * z


def train_weak(static: Static, params: Params, data: Data) -> LinearCNN:
    """Full-batch GD on the mean logistic loss from `w = 0` (SPEC §3 step 1)."""
    # f_wk is linear in the patch sum, so the weak model only ever sees sum_p x_p.
    patch_sum = data.X.sum(axis=1)
    y = data.y.astype(patch_sum.dtype)
    optimizer = make_optimizer(static.optimizer_wk, params.eta_wk)

    def loss(w):
        return jnp.mean(logistic_loss(y * jnp.dot(patch_sum, w, precision=HIGHEST)))

    def step(state, _):
        w, opt_state = state
        updates, opt_state = optimizer.update(jax.grad(loss)(w), opt_state, w)
        return (optax.apply_updates(w, updates), opt_state), None

    w0 = jnp.zeros(static.d, patch_sum.dtype)
    (w, _), _ = jax.lax.scan(step, (w0, optimizer.init(w0)), length=static.T_wk)
    return LinearCNN(w)


def segment_lengths(static: Static) -> Int[Array, " R-1"]:
    """Number of GD steps between consecutive record points."""
    steps = jnp.asarray(static.record_steps, dtype=jnp.int32)
    return steps[1:] - steps[:-1]


def scan_records(static: Static, weights0, optimizer: optax.GradientTransformation, gd_step,
                 measure) -> dict:
    """The nested scan every engine records with: measure at step 0, then an outer scan over
    record points whose body runs `gd_step` for the steps in between and measures.

    `gd_step(i, (weights, opt_state))` is one GD step; `measure(weights)` returns the dict of
    `record`. Returns that dict with a leading axis over `static.record_steps`.
    """
    def segment(state, length):
        state = jax.lax.fori_loop(0, length, gd_step, state)
        return state, measure(state[0])

    first = measure(weights0)
    _, rest = jax.lax.scan(segment, (weights0, optimizer.init(weights0)), segment_lengths(static))
    return jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), first, rest)


def signal_components(delta_on_signal_span, signals):
    """`gamma[s, r, u] = <delta_{s,r}, u> / |u|^2` for the four signals (`(4, k)` each)."""
    return jnp.einsum("srk,uk->sru", delta_on_signal_span, signals, precision=HIGHEST) / jnp.sum(
        signals * signals, axis=1)[None, None]


def record(*, train_logits, test_logits, train_loss, finite, train: Data, test: Data,
           pseudo_labels, mask, gamma, rho) -> dict:
    """The metrics of one record point, common to every engine.

    Args:
        train_logits: `(n_max,)` student logits on the training set.
        test_logits: `(n_test,)` student logits on the test set.
        gamma: `(2, m, 4)` signal components of `W - W(0)`.
        rho: `(2, m, n_max)` noise components `<w_{s,r} - w_{s,r}(0), xi_i> / |xi_i|^2`.
    """
    test_correct = (predict(test_logits) == test.y).astype(test_logits.dtype)
    train_pred = predict(train_logits)
    wrong = mask & (pseudo_labels != train.y)
    right = mask & (pseudo_labels == train.y)
    # rho of the branch that the pseudo-label rewards: index 0 for yhat = +1, 1 for yhat = -1.
    rho_own = jnp.where(pseudo_labels == 1, rho[0].max(axis=0), rho[1].max(axis=0))
    own_nu = jnp.stack([gamma[0, :, 2], gamma[1, :, 3]])  # (2, m)
    dtype = test_logits.dtype
    return dict(
        test_acc=jnp.mean(test_correct),
        test_acc_easy=_masked_mean(test_correct, test.category == EASY),
        test_acc_hard=_masked_mean(test_correct, test.category == HARD),
        test_acc_both=_masked_mean(test_correct, test.category == BOTH),
        train_acc_pseudo=_masked_mean((train_pred == pseudo_labels).astype(dtype), mask),
        train_acc_true=_masked_mean((train_pred == train.y).astype(dtype), mask),
        train_loss=train_loss,
        label_correction=_masked_mean((train_pred == train.y).astype(dtype), wrong),
        gamma_mu=0.5 * (gamma[0, :, 0].max() + gamma[1, :, 1].max()),
        gamma_nu_pos=own_nu.max(axis=1).mean(),
        gamma_nu_neg=(-own_nu).max(axis=1).mean(),
        rho_correct=_masked_mean(rho_own, right),
        rho_wrong=_masked_mean(rho_own, wrong),
        finite=finite,
        gamma=gamma,
    )


def _train_strong_direct(static, params, train, test, pseudo_labels, mask, W0):
    """Strong training in the ambient space: `~6·m·n_max·d` flops per step.

    Only the noise patch needs all `d` coordinates of a filter (`ReLUCNN.split_patch_logits`).
    """
    dtype = W0.dtype
    n_st = params.n_st.astype(dtype)
    pseudo = pseudo_labels.astype(dtype)
    signals = signal_vectors(static.d, params.mu_norm, params.nu_norm, static.easy_layout, dtype)
    noise = train.noise
    train_signal, test_signal = train.X[:, :2, :SIGNAL_DIMS], test.X[:, :2, :SIGNAL_DIMS]
    noise_sq = jnp.maximum(jnp.sum(noise * noise, axis=1), jnp.finfo(dtype).tiny)
    optimizer = make_optimizer(static.optimizer, params.eta)

    def loss(W):
        logits = ReLUCNN(W, static.output_scale).split_patch_logits(train_signal, noise)
        return jnp.sum(jnp.where(mask, logistic_loss(pseudo * logits), 0.0)) / n_st, logits

    def gd_step(_, state):
        W, opt_state = state
        grads, _ = jax.grad(loss, has_aux=True)(W)
        updates, opt_state = optimizer.update(grads, opt_state, W)
        return optax.apply_updates(W, updates), opt_state

    def measure(W):
        train_loss, train_logits = loss(W)
        delta = W - W0
        gamma = signal_components(delta, signals)
        rho = jnp.einsum("srd,nd->srn", delta, noise, precision=HIGHEST) / noise_sq[None, None]
        return record(
            train_logits=train_logits,
            test_logits=ReLUCNN(W, static.output_scale).split_patch_logits(test_signal, test.noise),
            train_loss=train_loss, finite=jnp.isfinite(train_loss) & jnp.all(jnp.isfinite(W)),
            train=train, test=test, pseudo_labels=pseudo_labels, mask=mask, gamma=gamma, rho=rho)

    return scan_records(static, W0, optimizer, gd_step, measure)


def run(static: Static, params: Params, key: PRNGKeyArray) -> Trajectory:
    """One weak-to-strong run (SPEC §3). Pure and jittable with `static` static.

    Returns the recorded trajectory; `static.record_steps` gives the step of each record.
    """
    mask = jnp.arange(static.n_max) < params.n_st
    dtype = jnp.dtype(static.dtype)
    if static.gram_noise == "wishart":
        # Noise inner products drawn from their law: no (n, 3, d) array is ever formed.
        from w2s_jax.gram import run_wishart
        train, test, pseudo_labels, weak_test_pred, records = run_wishart(static, params, key, mask)
    else:
        weak_set, train, test = sample_all(static, params, key)
        weak = train_weak(static, params, weak_set)
        pseudo_labels = predict(weak(train.X))
        weak_test_pred = predict(weak(test.X))
        W0 = init_filters(static, params, key)
        if _use_gram(static):
            from w2s_jax.gram import train_strong_gram
            records = train_strong_gram(static, params, train, test, pseudo_labels, mask, W0)
        else:
            records = _train_strong_direct(static, params, train, test, pseudo_labels, mask, W0)
    weak_test_correct = (weak_test_pred == test.y).astype(dtype)

    return Trajectory(
        weak_test_acc=jnp.mean(weak_test_correct),
        weak_test_acc_hard=_masked_mean(weak_test_correct, test.category == HARD),
        pseudo_label_acc=_masked_mean((pseudo_labels == train.y).astype(dtype), mask),
        n_wrong_pseudo=jnp.sum(mask & (pseudo_labels != train.y)),
        **records,
    )


def _use_gram(static: Static) -> bool:
    from w2s_jax.gram import gram_is_cheaper
    return static.engine == "gram" or (static.engine == "auto" and gram_is_cheaper(static))


def run_key(base_seed: int, seed: int) -> PRNGKeyArray:
    """The key of seed index `seed`: `fold_in(key(base_seed), seed)`.

    A cell's draws depend only on (base_seed, seed), never on the grid around it, so cells
    that differ only in parameters share their random draws.
    """
    return jax.random.fold_in(jax.random.key(base_seed), seed)
