"""The weak-to-strong pipeline of SPEC §3 as one pure, jittable `run(static, params, key)`.

1. train the weak `LinearCNN` on `n_wk` true-labelled samples (full-batch GD, logistic loss);
2. pseudo-label `n_max` fresh samples, of which the first `n_st` (traced) are used;
3. train the strong `ReLUCNN` on the pseudo-labels (full-batch GD, masked mean loss; or, beyond
   the theorems, mini-batch SGD and a trained second layer, SPEC §9) with the
   direct or the Gram engine (`static.engine`; the Wishart path draws the noise Gram matrix);
4. record test and train metrics at `static.record_steps` with a nested scan.

Grids and seeds are `vmap`s applied from outside; nothing here knows about them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from w2s_jax.engines.cost import engine_used
from w2s_jax.engines.direct import train_strong_direct
from w2s_jax.engines.gram import train_strong_gram
from w2s_jax.engines.limit import run_limit
from w2s_jax.engines.multiclass import run_classes
from w2s_jax.engines.wishart import run_wishart
from w2s_jax.model.config import Params, Static, check_dtype_enabled
from w2s_jax.model.data import BOTH, EASY, HARD
from w2s_jax.training.pipeline import init_filters, sample_all, train_weak
from w2s_jax.training.records import Trajectory, masked_mean
from w2s_jax.training.rules import predict
from w2s_jax.training.teacher import category_accuracy, rule_share, teach

__all__ = ["run", "run_key"]


def run(static: Static, params: Params, key: PRNGKeyArray) -> Trajectory:
    """One weak-to-strong run (SPEC §3). Pure and jittable with `static` static.

    A float64 `static` must be traced in JAX's 64-bit mode (`dtype_scope`); it is refused
    otherwise, since JAX would silently compute in float32.

    Returns the recorded trajectory; `static.record_steps` gives the step of each record.
    """
    check_dtype_enabled(static.dtype)
    if static.n_classes > 2:  # SPEC §9: softmax over K classes, direct engine only
        return run_classes(static, params, key)
    mask = jnp.arange(static.n_max) < params.n_st
    dtype = jnp.dtype(static.dtype)
    engine = engine_used(static)
    if engine in ("wishart", "limit"):
        # Noise inner products drawn from their law (or its d → ∞ limit): no (n, 3, d) array.
        path = run_wishart if engine == "wishart" else run_limit
        train, test, pseudo_labels, weak_test_pred, records = path(static, params, key, mask)
    else:
        weak_set, train, test = sample_all(static, params, key)

        def trained():
            weak = train_weak(static, params, weak_set)
            return predict(weak(train.X)), predict(weak(test.X))

        pseudo_labels, weak_test_pred = teach(static, key, train, test, trained)
        W0 = init_filters(static, params, key)
        strong = train_strong_gram if engine == "gram" else train_strong_direct
        records = strong(
            static, params, train, test, pseudo_labels, mask, W0, key, teacher_test=weak_test_pred
        )
    weak_test_correct = (weak_test_pred == test.y).astype(dtype)

    return Trajectory(
        weak_test_acc=jnp.mean(weak_test_correct),
        weak_test_acc_hard=masked_mean(weak_test_correct, test.category == HARD),
        pseudo_label_acc=masked_mean((pseudo_labels == train.y).astype(dtype), mask),
        n_wrong_pseudo=jnp.sum(mask & (pseudo_labels != train.y)),
        weak_test_acc_easy=category_accuracy(weak_test_pred, test, EASY, dtype),
        weak_test_acc_both=category_accuracy(weak_test_pred, test, BOTH, dtype),
        teacher_rule_share=rule_share(weak_test_pred, test, dtype),
        **records,
    )


def run_key(base_seed: int, seed: int) -> PRNGKeyArray:
    """The key of seed index `seed`: `fold_in(key(base_seed), seed)`.

    A cell's draws depend only on (base_seed, seed), never on the grid around it, so cells
    that differ only in parameters share their random draws.
    """
    return jax.random.fold_in(jax.random.key(base_seed), seed)
