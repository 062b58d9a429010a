"""The `fold_in` streams of a run's key: every random draw of a run comes from one of them.

A run's key is `fold_in(key(base_seed), seed)`. Each consumer folds its own number into it,
so the draws of a consumer depend on the run key and that number only: adding a consumer, or
turning one off (the oracle teacher trains no weak model, full-batch GD draws no batches),
moves no other draw. A number never changes once results depend on it; a new consumer takes
a new number.

In the JAX this package pins, `split(k, n)[i]` is `fold_in(k, i)` (the partitionable
Threefry), so a `split` below a stream is a set of sub-streams `0..n-1` of that stream.

Every variate is drawn in 32 bits and continuous ones are then cast to the run's dtype
(`normal`, `uniform`, `chisquare`, `bernoulli`, `randint` below): JAX's samplers give other
numbers in 64-bit mode (a fair coin compares a float64 uniform, `randint` draws 64-bit
integers), and drawing in one width makes `dtype` change the arithmetic only, so a float64
run sees the data, noise and initial filters of the float32 run with the same key (a paired
precision check).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

__all__ = [
    "WEAK_SET_STREAM",
    "TRAIN_SET_STREAM",
    "TEST_SET_STREAM",
    "SET_STREAMS",
    "FILTERS_STREAM",
    "WISHART_STREAM",
    "POOL_STREAM",
    "BATCH_STREAM",
    "TEACHER_STREAM",
    "DRAWN_NOISE_POOL_STREAM",
    "MIX_STREAM",
    "FILTERS_SIGNAL_STREAM",
    "FILTER_ROWS",
    "FILTER_REST",
    "TEST_ON_FILTERS",
    "DRAW_DTYPE",
    "normal",
    "uniform",
    "chisquare",
    "bernoulli",
    "randint",
]

# Streams of the run key:

#: The weak model's training set; sample `i` draws from `fold_in(stream, i)`.
WEAK_SET_STREAM = 0
#: The student's (padded) training set; sample `i` draws from `fold_in(stream, i)`.
TRAIN_SET_STREAM = 1
#: The test set; sample `i` draws from `fold_in(stream, i)`.
TEST_SET_STREAM = 2
#: The three sets in the order a run draws them (weak, train, test).
SET_STREAMS = (WEAK_SET_STREAM, TRAIN_SET_STREAM, TEST_SET_STREAM)
#: The student's initial filters `W(0)` (the sampled engines and the K-class engine).
FILTERS_STREAM = 3
#: The Wishart and limit engines' noise and filters (the Wishart key, whose streams follow).
WISHART_STREAM = 4
#: The real images' class-pool permutations (sub-streams 0-3, one per class) on the engines
#: that sample the noise (direct, gram). It shares its number with `WISHART_STREAM`, which those
#: engines never draw; the drawn-noise engines take `DRAWN_NOISE_POOL_STREAM` instead.
POOL_STREAM = 4
#: Mini-batch SGD: epoch `e` folds in `e`, then training point `i` folds in `i`.
BATCH_STREAM = 5
#: The coin teacher's flips: the set's stream number (train or test) folds in, then sample `i`.
TEACHER_STREAM = 6
#: The real images' pool permutations on the Wishart and limit engines, whose noise holds 4.
DRAWN_NOISE_POOL_STREAM = 7
#: The mixed oracle's choice between rule and coin: the set's stream number folds in, then
#: sample `i` (a uniform; the coin itself is `TEACHER_STREAM`'s, shared with the coin oracle).
MIX_STREAM = 8

# Streams of the Wishart key `fold_in(run_key, WISHART_STREAM)` (its `split` into two takes
# sub-streams 0 and 1: the Bartlett factor of the weak and training noise, and the test
# noise's coordinates on their span):

#: The initial filters' coordinates on the signal span `e1..ek` (the Wishart and limit engines
#: draw no `W(0)` in `R^d`).
FILTERS_SIGNAL_STREAM = 3
#: The filters' `N(0, 1)` coordinates on the weak and training noise directions, row by row.
FILTER_ROWS = 10
#: The Bartlett factor of the filters' part orthogonal to the weak and used training noise.
FILTER_REST = 11
#: The test noise's coordinates on the filters' own directions.
TEST_ON_FILTERS = 12


#: The width every continuous variate is drawn in, whatever the run's dtype.
DRAW_DTYPE = jnp.float32


def normal(key: PRNGKeyArray, shape: tuple[int, ...], dtype) -> Array:
    """Standard normal variates of `shape`, drawn in `DRAW_DTYPE` and cast to `dtype`."""
    return jax.random.normal(key, shape, DRAW_DTYPE).astype(dtype)


def uniform(key: PRNGKeyArray, dtype, shape: tuple[int, ...] = ()) -> Array:
    """Uniform `[0, 1)` variates, drawn in `DRAW_DTYPE` and cast to `dtype`."""
    return jax.random.uniform(key, shape, DRAW_DTYPE).astype(dtype)


def chisquare(key: PRNGKeyArray, df, dtype) -> Array:
    """A chi-square variate with `df` degrees of freedom, drawn in `DRAW_DTYPE` and cast."""
    return jax.random.chisquare(key, jnp.asarray(df, DRAW_DTYPE), dtype=DRAW_DTYPE).astype(dtype)


def bernoulli(key: PRNGKeyArray, shape: tuple[int, ...] = ()) -> Array:
    """Fair coins (booleans) of `shape`, from a `DRAW_DTYPE` uniform."""
    return jax.random.bernoulli(key, jnp.asarray(0.5, DRAW_DTYPE), shape)


def randint(key: PRNGKeyArray, high: int, shape: tuple[int, ...] = ()) -> Array:
    """Integers uniform on `0..high-1`, drawn as int32."""
    return jax.random.randint(key, shape, 0, high, dtype=jnp.int32)
