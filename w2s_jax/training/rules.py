"""The loss, the prediction rule and the update rules of SPEC §3."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

__all__ = ["logistic_loss", "predict", "make_optimizer", "OPTIMIZERS"]


def logistic_loss(z):
    """`log(1 + e^{-z})`, computed stably as `softplus(-z)`."""
    return jax.nn.softplus(-z)


def predict(logits):
    """Labels in {+1, -1}; a tie gives +1 (SPEC §3)."""
    return jnp.where(logits >= 0, 1, -1)


def _momentum(learning_rate):
    return optax.sgd(learning_rate, momentum=0.9)


#: Update rules by name (`optimizer`, `optimizer_wk` in the config).
OPTIMIZERS = {"sgd": optax.sgd, "momentum": _momentum, "adam": optax.adam}


def make_optimizer(name: str, learning_rate) -> optax.GradientTransformation:
    """An optax update rule whose step size stays a traced, sweepable hyperparameter."""
    return optax.inject_hyperparams(OPTIMIZERS[name])(learning_rate=learning_rate)
