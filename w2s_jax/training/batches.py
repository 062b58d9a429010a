"""Mini-batch SGD (docs/model.md#beyond, beyond the theorems): which training points a step sees.

Batches are drawn without replacement within an epoch: epoch `e` orders the `n_st` real
(unpadded) training points by a random key of their own, `bits(fold_in(fold_in(k, e), i))`
with `k = fold_in(run_key, BATCH_STREAM)`, and its steps take consecutive runs of `b` of
them (the last batch of an epoch holds the `n_st mod b` left over, if any). A point's key
depends on the run key, the epoch and its index only, so the batches do not depend on the
padded size `n_max`, the chunk or the grid around the run. Padded points never enter a batch.

The batch is a mask over the padded set, not a gather: `n_st` and `b` stay traced (a grid
axis costs no compile), and the Gram engine's update stays a combination of training
patches, so it follows the direct engine exactly.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Bool, PRNGKeyArray

from w2s_jax.model.config import Params, Static
from w2s_jax.model.streams import BATCH_STREAM

__all__ = ["batch_key", "batch_mask", "descent_step", "steps_per_epoch"]


def batch_key(key: PRNGKeyArray) -> PRNGKeyArray:
    """The run's own stream of batch draws."""
    return jax.random.fold_in(key, BATCH_STREAM)


def _batch_size(params: Params):
    """The effective batch size `b`: `batch_size` clipped to `[1, n_st]`."""
    return jnp.clip(params.batch_size, 1, jnp.maximum(params.n_st, 1))


def steps_per_epoch(params: Params):
    """`ceil(n_st / b)`: the steps of one pass over the real training points."""
    b = _batch_size(params)
    return (params.n_st + b - 1) // b


def batch_mask(
    static: Static, params: Params, key: PRNGKeyArray, mask: Bool[Array, " n"], step
) -> Bool[Array, " n"]:
    """The training points of step `step` (0-based) as a mask over the padded set `(n_max,)`.

    Args:
        key: the run's batch stream (`batch_key(run_key)`).
        mask: the real training points (`arange(n_max) < n_st`).
    """
    b = _batch_size(params)
    per_epoch = steps_per_epoch(params)
    epoch, position = step // per_epoch, step % per_epoch
    epoch_key = jax.random.fold_in(key, epoch)
    order = jax.vmap(lambda i: jax.random.bits(jax.random.fold_in(epoch_key, i), dtype=jnp.uint32))(
        jnp.arange(static.n_max)
    )
    # Padded points sort last: they all sit after the real ones, and argsort is stable.
    order = jnp.where(mask, order, jnp.asarray(jnp.iinfo(jnp.uint32).max, jnp.uint32))
    rank = jnp.argsort(jnp.argsort(order, stable=True), stable=True)
    return mask & (rank >= position * b) & (rank < (position + 1) * b)


def descent_step(loss, optimizer, static: Static, params: Params, batches, mask):
    """One step of the update rule on `loss(weights, in_batch) -> (value, aux)`, for
    `lax.fori_loop`/`scan`: the mini-batch of step `t` when `static.minibatch`, else every
    real training point. Shared by the engines that train in the ambient space."""

    def step(t, state):
        weights, opt_state = state
        in_batch = batch_mask(static, params, batches, mask, t) if static.minibatch else None
        grads, _ = jax.grad(loss, has_aux=True)(weights, in_batch)
        updates, opt_state = optimizer.update(grads, opt_state, weights)
        return optax.apply_updates(weights, updates), opt_state

    return step
