"""The direct engine: the strong model trained in the ambient space `R^d` with `jax.grad`.

Only the noise patch meets all `d` coordinates of a filter (`ReLUCNN.split_patch_logits`),
so a step costs about `8·m·n_max·d` flops. With a trained second layer (docs/model.md#beyond) the
weights
are the pair `(W, a)`; with mini-batches a step's loss is the mean over its batch.

Its `sample` and `teacher` (the data in `R^d`, `W(0)`, the weak model trained in `R^d`) are
the Gram engine's too, which is what makes the two engines agree draw for draw.
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from w2s_jax.model.config import Params, Static
from w2s_jax.model.engine_traits import TRAITS
from w2s_jax.model.networks import ReLUCNN
from w2s_jax.model.samples import init_filters, sample_all, signals
from w2s_jax.training.batches import batch_key, descent_step
from w2s_jax.training.interface import Drawn, Engine, Labels, training_mask
from w2s_jax.training.records import (
    Records,
    noise_components,
    noise_norms,
    record,
    scan_records,
    signal_components,
)
from w2s_jax.training.teacher import train_weak
from w2s_jax.training.updates import (
    initial_second_layer,
    logistic_loss,
    make_strong_optimizer,
    mean_loss,
    predict,
)

__all__ = ["ENGINE", "sample", "teacher", "train"]


def sample(static: Static, params: Params, key: PRNGKeyArray) -> Drawn:
    """The three sets in `R^d` and the initial filters `W(0)` (the run key's streams)."""
    weak, train_set, test = sample_all(static, params, key)
    return Drawn(weak, train_set, test, start=init_filters(static, params, key))


def teacher(static: Static, params: Params, drawn: Drawn) -> Labels:
    """The weak model trained on `drawn.weak` with true labels, and its labels of the other sets."""
    weak = train_weak(static, params, drawn.weak)
    return Labels(pseudo=predict(weak(drawn.train.X)), test=predict(weak(drawn.test.X)))


def train(
    static: Static, params: Params, key: PRNGKeyArray, *, drawn: Drawn, labels: Labels
) -> Records:
    """The student trained on `W` itself, from `W(0) = drawn.start`.

    `key` is the run key; only mini-batch SGD reads it (its own stream, `training.batches`).
    """
    W0, train, test = drawn.start, drawn.train, drawn.test
    pseudo_labels, mask = labels.pseudo, training_mask(static, params)
    dtype = W0.dtype
    n_st = params.n_st.astype(dtype)
    pseudo = pseudo_labels.astype(dtype)
    k = static.signal_dims
    signal_span = signals(static, params, dtype)
    noise = train.noise
    train_signal, test_signal = train.X[:, :2, :k], test.X[:, :2, :k]
    noise_sq = noise_norms(noise)
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
        rho = noise_components(delta, noise, noise_sq)
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
            teacher_test=labels.test,
        )

    return scan_records(static, (W0, a0) if trained else W0, optimizer, gd_step, measure)


#: The direct engine.
ENGINE = Engine(sample=sample, teacher=teacher, train=train, traits=TRAITS["direct"])
