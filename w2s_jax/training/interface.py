"""What every engine provides, and the types its functions pass along.

An engine is three pure functions and its traits, held in an `Engine` the way optax holds a
transformation in a `GradientTransformation` (and types its functions as protocols, here
`SampleFn`, `TeacherFn`, `TrainFn`):

    drawn = engine.sample(static, params, key)              # the data, where the student starts
    labels = engine.teacher(static, params, drawn)          # the trained weak model's labels
    records = engine.train(static, params, key, drawn=drawn, labels=labels)  # the student

`engines.run.run` composes them (the oracle teacher stands in for `engine.teacher` when the
config asks for it) and assembles the `Trajectory`; `docs/engines.md` walks through each one.
`engine.traits` (`model.engine_traits`) says what it runs exactly and what a run costs.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import jax.numpy as jnp
from jaxtyping import Array, Bool, Int, PRNGKeyArray

from w2s_jax.model.config import Params, Static
from w2s_jax.model.data import Data
from w2s_jax.model.engine_traits import EngineTraits
from w2s_jax.training.records import Records

__all__ = ["Engine", "SampleFn", "TeacherFn", "TrainFn", "Drawn", "Labels", "training_mask"]


class Drawn(NamedTuple):
    """What an engine draws for one run.

    Attributes:
        weak: the weak model's training set.
        train: the student's training set, padded to `n_max` (the first `n_st` points train).
        test: the test set.
        start: where the student starts, in the engine's coordinates: `W(0)` `(2, m, d)`
            (direct, gram), the noise coordinates (wishart), the Gram blocks (limit).

    The engines that never form a `d`-sized array keep only the signal coordinates of the
    sets (`X` of shape `(n, 3, k)`); their noise lives in `start`.
    """

    weak: Data
    train: Data
    test: Data
    start: Any


class Labels(NamedTuple):
    """The teacher's labels: `{+1, -1}`, or class indices with K classes.

    Attributes:
        pseudo: `(n_max,)` of the student's training set, the pseudo-labels it trains on.
        test: `(n_test,)` of the test set (the teacher's accuracy, the student's imitation).
    """

    pseudo: Int[Array, " n"]
    test: Int[Array, " n_test"]


class SampleFn(Protocol):
    """An engine's draws: the three sets and where the student starts."""

    def __call__(self, static: Static, params: Params, key: PRNGKeyArray) -> Drawn:
        """The weak set, the student's set padded to `n_max`, the test set and `start`, each
        from its own stream of the run key `key` (`model.streams`)."""


class TeacherFn(Protocol):
    """An engine's trained teacher."""

    def __call__(self, static: Static, params: Params, drawn: Drawn) -> Labels:
        """The weak model trained on `drawn.weak` (true labels) and its labels of
        `drawn.train` and `drawn.test`."""


class TrainFn(Protocol):
    """An engine's student."""

    def __call__(
        self, static: Static, params: Params, key: PRNGKeyArray, *, drawn: Drawn, labels: Labels
    ) -> Records:
        """The student trained on `labels.pseudo` and recorded at `static.record_steps`; `key`
        is the run key (only mini-batch SGD reads it)."""


class Engine(NamedTuple):
    """An engine: three functions, all pure and jittable with `static` static, and its traits.

    Attributes:
        sample: draws the data and where the student starts (`SampleFn`).
        teacher: the trained weak teacher's labels (`TeacherFn`).
        train: the student and its records (`TrainFn`).
        traits: what it runs exactly and what a run costs (`model.engine_traits`): the
            config's checks, `engine = "auto"`, the cost model and `run_engine` read them.
    """

    sample: SampleFn
    teacher: TeacherFn
    train: TrainFn
    traits: EngineTraits


def training_mask(static: Static, params: Params) -> Bool[Array, " n"]:
    """The real training points of the padded set: `arange(n_max) < n_st` (`n_st` traced)."""
    return jnp.arange(static.n_max) < params.n_st
