"""The Gram (kernel-space) engine: strong-model training at a per-step cost independent of `d`.

Gradient descent only ever adds training patches to a filter, and every patch is either a
signal patch on e1..e4 or a noise patch `xi_i`. So, exactly,

    w_{s,r}(t) = w_{s,r}(0) + sum_{k<4} A_{s,r,k} e_k + sum_i C_{s,r,i} xi_i,

and every inner product the dynamics and the evaluation need is a combination of
`<xi_i, xi_j>` (training noise), `<xi_i, xi'_j>` (training x test noise), `<w_{s,r}(0), xi>`
and the signal coordinates (`e1..ek`, `k = static.signal_dims`; the text says e1..e4, the
synthetic binary model's span). The signal-noise decomposition of the proofs comes out exactly:
`gamma_{s,r,u} = <A_{s,r}, u> / |u|^2` and `rho_{s,r,i} = (C G)_{s,r,i} / G_ii`.

An optax rule that is linear in the gradient (`sgd`, `momentum`) commutes with this change of
coordinates, so it runs on the coefficients `(A, C)` unchanged; Adam rescales each ambient
coordinate and is refused (`EngineTraits.optimizers`, checked by the config and by
`run_engine`). Beyond the theorems (docs/model.md#beyond) the decomposition still holds: a
mini-batch step adds only the batch's patches, and a trained second layer `a_{s,r}` rescales
each filter's gradient without leaving the span of the patches; `a` itself is trained as it
is, beside `(A, C)`.

The noise Gram matrix comes either from the sampled noise (this engine: the direct engine's
`sample` and `teacher`, so the same draws) or from its law (`engines.wishart`), or from its
`d → ∞` limit (`engines.limit`); `train_in_gram` trains the student for all three.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, PRNGKeyArray

from w2s_jax.engines import direct
from w2s_jax.model.config import Params, Static
from w2s_jax.model.engine_traits import TRAITS
from w2s_jax.model.networks import HIGHEST, head, relu
from w2s_jax.model.samples import signals
from w2s_jax.training.batches import batch_key, batch_mask
from w2s_jax.training.interface import Drawn, Engine, Labels, training_mask
from w2s_jax.training.records import Records, record, scan_records, signal_components
from w2s_jax.training.updates import (
    initial_second_layer,
    logistic_loss,
    make_strong_optimizer,
    mean_loss,
)

__all__ = [
    "ENGINE",
    "NoiseGram",
    "gram_from_noise",
    "cross",
    "train",
    "train_in_gram",
]


class NoiseGram(NamedTuple):
    """Every inner product of the strong model's dynamics and evaluation.

    Orthogonal noise (the `d → ∞` limit, `engines.limit`) is stored as it is: `train` as its
    diagonal `(n_max,)` and `train_test` as `None`, so a step costs `O(m·n)`, not `O(m·n²)`.

    Attributes:
        train: `(n_max, n_max)`, `<xi_i, xi_j>` over the training noise (or its diagonal).
        train_test: `(n_max, n_test)`, `<xi_i, xi'_j>` (or `None`: all zero).
        filters_train: `(2, m, n_max)`, `<w_{s,r}(0), xi_i>`.
        filters_test: `(2, m, n_test)`, `<w_{s,r}(0), xi'_j>`.
        filters_signal: `(2, m, k)`, `w_{s,r}(0)` on `e1..ek`.
    """

    train: Float[Array, "n n"] | Float[Array, " n"]
    train_test: Float[Array, "n n_test"] | None
    filters_train: Float[Array, "2 m n"]
    filters_test: Float[Array, "2 m n_test"]
    filters_signal: Float[Array, "2 m k"]


def cross(a, b):
    """`a bᵀ` over the leading columns both store (the rest are zero by construction)."""
    width = min(a.shape[-1], b.shape[-1])
    return jnp.matmul(a[:, :width], b[:, :width].T, precision=HIGHEST)


def gram_from_noise(
    train_noise: Float[Array, "n d"],
    test_noise: Float[Array, "n_test d"],
    W0: Float[Array, "2 m d"],
    signal_dims: int,
) -> NoiseGram:
    """The Gram blocks of sampled noise (`~2·n·(n + n_test + 2m)·d` flops, once per run).

    `signal_dims` (`k`): the filters' coordinates on the signal span `e1..ek` are kept apart.
    """
    k = signal_dims
    two, m, d = W0.shape
    filters = W0.reshape(two * m, d)
    return NoiseGram(
        train=cross(train_noise, train_noise),
        train_test=cross(train_noise, test_noise),
        filters_train=cross(filters, train_noise).reshape(two, m, -1),
        filters_test=cross(filters, test_noise).reshape(two, m, -1),
        filters_signal=W0[..., :k],
    )


def patch_columns(X: Float[Array, "n p d"], k: int) -> Float[Array, "k 2*n"]:
    """The signal patches `X[:, :2, :k]` as columns, patch-major: `(k, 2·n)`."""
    return X[:, :2, :k].transpose(2, 1, 0).reshape(k, -1)


def contract_samples(a: Float[Array, "r s"], b: Float[Array, "c s"]) -> Float[Array, "r c"]:
    """`a bᵀ` contracting the sample axis both store last (no transpose is formed)."""
    return jax.lax.dot_general(a, b, (((1,), (1,)), ((), ())), precision=HIGHEST)


def train(
    static: Static, params: Params, key: PRNGKeyArray, *, drawn: Drawn, labels: Labels
) -> Records:
    """The student on the Gram blocks of the sampled noise and `W(0) = drawn.start`: the
    direct engine's records, computed in kernel space."""
    gram = gram_from_noise(drawn.train.noise, drawn.test.noise, drawn.start, static.signal_dims)
    return train_in_gram(static, params, key, drawn=drawn, labels=labels, gram=gram)


def train_in_gram(
    static: Static,
    params: Params,
    key: PRNGKeyArray,
    *,
    drawn: Drawn,
    labels: Labels,
    gram: NoiseGram,
) -> Records:
    """The student trained in the coefficients `(A, C)`: `~4·m·n_max²` flops a step
    (`O(m·n_max)` with a diagonal `gram.train`).

    Only `X[:, :2, :k]` of `drawn.train` and `drawn.test` (the signal patches on `e1..ek`,
    `k = static.signal_dims`), the labels and categories are read from the data; the noise
    enters through `gram`. `key` is the run key; only mini-batch SGD reads it.
    """
    train, test = drawn.train, drawn.test
    pseudo_labels, mask = labels.pseudo, training_mask(static, params)
    dtype = gram.train.dtype
    k = static.signal_dims
    two, m = gram.filters_signal.shape[:2]
    width = two * m  # the filters (s, r), flattened s-major as everywhere
    n_st = params.n_st.astype(dtype)
    pseudo = pseudo_labels.astype(dtype)
    # Signal patches as columns (patch-major, then sample): one matrix product gives every
    # filter's preactivation on them, a filter's two patches are two rows to add, and the
    # gradient contracts the sample axis of both operands (no transpose).
    train_patches = patch_columns(train.X, k)
    test_patches = patch_columns(test.X, k)
    filters_signal = gram.filters_signal.reshape(width, k)
    filters_train = gram.filters_train.reshape(width, -1)
    filters_test = gram.filters_test.reshape(width, -1)
    signal_span = signals(static, params, dtype)
    diagonal = gram.train if gram.train.ndim == 1 else jnp.diagonal(gram.train)
    noise_sq = jnp.maximum(diagonal, jnp.finfo(dtype).tiny)
    optimizer = make_strong_optimizer(static, params)
    trained = static.second_layer == "trained"
    a0 = initial_second_layer(static, dtype)
    batches = batch_key(key) if static.minibatch else None

    # Layouts: a filter's preactivations are rows, `(2m, n)` on the noise patches and
    # `(2m, 2, n)` on the signal patches; the noise coefficients `C` are stored `(n, 2m)`, the
    # layout in which XLA's CPU matrix product runs `Cᵀ G` at about 1.5x the rate of a
    # `(2m, n)` operand (`w2s bench`'s profile). The product `Cᵀ G` of the current weights
    # is carried from one step to the next, so a step and a record point read `G` once.
    # With orthogonal training noise (a diagonal `G`) there is no product, and `C` is stored
    # `(2m, n)`, the layout of the preactivations, so a step transposes nothing.
    orthogonal = gram.train.ndim == 1

    def noise_product(C, noise_gram):
        """`<w_{s,r} - w_{s,r}(0), xi>` for every noise vector of `noise_gram`: `(2m, n')`."""
        if noise_gram is None:  # noise orthogonal to the training noise: no product
            return None
        rows = C if orthogonal else C.T  # (2m, n)
        if noise_gram.ndim == 1:  # orthogonal training noise: G is its diagonal
            return rows * noise_gram[None, :]
        return jnp.matmul(rows, noise_gram, precision=HIGHEST)

    def signal_pre(A, patches):
        """`<w_{s,r}, x_{i,p}>` on the signal patches: `(2m, 2, n)`."""
        pre = jnp.matmul(filters_signal + A, patches, precision=HIGHEST)
        return pre.reshape(width, 2, -1)

    def logits_of(on_signal, on_noise, a=None):
        hidden = relu(on_signal).sum(axis=1) + relu(on_noise)  # (2m, n)
        F = head(hidden.reshape(two, m, -1).transpose(2, 0, 1), a, static.output_scale)
        return F[:, 0] - F[:, 1]

    def loss_of(on_signal, on_noise, a=None, in_batch=None):
        logits = logits_of(on_signal, on_noise, a)
        return mean_loss(logistic_loss(pseudo * logits), mask, n_st, in_batch), logits

    def gd_step(t, state):
        weights, opt_state, product = state
        (A, C), a = weights if trained else (weights, None)
        in_batch = batch_mask(static, params, batches, mask, t) if static.minibatch else None
        on_signal = signal_pre(A, train_patches)
        # The same relu as ReLUCNN, differentiated the same way, so ReLU'(0) agrees with it.
        (d_signal, d_noise, da), _ = jax.grad(loss_of, argnums=(0, 1, 2), has_aux=True)(
            on_signal, filters_train + product, a, in_batch
        )
        grads = (
            contract_samples(d_signal.reshape(width, -1), train_patches),
            d_noise if orthogonal else d_noise.T,
        )
        if trained:
            grads = (grads, da)
        updates, opt_state = optimizer.update(grads, opt_state, weights)
        weights = optax.apply_updates(weights, updates)
        C = (weights[0] if trained else weights)[1]
        return weights, opt_state, noise_product(C, gram.train)

    def measure(weights, product):
        (A, C), a = weights if trained else (weights, None)
        train_loss, train_logits = loss_of(signal_pre(A, train_patches), filters_train + product, a)
        test_product = noise_product(C, gram.train_test)
        on_test = filters_test if test_product is None else filters_test + test_product
        test_logits = logits_of(signal_pre(A, test_patches), on_test, a)
        gamma = signal_components(A.reshape(two, m, k), signal_span)
        rho = (product / noise_sq[None, :]).reshape(two, m, -1)
        finite = jnp.isfinite(train_loss) & jnp.all(jnp.isfinite(A)) & jnp.all(jnp.isfinite(C))
        if trained:
            finite = finite & jnp.all(jnp.isfinite(a))
        return record(
            train_logits=train_logits,
            test_logits=test_logits,
            train_loss=train_loss,
            finite=finite,
            train=train,
            test=test,
            pseudo_labels=pseudo_labels,
            mask=mask,
            gamma=gamma,
            rho=rho,
            a=a0 if a is None else a,
            teacher_test=labels.test,
        )

    n = train.X.shape[0]
    C0 = jnp.zeros((width, n) if orthogonal else (n, width), dtype)
    coef0 = (jnp.zeros((width, k), dtype), C0)
    weights0 = (coef0, a0) if trained else coef0
    return scan_records(
        static, weights0, optimizer, gd_step, measure, carry0=jnp.zeros((width, n), dtype)
    )


#: The Gram engine on sampled noise: the direct engine's draws and teacher.
ENGINE = Engine(sample=direct.sample, teacher=direct.teacher, train=train, traits=TRAITS["gram"])
