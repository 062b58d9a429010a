"""The Gram (kernel-space) engine: strong-model training at a per-step cost independent of `d`.

Gradient descent only ever adds training patches to a filter, and every patch is either a
signal patch on e1..e4 or a noise patch `xi_i`. So, exactly,

    w_{s,r}(t) = w_{s,r}(0) + sum_{k<4} A_{s,r,k} e_k + sum_i C_{s,r,i} xi_i,

and every inner product the dynamics and the evaluation need is a combination of
`<xi_i, xi_j>` (training noise), `<xi_i, xi'_j>` (training x test noise), `<w_{s,r}(0), xi>`
and the signal coordinates. The signal-noise decomposition of the proofs comes out exactly:
`gamma_{s,r,u} = <A_{s,r}, u> / |u|^2` and `rho_{s,r,i} = (C G)_{s,r,i} / G_ii`.

An optax rule that is linear in the gradient (`sgd`, `momentum`) commutes with this change of
coordinates, so it runs on the coefficients `(A, C)` unchanged; Adam rescales each ambient
coordinate and is refused (`ConfigError`).

The noise Gram matrix comes either from the sampled noise (`gram_noise="sampled"`, the same
draws as the direct engine) or from its law (`"wishart"`): the weak model's noise, the
strong model's noise and the initial filters are drawn as rows of a Bartlett factor (their
coordinates in an orthonormal basis of their span), and each test noise vector as its
(Gaussian) projection onto that span. Nothing of size `d` is ever formed.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, PRNGKeyArray

from w2s_jax.config import GRAM_OPTIMIZERS, ConfigError, Params, Static
from w2s_jax.data import SIGNAL_DIMS, Data, signal_vectors
from w2s_jax.models import HIGHEST, output_scale_factor, relu
from w2s_jax.run import (logistic_loss, make_optimizer, predict, record, sample_all,
                         scan_records, signal_components, train_weak)

__all__ = ["NoiseGram", "NoiseCoordinates", "gram_from_noise", "train_strong_gram",
           "train_in_gram", "bartlett_factor", "sample_wishart", "sample_noise_coordinates",
           "run_wishart", "engine_flops", "gram_is_cheaper", "WISHART_STREAM"]

#: `fold_in` index of the Wishart noise draws (0-2 are the data sets, 3 the initial filters).
WISHART_STREAM = 4


class NoiseGram(NamedTuple):
    """Every inner product of the strong model's dynamics and evaluation.

    Attributes:
        train: `(n_max, n_max)`, `<xi_i, xi_j>` over the training noise.
        train_test: `(n_max, n_test)`, `<xi_i, xi'_j>`.
        filters_train: `(2, m, n_max)`, `<w_{s,r}(0), xi_i>`.
        filters_test: `(2, m, n_test)`, `<w_{s,r}(0), xi'_j>`.
        filters_signal: `(2, m, 4)`, `w_{s,r}(0)` on e1..e4.
    """

    train: Float[Array, "n n"]
    train_test: Float[Array, "n n_test"]
    filters_train: Float[Array, "2 m n"]
    filters_test: Float[Array, "2 m n_test"]
    filters_signal: Float[Array, "2 m 4"]


def _cross(a, b):
    """`a bᵀ` over the leading columns both store (the rest are zero by construction)."""
    width = min(a.shape[-1], b.shape[-1])
    return jnp.matmul(a[:, :width], b[:, :width].T, precision=HIGHEST)


def gram_from_noise(train_noise: Float[Array, "n d"], test_noise: Float[Array, "n_test d"],
                    W0: Float[Array, "2 m d"]) -> NoiseGram:
    """The Gram blocks of sampled noise (`~2·n·(n + n_test + 2m)·d` flops, once per run)."""
    two, m, d = W0.shape
    filters = W0.reshape(two * m, d)
    return NoiseGram(
        train=_cross(train_noise, train_noise),
        train_test=_cross(train_noise, test_noise),
        filters_train=_cross(filters, train_noise).reshape(two, m, -1),
        filters_test=_cross(filters, test_noise).reshape(two, m, -1),
        filters_signal=W0[..., :SIGNAL_DIMS],
    )


def _check_optimizer(static: Static):
    for name in ("optimizer",) + (("optimizer_wk",) if static.gram_noise == "wishart" else ()):
        if getattr(static, name) not in GRAM_OPTIMIZERS:
            raise ConfigError(f"{name}: the Gram engine needs one of {GRAM_OPTIMIZERS}, "
                              f"got {getattr(static, name)!r}")


def train_strong_gram(static: Static, params: Params, train: Data, test: Data, pseudo_labels,
                      mask, W0: Float[Array, "2 m d"]) -> dict:
    """The Gram engine on sampled noise: the same records as the direct engine."""
    _check_optimizer(static)
    gram = gram_from_noise(train.noise, test.noise, W0)
    return train_in_gram(static, params, train, test, pseudo_labels, mask, gram)


def train_in_gram(static: Static, params: Params, train: Data, test: Data, pseudo_labels, mask,
                  gram: NoiseGram) -> dict:
    """Strong training (SPEC §3 step 3) in the coefficients `(A, C)`: `~4·m·n_max²` flops a step.

    Only `train.X[:, :2, :4]`, `test.X[:, :2, :4]` (the signal patches on e1..e4), the labels
    and categories are read from the data; the noise enters through `gram`.
    """
    dtype = gram.train.dtype
    n_st = params.n_st.astype(dtype)
    pseudo = pseudo_labels.astype(dtype)
    train_signal = train.X[:, :2, :SIGNAL_DIMS]
    test_signal = test.X[:, :2, :SIGNAL_DIMS]
    signals = signal_vectors(SIGNAL_DIMS, params.mu_norm, params.nu_norm, static.easy_layout, dtype)
    noise_sq = jnp.maximum(jnp.diagonal(gram.train), jnp.finfo(dtype).tiny)
    scale = output_scale_factor(static.output_scale, static.m)
    optimizer = make_optimizer(static.optimizer, params.eta)

    def preactivations(coef, signal_patches, filters_noise, noise_gram):
        """`<w_{s,r}, x_{i,p}>` as `(n, 2, m, 3)`, the layout of `ReLUCNN`."""
        A, C = coef
        signal_pre = jnp.einsum("srk,npk->nsrp", gram.filters_signal + A, signal_patches,
                                precision=HIGHEST)
        noise_pre = filters_noise + jnp.einsum("srj,jn->srn", C, noise_gram, precision=HIGHEST)
        return jnp.concatenate([signal_pre, jnp.moveaxis(noise_pre, -1, 0)[..., None]], axis=-1)

    def logits_of(pre):
        F = scale * relu(pre).sum(axis=(2, 3))
        return F[:, 0] - F[:, 1]

    def loss_of(pre):
        logits = logits_of(pre)
        return jnp.sum(jnp.where(mask, logistic_loss(pseudo * logits), 0.0)) / n_st, logits

    def gd_step(_, state):
        coef, opt_state = state
        pre = preactivations(coef, train_signal, gram.filters_train, gram.train)
        # The same relu as ReLUCNN, differentiated the same way, so ReLU'(0) agrees with it.
        dpre, _ = jax.grad(loss_of, has_aux=True)(pre)
        grads = (jnp.einsum("nsrp,npk->srk", dpre[..., :2], train_signal, precision=HIGHEST),
                 jnp.moveaxis(dpre[..., 2], 0, -1))
        updates, opt_state = optimizer.update(grads, opt_state, coef)
        return optax.apply_updates(coef, updates), opt_state

    def measure(coef):
        A, C = coef
        train_loss, train_logits = loss_of(
            preactivations(coef, train_signal, gram.filters_train, gram.train))
        test_logits = logits_of(
            preactivations(coef, test_signal, gram.filters_test, gram.train_test))
        gamma = signal_components(A, signals)
        rho = jnp.einsum("srj,jn->srn", C, gram.train, precision=HIGHEST) / noise_sq[None, None]
        finite = jnp.isfinite(train_loss) & jnp.all(jnp.isfinite(A)) & jnp.all(jnp.isfinite(C))
        return record(train_logits=train_logits, test_logits=test_logits, train_loss=train_loss,
                      finite=finite, train=train, test=test, pseudo_labels=pseudo_labels,
                      mask=mask, gamma=gamma, rho=rho)

    two, m = gram.filters_signal.shape[:2]
    coef0 = (jnp.zeros((two, m, SIGNAL_DIMS), dtype), jnp.zeros((two, m, train_signal.shape[0]), dtype))
    return scan_records(static, coef0, optimizer, gd_step, measure)


# --- Wishart: the Gram matrix drawn from its law ------------------------------------------


def bartlett_factor(key: PRNGKeyArray, n: int, dof: int, dtype=jnp.float32) -> Float[Array, "n n"]:
    """Lower-triangular `L` with `L Lᵀ ~ Wishart_n(I, dof)` (Bartlett; needs `dof >= n`).

    `L` holds the coordinates of `n` iid `N(0, I_dof)` vectors in the orthonormal basis that
    Gram-Schmidt builds from them: `L_ii ~ chi(dof - i)` (0-based), `L_ij ~ N(0, 1)` for `i > j`.
    """
    if dof < n:
        raise ValueError(f"bartlett_factor: needs dof >= n, got dof={dof}, n={n}")
    k_diag, k_off = jax.random.split(key)
    df = (dof - jnp.arange(n)).astype(dtype)
    diag = jnp.sqrt(jax.random.chisquare(k_diag, df, (n,), dtype=dtype))
    return jnp.tril(jax.random.normal(k_off, (n, n), dtype), -1) + jnp.diag(diag)


def sample_wishart(key: PRNGKeyArray, n: int, dof: int, dtype=jnp.float32) -> Float[Array, "n n"]:
    """A draw with the law of `Z Zᵀ`, `Z` an `n x dof` standard normal matrix, in `O(n³)`."""
    if dof >= n:
        L = bartlett_factor(key, n, dof, dtype)
    else:  # singular Wishart: sampling Z itself is cheaper than n³
        L = jax.random.normal(key, (n, dof), dtype)
    return jnp.matmul(L, L.T, precision=HIGHEST)


class NoiseCoordinates(NamedTuple):
    """Noise vectors as coordinates in an orthonormal basis of the span of (weak, train, filters).

    Columns past a block's width are zero and not stored (the Bartlett factor is triangular);
    the test rows are the projections of the test noise onto that span, which is all the
    weak and strong models can see of them.
    """

    weak: Float[Array, "n_wk kw"]
    train: Float[Array, "n kt"]
    filters: Float[Array, "2m k"]
    test: Float[Array, "n_test k"]
    filters_signal: Float[Array, "2 m 4"]


def sample_noise_coordinates(static: Static, params: Params, key: PRNGKeyArray) -> NoiseCoordinates:
    """Draw the weak, training and test noise and the initial filters from their joint law.

    Cost `O(N1² + n_test·N1)` draws with `N1 = n_wk + n_max + 2m`, independent of `d`.
    """
    dtype = jnp.dtype(static.dtype)
    dof = static.d - SIGNAL_DIMS  # xi ~ N(0, sigma_p² (I - P)) lives in d - 4 dimensions
    n_wk, n, two_m = static.n_wk, static.n_max, 2 * static.m
    n1 = n_wk + n + two_m
    key = jax.random.fold_in(key, WISHART_STREAM)
    k_rows, k_test = jax.random.split(key)
    if dof <= n1:  # the span is all of R^dof: draw the vectors themselves (cost <= N1²)
        rows = jax.random.normal(k_rows, (n1, dof), dtype)
        test = jax.random.normal(k_test, (static.n_test, dof), dtype)
        kw = kt = dof
    else:
        rows = bartlett_factor(k_rows, n1, dof, dtype)
        test = jax.random.normal(k_test, (static.n_test, n1), dtype)
        kw, kt = n_wk, n_wk + n
    filters_signal = jax.random.normal(jax.random.fold_in(key, 3), (2, static.m, SIGNAL_DIMS), dtype)
    return NoiseCoordinates(
        weak=params.sigma_p * rows[:n_wk, :kw],
        train=params.sigma_p * rows[n_wk:n_wk + n, :kt],
        filters=params.sigma_0 * rows[n_wk + n:],
        test=params.sigma_p * test,
        filters_signal=params.sigma_0 * filters_signal,
    )


def run_wishart(static: Static, params: Params, key: PRNGKeyArray, mask, coords=None):
    """SPEC §3 with every noise inner product drawn from its law; no `(n, 3, d)` array exists.

    The labels, categories and signal patches are the sampled path's own (the same key
    streams, drawn at `d = 4`). The weak model trains on its patch sums in coordinates
    `[e1..e4 | span]`, which is exact for update rules linear in the gradient.

    Returns:
        `(train, test, pseudo_labels, weak_test_pred, records)`; `train.X`, `test.X` are
        `(n, 3, 4)` (signal coordinates; the noise lives in the Gram matrix).
    """
    _check_optimizer(static)
    signal_static = static._replace(d=SIGNAL_DIMS)
    weak_set, train, test = sample_all(signal_static, params, key)
    if coords is None:
        coords = sample_noise_coordinates(static, params, key)

    weak_sums = jnp.concatenate([weak_set.X.sum(axis=1), coords.weak], axis=1)
    weak_static = static._replace(d=weak_sums.shape[1])
    w = train_weak(weak_static, params, weak_set._replace(X=weak_sums[:, None, :])).w

    def weak_logits(data, noise):
        return (jnp.dot(data.X.sum(axis=1), w[:SIGNAL_DIMS], precision=HIGHEST)
                + _cross(noise, w[None, SIGNAL_DIMS:])[:, 0])

    pseudo_labels = predict(weak_logits(train, coords.train))
    weak_test_pred = predict(weak_logits(test, coords.test))

    two_m = coords.filters.shape[0]
    gram = NoiseGram(
        train=_cross(coords.train, coords.train),
        train_test=_cross(coords.train, coords.test),
        filters_train=_cross(coords.filters, coords.train).reshape(2, two_m // 2, -1),
        filters_test=_cross(coords.filters, coords.test).reshape(2, two_m // 2, -1),
        filters_signal=coords.filters_signal,
    )
    records = train_in_gram(static, params, train, test, pseudo_labels, mask, gram)
    return train, test, pseudo_labels, weak_test_pred, records


# --- cost model ----------------------------------------------------------------------------


def engine_flops(static: Static) -> dict[str, float]:
    """Analytic flop counts of one run (multiply-add = 2), by engine and noise source.

    Counts matrix products only (sampling, ReLUs and the loss are O(n·m) or O(n·d) a step).
    """
    d, m, n, nt, n_wk = static.d, static.m, static.n_max, static.n_test, static.n_wk
    T, R = static.T, len(static.record_steps)
    weak = 2.0 * 2 * n_wk * d * static.T_wk + 2.0 * 3 * (n + nt) * d
    # Only the noise patch meets all d coordinates (ReLUCNN.split_patch_logits).
    direct = (T * 2 * 2 * (2 * m) * n * (d + 2 * SIGNAL_DIMS)   # forward + backward
              + R * 2 * (2 * m) * ((n + nt) + n + 4) * d)       # logits, rho, gamma
    gram_steps = (T * 2 * (2 * m) * n * n                      # C @ G
                  + R * 2 * (2 * m) * n * (2 * n + nt))         # train, rho, test logits
    sampled_setup = 2.0 * (n * (n + nt) + 2 * m * (n + nt)) * d
    n1 = n_wk + n + 2 * m
    k = min(d - SIGNAL_DIMS, n1)
    kt = min(k, n_wk + n)
    kw = min(k, n_wk)
    wishart_setup = (2.0 * n * n * kt + 2.0 * n * nt * kt + 2.0 * 2 * m * (n + nt) * k
                     + 2.0 * 2 * n_wk * (kw + SIGNAL_DIMS) * static.T_wk + 2.0 * (n + nt) * kw)
    return dict(direct=weak + direct, gram_sampled=weak + sampled_setup + gram_steps,
                gram_wishart=wishart_setup + gram_steps)


def gram_is_cheaper(static: Static) -> bool:
    """For `engine="auto"`: the Gram engine when it needs fewer flops (and the rule allows it)."""
    if static.optimizer not in GRAM_OPTIMIZERS:
        return False
    if static.gram_noise == "wishart":
        return True  # the wishart path exists only in kernel space
    flops = engine_flops(static)
    return flops["gram_sampled"] < flops["direct"]
