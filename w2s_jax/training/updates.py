"""The loss, the prediction rule and the update rules of docs/model.md#training."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from w2s_jax.model.config import Params, Static
from w2s_jax.model.networks import output_scale_factor

__all__ = [
    "logistic_loss",
    "predict",
    "make_optimizer",
    "make_strong_optimizer",
    "mean_loss",
    "initial_second_layer",
    "OPTIMIZERS",
]


def logistic_loss(z):
    """`log(1 + e^{-z})`, computed stably as `softplus(-z)`."""
    return jax.nn.softplus(-z)


def predict(logits):
    """Labels in {+1, -1}; a tie gives +1 (docs/model.md#training)."""
    return jnp.where(logits >= 0, 1, -1)


def _momentum(learning_rate):
    return optax.sgd(learning_rate, momentum=0.9)


#: Update rules by name (`optimizer`, `optimizer_wk` in the config).
OPTIMIZERS = {"sgd": optax.sgd, "momentum": _momentum, "adam": optax.adam}


def make_optimizer(name: str, learning_rate) -> optax.GradientTransformation:
    """An optax update rule whose step size stays a traced, sweepable hyperparameter."""
    return optax.inject_hyperparams(OPTIMIZERS[name])(learning_rate=learning_rate)


def make_strong_optimizer(static: Static, params: Params) -> optax.GradientTransformation:
    """The strong model's update rule: on the filters alone (step `eta`), or, with a trained
    second layer, on the pair `(filters, a)` with steps `eta` and `eta_a` (docs/model.md#beyond)."""
    filters = make_optimizer(static.optimizer, params.eta)
    if static.second_layer == "fixed":
        return filters
    return optax.multi_transform(
        {"filters": filters, "second_layer": make_optimizer(static.optimizer, params.eta_a)},
        lambda weights: (jax.tree.map(lambda _: "filters", weights[0]), "second_layer"),
    )


def initial_second_layer(static: Static, dtype):
    """The sign-aligned output weights `a_{s,r}(0)` `(2, m)`: the fixed scale of
    docs/model.md#networks."""
    return jnp.full((2, static.m), output_scale_factor(static.output_scale, static.m), dtype)


def mean_loss(losses, mask, n_st, in_batch=None):
    """The mean of `losses` over the training set (`mask`, of traced size `n_st`), or over
    the mini-batch `in_batch` (a mask within it) when one is given."""
    if in_batch is None:
        return jnp.sum(jnp.where(mask, losses, 0.0)) / n_st
    size = jnp.maximum(jnp.sum(in_batch), 1).astype(losses.dtype)
    return jnp.sum(jnp.where(in_batch, losses, 0.0)) / size
