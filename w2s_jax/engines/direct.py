"""The direct engine: the strong model trained in the ambient space `R^d` with `jax.grad`.

Only the noise patch meets all `d` coordinates of a filter (`ReLUCNN.split_patch_logits`),
so a step costs about `8·m·n_max·d` flops. With a trained second layer (SPEC §9) the weights
are the pair `(W, a)`; with mini-batches a step's loss is the mean over its batch.
"""

from __future__ import annotations

import jax.numpy as jnp

from w2s_jax.model.config import Params, Static
from w2s_jax.model.data import Data
from w2s_jax.model.networks import HIGHEST, ReLUCNN
from w2s_jax.training.batches import batch_key, descent_step
from w2s_jax.training.pipeline import signals
from w2s_jax.training.records import record, scan_records, signal_components
from w2s_jax.training.rules import (
    initial_second_layer,
    logistic_loss,
    make_strong_optimizer,
    mean_loss,
)

__all__ = ["train_strong_direct"]


def train_strong_direct(
    static: Static,
    params: Params,
    train: Data,
    test: Data,
    pseudo_labels,
    mask,
    W0,
    key=None,
    teacher_test=None,
) -> dict:
    """Strong training (SPEC §3 step 3) on `W` itself; returns the records of `scan_records`.

    `key` is the run key; only mini-batch SGD reads it (its own stream, `training.batches`).
    """
    dtype = W0.dtype
    n_st = params.n_st.astype(dtype)
    pseudo = pseudo_labels.astype(dtype)
    k = static.signal_dims
    signal_span = signals(static, params, dtype)
    noise = train.noise
    train_signal, test_signal = train.X[:, :2, :k], test.X[:, :2, :k]
    noise_sq = jnp.maximum(jnp.sum(noise * noise, axis=1), jnp.finfo(dtype).tiny)
    optimizer = make_strong_optimizer(static, params)
    trained = static.second_layer == "trained"
    a0 = initial_second_layer(static, dtype)
    batches = batch_key(key) if static.minibatch else None

    def network(weights) -> ReLUCNN:
        if trained:
            return ReLUCNN(weights[0], static.output_scale, weights[1])
        return ReLUCNN(weights, static.output_scale)

    def loss(weights, in_batch=None):
        logits = network(weights).split_patch_logits(train_signal, noise)
        return mean_loss(logistic_loss(pseudo * logits), mask, n_st, in_batch), logits

    gd_step = descent_step(loss, optimizer, static, params, batches, mask)

    def measure(weights):
        W, a = weights if trained else (weights, a0)
        train_loss, train_logits = loss(weights)
        delta = W - W0
        gamma = signal_components(delta[..., :k], signal_span)
        rho = jnp.einsum("srd,nd->srn", delta, noise, precision=HIGHEST) / noise_sq[None, None]
        finite = jnp.isfinite(train_loss) & jnp.all(jnp.isfinite(W)) & jnp.all(jnp.isfinite(a))
        return record(
            train_logits=train_logits,
            test_logits=network(weights).split_patch_logits(test_signal, test.noise),
            train_loss=train_loss,
            finite=finite,
            train=train,
            test=test,
            pseudo_labels=pseudo_labels,
            mask=mask,
            gamma=gamma,
            rho=rho,
            a=a,
            teacher_test=teacher_test,
        )

    return scan_records(static, (W0, a0) if trained else W0, optimizer, gd_step, measure)
