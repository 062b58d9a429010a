"""The `d → ∞` limit of the Wishart engine: noise vectors exactly orthogonal, of one norm.

Hold the noise norm `s² = sigma_p²·(d - k)` (the mean `|xi|²`; a config's `d` and `sigma_p`
only fix it) and let `d` grow. The Bartlett factor of `engines.wishart` has diagonal entries
`~ sqrt(d)` and `N(0, 1)` entries below, so after scaling by `sigma_p = s / sqrt(d - k)`:

- `<xi_i, xi_j> → s²·δ_ij`: the training noise is orthogonal, of equal norms;
- `<xi_i, xi'_j> → 0`: a test noise vector is orthogonal to every training one;
- `<w_{s,r}(0), xi_i> → sigma_0·s·Z_{r,i}` with `Z_{r,i}` the filter's `N(0, 1)` coordinate on
  the direction of `xi_i`, and `<w_{s,r}(0), xi'_j> → sigma_0·s·Z'_{j,r}`, the test vector's
  coordinate on the filter's own direction: independent `N(0, sigma_0² s²)` projections;
- the teacher's weight has no noise component any training or test point can see, so its
  labels depend on the signal patches alone (`sign(<w, x1 + x2>)`).

The limit takes those entries from the Wishart engine's own streams, so a Wishart run at
growing `d` (with `sigma_p` scaled to hold `s`) converges to the limit run draw by draw, not
only in law. The strong model's dynamics close on the signal coefficients, the per-sample
noise coefficients and the initial projections; with the training Gram `s²·I`, a step costs
`O(m·n)` (`engines.gram.train_in_gram` with a diagonal Gram).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from w2s_jax.engines.gram import NoiseGram, train_in_gram
from w2s_jax.engines.wishart import BLOCK, block_normal, normal_block
from w2s_jax.model import streams
from w2s_jax.model.config import Params, Static
from w2s_jax.model.engine_traits import TRAITS
from w2s_jax.model.networks import HIGHEST
from w2s_jax.model.samples import sample_all
from w2s_jax.model.streams import (
    FILTER_ROWS,
    FILTERS_SIGNAL_STREAM,
    TEST_ON_FILTERS,
    WISHART_STREAM,
)
from w2s_jax.training.interface import Drawn, Engine, Labels
from w2s_jax.training.records import Records
from w2s_jax.training.teacher import train_linear
from w2s_jax.training.updates import logistic_loss, predict

__all__ = ["ENGINE", "sample", "teacher", "train", "noise_norm_sq", "limit_gram"]


def noise_norm_sq(static: Static, params: Params):
    """`s² = sigma_p²·(d - k)`: the squared norm of every noise vector in the limit."""
    return params.sigma_p**2 * (params.d - static.signal_dims)


def _window(key, row: int, rows: int, col: int, cols: int, dtype):
    """Entries `[row:row+rows, col:col+cols]` of `block_normal(key, ...)`, drawing only the
    blocks that hold them (the filters' coordinates on the `n` training directions)."""
    r0, r1 = row // BLOCK, -(-(row + rows) // BLOCK)
    c0, c1 = col // BLOCK, -(-(col + cols) // BLOCK)
    block = lambda i, j: normal_block(key, i, j, dtype)
    blocks = jax.vmap(lambda i: jax.vmap(lambda j: block(i, j))(jnp.arange(c0, c1)))(
        jnp.arange(r0, r1)
    )
    full = blocks.transpose(0, 2, 1, 3).reshape((r1 - r0) * BLOCK, (c1 - c0) * BLOCK)
    top, left = row - r0 * BLOCK, col - c0 * BLOCK
    return full[top : top + rows, left : left + cols]


def limit_gram(static: Static, params: Params, key: PRNGKeyArray) -> NoiseGram:
    """The strong model's Gram blocks in the limit, from the Wishart engine's draws."""
    dtype = jnp.dtype(static.dtype)
    n_wk, m, n, nt, k = static.n_wk, static.m, static.n_max, static.n_test, static.signal_dims
    key = jax.random.fold_in(key, WISHART_STREAM)
    s = jnp.sqrt(noise_norm_sq(static, params)).astype(dtype)
    # The filters' coordinates on the training directions (columns n_wk.. of their rows), and
    # the test noise's on the filters' own directions: what dominates as d grows.
    on_train = _window(jax.random.fold_in(key, FILTER_ROWS), 0, 2 * m, n_wk, n, dtype)
    test = block_normal(jax.random.fold_in(key, TEST_ON_FILTERS), nt, 2 * m, dtype)
    signal_key = jax.random.fold_in(key, FILTERS_SIGNAL_STREAM)
    filters_signal = streams.normal(signal_key, (2, m, k), dtype)
    return NoiseGram(
        train=jnp.full((n,), s**2, dtype),  # the diagonal: O(m·n) a step
        train_test=None,
        filters_train=params.sigma_0 * s * on_train.reshape(2, m, n),
        filters_test=params.sigma_0 * s * test.T.reshape(2, m, nt),
        filters_signal=params.sigma_0 * filters_signal,
    )


def sample(static: Static, params: Params, key: PRNGKeyArray) -> Drawn:
    """The three sets' signal coordinates (`X` is `(n, 3, k)`, as the Wishart engine's) and the
    limit's Gram blocks (`start`), from the Wishart engine's draws."""
    weak, train_set, test = sample_all(static._replace(d=static.signal_dims), params, key)
    return Drawn(weak, train_set, test, start=limit_gram(static, params, key))


def teacher(static: Static, params: Params, drawn: Drawn) -> Labels:
    """The weak model trained with its own noise orthogonal, of norm `s`; no noise direction
    of it reaches a fresh sample, so it labels from the signal patches alone."""
    dtype = jnp.dtype(static.dtype)
    k = static.signal_dims
    s = jnp.sqrt(noise_norm_sq(static, params)).astype(dtype)
    # In coordinates [e1..ek | the n_wk noise directions] sample i's patch sum is its signal
    # sum plus s·e_{k+i}: the logit is <signal sum, w[:k]> + s·w[k+i], O(n_wk·k) a step.
    weak_sums = drawn.weak.X.sum(axis=1)
    w0 = (jnp.zeros(k, dtype), jnp.zeros(static.n_wk, dtype))
    y = drawn.weak.y.astype(dtype)
    logits = lambda w: jnp.dot(weak_sums, w[0], precision=HIGHEST) + s * w[1]
    loss = lambda w: jnp.mean(logistic_loss(y * logits(w)))
    w = train_linear(static, params, loss, w0)[0]

    def weak_labels(data):
        return predict(jnp.dot(data.X.sum(axis=1), w, precision=HIGHEST))

    return Labels(pseudo=weak_labels(drawn.train), test=weak_labels(drawn.test))


def train(
    static: Static, params: Params, key: PRNGKeyArray, *, drawn: Drawn, labels: Labels
) -> Records:
    """The student trained on the limit's diagonal Gram (`gram.train_in_gram`, `O(m·n)` a step)."""
    return train_in_gram(static, params, key, drawn=drawn, labels=labels, gram=drawn.start)


#: The `d → ∞` limit of the Wishart engine.
ENGINE = Engine(sample=sample, teacher=teacher, train=train, traits=TRAITS["limit"])
