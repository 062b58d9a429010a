"""The direct engine: the strong model trained in the ambient space `R^d` with `jax.grad`.

Only the noise patch meets all `d` coordinates of a filter (`ReLUCNN.split_patch_logits`),
so a step costs about `8·m·n_max·d` flops.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from w2s_jax.model.config import Params, Static
from w2s_jax.model.data import Data
from w2s_jax.model.networks import HIGHEST, ReLUCNN
from w2s_jax.training.pipeline import signals
from w2s_jax.training.records import record, scan_records, signal_components
from w2s_jax.training.rules import logistic_loss, make_optimizer

__all__ = ["train_strong_direct"]


def train_strong_direct(
    static: Static, params: Params, train: Data, test: Data, pseudo_labels, mask, W0
) -> dict:
    """Strong training (SPEC §3 step 3) on `W` itself; returns the records of `scan_records`."""
    dtype = W0.dtype
    n_st = params.n_st.astype(dtype)
    pseudo = pseudo_labels.astype(dtype)
    k = static.signal_dims
    signal_span = signals(static, params, dtype)
    noise = train.noise
    train_signal, test_signal = train.X[:, :2, :k], test.X[:, :2, :k]
    noise_sq = jnp.maximum(jnp.sum(noise * noise, axis=1), jnp.finfo(dtype).tiny)
    optimizer = make_optimizer(static.optimizer, params.eta)

    def loss(W):
        logits = ReLUCNN(W, static.output_scale).split_patch_logits(train_signal, noise)
        return jnp.sum(jnp.where(mask, logistic_loss(pseudo * logits), 0.0)) / n_st, logits

    def gd_step(_, state):
        W, opt_state = state
        grads, _ = jax.grad(loss, has_aux=True)(W)
        updates, opt_state = optimizer.update(grads, opt_state, W)
        return optax.apply_updates(W, updates), opt_state

    def measure(W):
        train_loss, train_logits = loss(W)
        delta = W - W0
        gamma = signal_components(delta[..., :k], signal_span)
        rho = jnp.einsum("srd,nd->srn", delta, noise, precision=HIGHEST) / noise_sq[None, None]
        return record(
            train_logits=train_logits,
            test_logits=ReLUCNN(W, static.output_scale).split_patch_logits(test_signal, test.noise),
            train_loss=train_loss,
            finite=jnp.isfinite(train_loss) & jnp.all(jnp.isfinite(W)),
            train=train,
            test=test,
            pseudo_labels=pseudo_labels,
            mask=mask,
            gamma=gamma,
            rho=rho,
        )

    return scan_records(static, W0, optimizer, gd_step, measure)
