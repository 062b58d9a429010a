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
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from w2s_jax.engines.gram import NoiseGram, cross, train_in_gram
from w2s_jax.engines.triangular import staircase_cross, staircase_gram
from w2s_jax.model import streams
from w2s_jax.model.config import Params, Static
from w2s_jax.model.engine_traits import TRAITS
from w2s_jax.model.networks import HIGHEST
from w2s_jax.model.samples import sample_all
from w2s_jax.model.streams import (
    FILTER_REST,
    FILTER_ROWS,
    FILTERS_SIGNAL_STREAM,
    TEST_ON_FILTERS,
    WISHART_STREAM,
)
from w2s_jax.training.interface import Drawn, Engine, Labels
from w2s_jax.training.records import Records
from w2s_jax.training.teacher import train_weak
from w2s_jax.training.updates import predict

__all__ = [
    "ENGINE",
    "sample",
    "teacher",
    "train",
    "noise_gram",
    "NoiseCoordinates",
    "bartlett_factor",
    "block_normal",
    "normal_block",
    "sample_wishart",
    "sample_noise_coordinates",
    "filter_coordinates",
]

#: Side of the blocks the factor's entries are drawn in: entry `(i, j)` comes from the key of
#: block `(i // BLOCK, j // BLOCK)`, so it does not depend on the size of the array it is in.
BLOCK = 128


def normal_block(key: PRNGKeyArray, i, j, dtype=jnp.float32) -> Array:
    """Block `(i, j)` of `block_normal(key, ...)`: its `BLOCK x BLOCK` entries."""
    return streams.normal(jax.random.fold_in(jax.random.fold_in(key, i), j), (BLOCK, BLOCK), dtype)


def block_normal(
    key: PRNGKeyArray, rows: int, cols: int, dtype=jnp.float32, lower: bool = False
) -> Array:
    """`N(0, 1)` entries; entry `(i, j)` depends on `key`, `i` and `j` only (not on the shape).

    `lower=True` draws only the blocks on or below the block diagonal and leaves zeros above
    it (half the draws of a square factor; the drawn entries are the same).
    """
    n_rows, n_cols = -(-rows // BLOCK), -(-cols // BLOCK)

    def block(i, j):
        return normal_block(key, i, j, dtype)

    if lower:
        i, j = np.tril_indices(n_rows, 0, n_cols)
        drawn = jax.vmap(block)(jnp.asarray(i), jnp.asarray(j))
        blocks = jnp.zeros((n_rows, n_cols, BLOCK, BLOCK), dtype).at[i, j].set(drawn)
    else:
        blocks = jax.vmap(lambda i: jax.vmap(lambda j: block(i, j))(jnp.arange(n_cols)))(
            jnp.arange(n_rows)
        )
    return blocks.transpose(0, 2, 1, 3).reshape(n_rows * BLOCK, n_cols * BLOCK)[:rows, :cols]


def bartlett_factor(key: PRNGKeyArray, n: int, dof, dtype=jnp.float32) -> Float[Array, "n n"]:
    """Lower-triangular `L` with `L Lᵀ ~ Wishart_n(I, dof)` (Bartlett); `dof` may be traced.

    `L` holds the coordinates of `n` iid `N(0, I_dof)` vectors in the orthonormal basis that
    Gram-Schmidt builds from them: `L_ii ~ chi(dof - i)` (0-based), `L_ij ~ N(0, 1)` for `i > j`.
    With `dof < n` (singular Wishart) the first `dof` vectors already span `R^dof`: the rows
    from `dof` on have `N(0, 1)` coordinates on the first `dof` columns and zeros after.
    Row `i` depends on `key` and `i` only, so the first rows of a larger factor are a smaller
    factor (`block_normal`, one chi-square key per row).
    """
    k_diag, k_off = jax.random.split(key)
    column = jnp.arange(n)
    df = (dof - column).astype(dtype)
    spans = df >= 1  # column j is a direction of R^dof
    chi = jax.vmap(lambda i, f: streams.chisquare(jax.random.fold_in(k_diag, i), f, dtype))(
        column, jnp.where(spans, df, 1.0)
    )
    lower = jnp.tril(block_normal(k_off, n, n, dtype, lower=True), -1) * spans[None, :]
    return lower + jnp.diag(jnp.where(spans, jnp.sqrt(chi), 0.0))


def sample_wishart(key: PRNGKeyArray, n: int, dof, dtype=jnp.float32) -> Float[Array, "n n"]:
    """A draw with the law of `Z Zᵀ`, `Z` an `n x dof` standard normal matrix, in `O(n³)`."""
    L = bartlett_factor(key, n, dof, dtype)
    return jnp.matmul(L, L.T, precision=HIGHEST)


class NoiseCoordinates(NamedTuple):
    """Noise vectors as coordinates in an orthonormal basis of the span of (weak, train, filters).

    The basis is built in that order, so a block's columns past its last row are zero and not
    stored (the Bartlett factor is triangular); the test rows are the projections of the test
    noise onto the span, which is all the weak and strong models can see of them.

    The training noise comes right after the weak model's, before the filters: the training
    noise's coordinates, and everything the teacher and the training Gram matrix are made of,
    do not depend on the width `m`, so runs that differ only in `m` share their noise. Its first
    `n_st` rows are the same whatever the padded size `n_max` (so Wishart runs can be tiered and
    share their draws across `n_st`, as sampled noise does). The filters are taken in the basis
    of the weak and the *used* training noise, then of what is orthogonal to both: the padded
    rows are never part of a filter or a test product.
    """

    weak: Float[Array, "n_wk n_wk"]
    train: Float[Array, "n N0"]
    filters: Float[Array, "2m N0+2m"]
    test: Float[Array, "n_test N0+2m"]
    filters_signal: Float[Array, "2 m k"]


def filter_coordinates(static: Static, params: Params, key: PRNGKeyArray, dof):
    """The initial filters' noise and the test noise on the filters' own directions.

    Returns `(on_span, rest, test_rest)`: `on_span` `(2m, n_wk + n_max)` are the filters'
    `N(0, 1)` coordinates on the weak and training directions (zero on padded training rows and
    on columns past `dof`); `rest` `(2m, 2m)` is the Bartlett factor of what of them is
    orthogonal to the weak and used training noise (`dof - n_wk - n_st` dimensions);
    `test_rest` `(n_test, 2m)` the test noise's `N(0, 1)` coordinates on those directions.
    Each filter row is keyed by its index, so a wider network keeps the first filters' draws.
    """
    dtype = jnp.dtype(static.dtype)
    two_m, n0 = 2 * static.m, static.n_wk + static.n_max
    column = jnp.arange(n0)
    used = (column < static.n_wk + params.n_st) & (column < dof)
    on_span = block_normal(jax.random.fold_in(key, FILTER_ROWS), two_m, n0, dtype) * used[None, :]
    rest_dof = dof - static.n_wk - params.n_st
    rest = bartlett_factor(jax.random.fold_in(key, FILTER_REST), two_m, rest_dof, dtype)
    test_rest = block_normal(jax.random.fold_in(key, TEST_ON_FILTERS), static.n_test, two_m, dtype)
    return on_span, rest, test_rest


def sample_noise_coordinates(static: Static, params: Params, key: PRNGKeyArray) -> NoiseCoordinates:
    """Draw the weak, training and test noise and the initial filters from their joint law.

    Cost `O(N0² + n_test·N0)` draws with `N0 = n_wk + n_max`, independent of `d`, which
    is a traced number here (`params.d`): cells at different `d` share one compiled program.
    """
    dtype = jnp.dtype(static.dtype)
    dof = params.d - static.signal_dims  # xi ~ N(0, sigma_p² (I - P)) lives in d - k dimensions
    n_wk, n0 = static.n_wk, static.n_wk + static.n_max
    key = jax.random.fold_in(key, WISHART_STREAM)
    k_rows, k_test = jax.random.split(key)
    rows = bartlett_factor(k_rows, n0, dof, dtype)
    # A test vector's coordinates in an orthonormal basis of the span (all of R^dof if dof < N0).
    in_span = (jnp.arange(n0) < dof)[None, :]
    test = block_normal(k_test, static.n_test, n0, dtype) * in_span
    on_span, rest, test_rest = filter_coordinates(static, params, key, dof)
    filters_signal = streams.normal(
        jax.random.fold_in(key, FILTERS_SIGNAL_STREAM), (2, static.m, static.signal_dims), dtype
    )
    return NoiseCoordinates(
        weak=params.sigma_p * rows[:n_wk, :n_wk],
        train=params.sigma_p * rows[n_wk:],
        filters=params.sigma_0 * jnp.concatenate([on_span, rest], axis=1),
        test=params.sigma_p * jnp.concatenate([test, test_rest], axis=1),
        filters_signal=params.sigma_0 * filters_signal,
    )


def sample(static: Static, params: Params, key: PRNGKeyArray) -> Drawn:
    """The three sets' labels, categories and signal patches (the sampled engines' own
    streams, drawn at `d = k`: `X` is `(n, 3, k)`) and the noise coordinates drawn from their
    law (`start`); no `(n, 3, d)` array exists."""
    weak, train_set, test = sample_all(static._replace(d=static.signal_dims), params, key)
    return Drawn(weak, train_set, test, start=sample_noise_coordinates(static, params, key))


def teacher(static: Static, params: Params, drawn: Drawn) -> Labels:
    """The weak model trained on its patch sums in coordinates `[e1..ek | span]` (exact for
    update rules linear in the gradient), and its labels of the other sets."""
    coords, k = drawn.start, static.signal_dims
    weak_sums = jnp.concatenate([drawn.weak.X.sum(axis=1), coords.weak], axis=1)
    weak_static = static._replace(d=weak_sums.shape[1])
    w = train_weak(weak_static, params, drawn.weak._replace(X=weak_sums[:, None, :])).w

    def weak_labels(data, noise):
        signal = jnp.dot(data.X.sum(axis=1), w[:k], precision=HIGHEST)
        return predict(signal + cross(noise, w[None, k:])[:, 0])

    return Labels(
        pseudo=weak_labels(drawn.train, coords.train), test=weak_labels(drawn.test, coords.test)
    )


def noise_gram(coords: NoiseCoordinates) -> NoiseGram:
    """The student's Gram blocks from the noise coordinates (skipping the factor's zeros)."""
    two_m = coords.filters.shape[0]
    n0 = coords.train.shape[1]
    lead = n0 - coords.train.shape[0]  # the n_wk weak columns before the training noise's
    return NoiseGram(
        train=staircase_gram(coords.train, lead),
        train_test=staircase_cross(coords.train, coords.test[:, :n0], lead),
        filters_train=cross(coords.filters[:, :n0], coords.train).reshape(2, two_m // 2, -1),
        filters_test=cross(coords.filters, coords.test).reshape(2, two_m // 2, -1),
        filters_signal=coords.filters_signal,
    )


def train(
    static: Static, params: Params, key: PRNGKeyArray, *, drawn: Drawn, labels: Labels
) -> Records:
    """The student trained in kernel space on the drawn Gram blocks (`gram.train_in_gram`)."""
    gram = noise_gram(drawn.start)
    return train_in_gram(static, params, key, drawn=drawn, labels=labels, gram=gram)


#: The Wishart engine: the Gram engine on noise inner products drawn from their law.
ENGINE = Engine(sample=sample, teacher=teacher, train=train, traits=TRAITS["wishart"])
