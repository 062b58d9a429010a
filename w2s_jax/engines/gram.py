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
coordinate and is refused (`ConfigError`). Beyond the theorems (docs/model.md#beyond) the
decomposition
still holds: a mini-batch step adds only the batch's patches, and a trained second layer
`a_{s,r}` rescales each filter's gradient without leaving the span of the patches; `a`
itself is trained as it is, beside `(A, C)`.

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
from w2s_jax.model.config import GRAM_OPTIMIZERS, ConfigError, Params, Static
from w2s_jax.model.networks import HIGHEST, output_scale_factor, relu
from w2s_jax.training.batches import batch_key, batch_mask
from w2s_jax.training.interface import Drawn, Engine, Labels, training_mask
from w2s_jax.training.pipeline import signals
from w2s_jax.training.records import Records, record, scan_records, signal_components
from w2s_jax.training.rules import (
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
    "check_optimizer",
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


def check_optimizer(static: Static):
    for name in ("optimizer",) + (("optimizer_wk",) if static.gram_noise == "wishart" else ()):
        if getattr(static, name) not in GRAM_OPTIMIZERS:
            raise ConfigError(
                f"{name}: the Gram engine needs one of {GRAM_OPTIMIZERS}, "
                f"got {getattr(static, name)!r}"
            )


def train(
    static: Static, params: Params, key: PRNGKeyArray, *, drawn: Drawn, labels: Labels
) -> Records:
    """The student on the Gram blocks of the sampled noise and `W(0) = drawn.start`: the
    direct engine's records, computed in kernel space."""
    check_optimizer(static)
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
    n_st = params.n_st.astype(dtype)
    pseudo = pseudo_labels.astype(dtype)
    train_signal = train.X[:, :2, :k]
    test_signal = test.X[:, :2, :k]
    signal_span = signals(static, params, dtype)
    diagonal = gram.train if gram.train.ndim == 1 else jnp.diagonal(gram.train)
    noise_sq = jnp.maximum(diagonal, jnp.finfo(dtype).tiny)
    scale = output_scale_factor(static.output_scale, static.m)
    optimizer = make_strong_optimizer(static, params)
    trained = static.second_layer == "trained"
    a0 = initial_second_layer(static, dtype)
    batches = batch_key(key) if static.minibatch else None

    def noise_product(C, noise_gram):
        """`C G`: `<w_{s,r} - w_{s,r}(0), xi>` for every noise vector of `noise_gram`."""
        if noise_gram is None:  # noise orthogonal to the training noise: no product
            return None
        if noise_gram.ndim == 1:  # orthogonal training noise: G is its diagonal
            return C * noise_gram[None, None]
        return jnp.einsum("srj,jn->srn", C, noise_gram, precision=HIGHEST)

    def preactivations(coef, signal_patches, filters_noise, noise_gram, product=None):
        """`<w_{s,r}, x_{i,p}>` as `(n, 2, m, 3)`, the layout of `ReLUCNN`."""
        A, C = coef
        signal_pre = jnp.einsum(
            "srk,npk->nsrp", gram.filters_signal + A, signal_patches, precision=HIGHEST
        )
        if product is None:
            product = noise_product(C, noise_gram)
        noise_pre = filters_noise if product is None else filters_noise + product
        return jnp.concatenate([signal_pre, jnp.moveaxis(noise_pre, -1, 0)[..., None]], axis=-1)

    def logits_of(pre, a=None):
        if a is None:
            F = scale * relu(pre).sum(axis=(2, 3))
        else:
            F = jnp.einsum("nsr,sr->ns", relu(pre).sum(axis=3), a, precision=HIGHEST)
        return F[:, 0] - F[:, 1]

    def loss_of(pre, a=None, in_batch=None):
        logits = logits_of(pre, a)
        return mean_loss(logistic_loss(pseudo * logits), mask, n_st, in_batch), logits

    def gd_step(t, state):
        weights, opt_state = state
        coef, a = weights if trained else (weights, None)
        in_batch = batch_mask(static, params, batches, mask, t) if static.minibatch else None
        pre = preactivations(coef, train_signal, gram.filters_train, gram.train)
        # The same relu as ReLUCNN, differentiated the same way, so ReLU'(0) agrees with it.
        (dpre, da), _ = jax.grad(loss_of, argnums=(0, 1), has_aux=True)(pre, a, in_batch)
        grads = (
            jnp.einsum("nsrp,npk->srk", dpre[..., :2], train_signal, precision=HIGHEST),
            jnp.moveaxis(dpre[..., 2], 0, -1),
        )
        if trained:
            grads = (grads, da)
        updates, opt_state = optimizer.update(grads, opt_state, weights)
        return optax.apply_updates(weights, updates), opt_state

    def measure(weights):
        coef, a = weights if trained else (weights, None)
        A, C = coef
        # One pass over the training Gram serves the train logits and rho.
        train_product = noise_product(C, gram.train)
        train_loss, train_logits = loss_of(
            preactivations(coef, train_signal, gram.filters_train, gram.train, train_product), a
        )
        test_logits = logits_of(
            preactivations(coef, test_signal, gram.filters_test, gram.train_test), a
        )
        gamma = signal_components(A, signal_span)
        rho = train_product / noise_sq[None, None]
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

    two, m = gram.filters_signal.shape[:2]
    coef0 = (
        jnp.zeros((two, m, k), dtype),
        jnp.zeros((two, m, train_signal.shape[0]), dtype),
    )
    weights0 = (coef0, a0) if trained else coef0
    return scan_records(static, weights0, optimizer, gd_step, measure)


#: The Gram engine on sampled noise: the direct engine's draws and teacher.
ENGINE = Engine(sample=direct.sample, teacher=direct.teacher, train=train)
