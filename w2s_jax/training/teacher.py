"""The teacher that labels the student's data (docs/model.md#training step 2), and what is measured
of it.

`teacher = "trained"` is the weak model trained on the cell's own distribution (`train_weak`,
full-batch GD on true labels): it moves with every coordinate of a phase plane. `teacher =
"oracle"` is held fixed instead: right on easy-only and both-signal samples and, on hard-only
samples, as `hard_labels` says:

- `"coin"`: an independent fair coin per sample, so its wrong labels carry no feature and
  can only be memorized;
- `"rule"`: the hard patch's polarity `eps`, a fixed function of the input (`x1 = x2 =
  eps·nu_y`), so its wrong labels can be learned through the hard feature;
- `"mix"`: the rule with probability `rule_share` (`q`) and the coin otherwise, a teacher
  between the two. The draws are shared: sample `i` has one coin and one uniform `u_i`
  (both depend on the run key, the set and `i` only) and follows the rule when `u_i < q`.
  So `q = 0` gives the coin teacher's labels exactly, `q = 1` the rule teacher's, and a
  larger `q` only turns more of the same coins into rules.

All are right on half the hard-only samples in expectation: accuracy `1 - p_h/2`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from w2s_jax.model import streams
from w2s_jax.model.config import Params, Static
from w2s_jax.model.data import HARD, Data
from w2s_jax.model.networks import HIGHEST, LinearCNN
from w2s_jax.model.streams import (
    MIX_STREAM,
    TEACHER_STREAM,
    TEST_SET_STREAM,
    TRAIN_SET_STREAM,
)
from w2s_jax.training.interface import Labels
from w2s_jax.training.records import masked_mean
from w2s_jax.training.updates import logistic_loss, make_optimizer

__all__ = [
    "train_weak",
    "train_linear",
    "oracle_labels",
    "measured_rule_share",
    "category_accuracy",
    "teach",
]


def train_weak(static: Static, params: Params, data: Data) -> LinearCNN:
    """Full-batch GD on the mean logistic loss from `w = 0` (docs/model.md#training step 1)."""
    # f_wk is linear in the patch sum, so the weak model only ever sees sum_p x_p.
    patch_sum = data.X.sum(axis=1)
    y = data.y.astype(patch_sum.dtype)
    loss = lambda w: jnp.mean(logistic_loss(y * jnp.dot(patch_sum, w, precision=HIGHEST)))
    return LinearCNN(train_linear(static, params, loss, jnp.zeros(static.d, patch_sum.dtype)))


def train_linear(static: Static, params: Params, loss, w0):
    """The weak model's `T_wk` full-batch steps of `optimizer_wk` on `loss(w)` from `w0` (any
    pytree: an update rule acts coordinate by coordinate). The binary, K-class and limit
    teachers differ only in their loss and coordinates."""
    optimizer = make_optimizer(static.optimizer_wk, params.eta_wk)

    def step(state, _):
        w, opt_state = state
        updates, opt_state = optimizer.update(jax.grad(loss)(w), opt_state, w)
        return (optax.apply_updates(w, updates), opt_state), None

    (w, _), _ = jax.lax.scan(step, (w0, optimizer.init(w0)), length=static.T_wk)
    return w


def oracle_labels(static: Static, data: Data, key, set_stream: int, rule_share=0.0):
    """The oracle's labels of `data` in {+1, -1}; flip `i` of the set whose stream is
    `set_stream` (`streams.TRAIN_SET_STREAM`, `TEST_SET_STREAM`), and the mixed oracle's
    uniform `i`, depend only on the run key and `i` (so padded sizes and tiers share them).
    `rule_share` is read by the mixed oracle only (`Params.rule_share`)."""
    if static.hard_labels == "rule":
        hard = data.eps
    else:
        stream = jax.random.fold_in(jax.random.fold_in(key, TEACHER_STREAM), set_stream)
        samples = jnp.arange(data.y.shape[0])
        flips = jax.vmap(lambda i: streams.bernoulli(jax.random.fold_in(stream, i)))(samples)
        hard = jnp.where(flips, 1, -1)
        if static.hard_labels == "mix":
            choice = jax.random.fold_in(jax.random.fold_in(key, MIX_STREAM), set_stream)
            u = jax.vmap(lambda i: streams.uniform(jax.random.fold_in(choice, i), jnp.float32))(
                samples
            )
            hard = jnp.where(u < rule_share, data.eps, hard)
    return jnp.where(data.category == HARD, hard, data.y).astype(data.y.dtype)


def measured_rule_share(labels, data: Data, dtype, n_classes: int = 2):
    """The share of the teacher's hard-only labels fixed by the hard patch `(y, eps)`: over
    the groups of hard-only samples with one `(y, eps)`, the share of each group's majority
    label, weighted by group size (1/2 for a binary coin, 1 for a function of the patch).

    Labels may be binary (+1/-1) or class indices `0..n_classes-1` (the K-class engine, which
    also runs at two classes): `(v + K) mod (K + 1)` maps either set one to one into
    `0..K`, so the groups and the majority do not depend on the encoding.
    """
    buckets = n_classes + 1
    index = lambda v: (v + n_classes) % buckets  # noqa: E731
    group = 2 * index(data.y) + (data.eps > 0)
    counts = jnp.zeros((2 * buckets, buckets), dtype)
    counts = counts.at[group, index(labels)].add((data.category == HARD).astype(dtype))
    return counts.max(axis=1).sum() / jnp.sum(data.category == HARD).astype(dtype)


def category_accuracy(labels, data: Data, category: int, dtype):
    """The teacher's accuracy on one category of `data`."""
    return masked_mean((labels == data.y).astype(dtype), data.category == category)


def teach(static: Static, params: Params, key, train: Data, test: Data, trained) -> Labels:
    """The labels of the student's training set and of the test set, from the oracle, or
    from `trained()` (which trains the weak model and returns its `Labels`: the oracle never
    does)."""
    if static.teacher == "oracle":
        q = params.rule_share
        return Labels(
            pseudo=oracle_labels(static, train, key, TRAIN_SET_STREAM, q),
            test=oracle_labels(static, test, key, TEST_SET_STREAM, q),
        )
    return trained()
