"""The Wishart path: the Gram engine with every noise inner product drawn from its law.

The weak model's noise, the strong model's noise and the initial filters are drawn as rows of
a Bartlett factor (their coordinates in an orthonormal basis of their span), and each test
noise vector as its (Gaussian) projection onto that span. Nothing of size `d` is ever formed,
so `d = 10^6` costs what `d = 10^4` does: the same law as sampled noise, not the same draws.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from w2s_jax.engines.gram import NoiseGram, check_optimizer, cross, train_in_gram
from w2s_jax.model.config import Params, Static
from w2s_jax.model.networks import HIGHEST
from w2s_jax.training.pipeline import sample_all, train_weak
from w2s_jax.training.rules import predict

__all__ = [
    "NoiseCoordinates",
    "bartlett_factor",
    "sample_wishart",
    "sample_noise_coordinates",
    "run_wishart",
    "WISHART_STREAM",
]

#: `fold_in` index of the Wishart noise draws (0-2 are the data sets, 3 the initial filters).
WISHART_STREAM = 4


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
    filters_signal: Float[Array, "2 m k"]


def sample_noise_coordinates(static: Static, params: Params, key: PRNGKeyArray) -> NoiseCoordinates:
    """Draw the weak, training and test noise and the initial filters from their joint law.

    Cost `O(N1² + n_test·N1)` draws with `N1 = n_wk + n_max + 2m`, independent of `d`.
    """
    dtype = jnp.dtype(static.dtype)
    dof = static.d - static.signal_dims  # xi ~ N(0, sigma_p² (I - P)) lives in d - k dimensions
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
    filters_signal = jax.random.normal(
        jax.random.fold_in(key, 3), (2, static.m, static.signal_dims), dtype
    )
    return NoiseCoordinates(
        weak=params.sigma_p * rows[:n_wk, :kw],
        train=params.sigma_p * rows[n_wk : n_wk + n, :kt],
        filters=params.sigma_0 * rows[n_wk + n :],
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
    check_optimizer(static)
    k = static.signal_dims
    signal_static = static._replace(d=k)
    weak_set, train, test = sample_all(signal_static, params, key)
    if coords is None:
        coords = sample_noise_coordinates(static, params, key)

    weak_sums = jnp.concatenate([weak_set.X.sum(axis=1), coords.weak], axis=1)
    weak_static = static._replace(d=weak_sums.shape[1])
    w = train_weak(weak_static, params, weak_set._replace(X=weak_sums[:, None, :])).w

    def weak_logits(data, noise):
        return (
            jnp.dot(data.X.sum(axis=1), w[:k], precision=HIGHEST) + cross(noise, w[None, k:])[:, 0]
        )

    pseudo_labels = predict(weak_logits(train, coords.train))
    weak_test_pred = predict(weak_logits(test, coords.test))

    two_m = coords.filters.shape[0]
    gram = NoiseGram(
        train=cross(coords.train, coords.train),
        train_test=cross(coords.train, coords.test),
        filters_train=cross(coords.filters, coords.train).reshape(2, two_m // 2, -1),
        filters_test=cross(coords.filters, coords.test).reshape(2, two_m // 2, -1),
        filters_signal=coords.filters_signal,
    )
    records = train_in_gram(static, params, train, test, pseudo_labels, mask, gram)
    return train, test, pseudo_labels, weak_test_pred, records
