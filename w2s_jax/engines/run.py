"""The weak-to-strong pipeline as one pure, jittable `run(static, params, key)`.

1. train the weak `LinearCNN` on `n_wk` true-labelled samples (full-batch GD, logistic loss);
2. pseudo-label `n_max` fresh samples, of which the first `n_st` (traced) are used;
3. train the strong `ReLUCNN` on the pseudo-labels (full-batch GD, masked mean loss; or, beyond
   the theorems, mini-batch SGD and a trained second layer);
4. record test and train metrics at `static.record_steps` with a nested scan.

Each step is a function of the run's `Engine` (`training.interface`), taken from `ENGINES` by
the name `engines.cost.engine_used` gives (`Static.engine`, or the cheapest for "auto"). Grids
and seeds are `vmap`s applied from outside; nothing here knows about them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from w2s_jax.engines import direct, gram, limit, multiclass, wishart
from w2s_jax.engines.cost import engine_used
from w2s_jax.model.config import Params, Static, check_dtype_enabled, check_runs
from w2s_jax.model.data import BOTH, EASY, HARD
from w2s_jax.training.interface import Drawn, Engine, Labels, training_mask
from w2s_jax.training.records import Records, Trajectory, masked_mean
from w2s_jax.training.teacher import category_accuracy, measured_rule_share, teach

__all__ = ["ENGINES", "engine_of", "run", "run_engine", "run_key", "trajectory"]

#: Every engine, by its name (`Engine.traits.name`, in the order of `model.engine_traits`'s
#: `TRAITS`): a new engine is a module, its traits, and a line here.
ENGINES: dict[str, Engine] = {
    engine.traits.name: engine
    for engine in (
        direct.ENGINE,
        gram.ENGINE,
        wishart.ENGINE,
        limit.ENGINE,
        multiclass.ENGINE,
    )
}


def engine_of(static: Static) -> Engine:
    """The engine a run with `static` trains with."""
    return ENGINES[engine_used(static)]


def run(static: Static, params: Params, key: PRNGKeyArray) -> Trajectory:
    """One weak-to-strong run. Pure and jittable with `static` static.

    A float64 `static` must be traced in JAX's 64-bit mode (`dtype_scope`); it is refused
    otherwise, since JAX would silently compute in float32.

    Returns the recorded trajectory; `static.record_steps` gives the step of each record.
    """
    return run_engine(engine_of(static), static, params, key)


def run_engine(engine: Engine, static: Static, params: Params, key: PRNGKeyArray) -> Trajectory:
    """`run` on a given engine (jittable with `engine` and `static` static): how a test runs
    one engine where `engine_of` would pick another, e.g. the K-class engine at `K = 2`. What
    the engine cannot run exactly (`Engine.traits`) is refused before anything is traced."""
    check_dtype_enabled(static.dtype)
    check_runs(engine.traits, static)
    drawn = engine.sample(static, params, key)
    labels = teach(
        static, params, key, drawn.train, drawn.test, lambda: engine.teacher(static, params, drawn)
    )
    records = engine.train(static, params, key, drawn=drawn, labels=labels)
    return trajectory(static, params, drawn=drawn, labels=labels, records=records)


def trajectory(
    static: Static, params: Params, *, drawn: Drawn, labels: Labels, records: Records
) -> Trajectory:
    """The `Trajectory` of a run: what is measured of the teacher, and the student's records."""
    dtype = jnp.dtype(static.dtype)
    train, test = drawn.train, drawn.test
    mask = training_mask(static, params)
    weak_test_correct = (labels.test == test.y).astype(dtype)
    return Trajectory(
        weak_test_acc=jnp.mean(weak_test_correct),
        weak_test_acc_hard=masked_mean(weak_test_correct, test.category == HARD),
        pseudo_label_acc=masked_mean((labels.pseudo == train.y).astype(dtype), mask),
        n_wrong_pseudo=jnp.sum(mask & (labels.pseudo != train.y)),
        weak_test_acc_easy=category_accuracy(labels.test, test, EASY, dtype),
        weak_test_acc_both=category_accuracy(labels.test, test, BOTH, dtype),
        teacher_rule_share=measured_rule_share(labels.test, test, dtype, static.n_classes),
        **records._asdict(),
    )


def run_key(base_seed: int, seed: int) -> PRNGKeyArray:
    """The key of seed index `seed`: `fold_in(key(base_seed), seed)`.

    A cell's draws depend only on (base_seed, seed), never on the grid around it, so cells
    that differ only in parameters share their random draws.
    """
    return jax.random.fold_in(jax.random.key(base_seed), seed)
