"""Step 1 of docs/model.md#training and the start of step 3: the three data sets of a run and
the student's initial filters (the weak teacher trained on them is in `training.teacher`).

Each set has its own `fold_in` stream of the run key (`model.streams`: weak, train and test
sets, initial filters), so a run's draws depend only on its key.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from w2s_jax.model import streams
from w2s_jax.model.config import Params, Static
from w2s_jax.model.data import Data, sample_from_keys, sample_keys, signal_vectors
from w2s_jax.model.digit_images import class_means
from w2s_jax.model.digits import sample_image_sets
from w2s_jax.model.streams import FILTERS_STREAM, SET_STREAMS

__all__ = [
    "sample_all",
    "sampler_args",
    "draw_sets",
    "init_filters",
    "signals",
]


def sample_all(static: Static, params: Params, key: PRNGKeyArray) -> tuple[Data, Data, Data]:
    """The weak model's training set, the strong model's (padded) training set, the test set.

    Set `s` draws sample `i` from `fold_in(fold_in(key, s), i)`; the three sets are drawn by
    one vmap over their keys, so the program holds the sampler once, not three times.
    With real images (`static.dataset` "digits" or "mnist") the images come from the run's
    disjoint per-role pools of its permuted classes (`model.digits`).
    """
    kw = sampler_args(static, params)
    sizes = (static.n_wk, static.n_max, static.n_test)
    if static.dataset != "synthetic":
        return sample_image_sets(key, sizes, static, **kw)
    return draw_sets(
        key,
        sizes,
        lambda keys: sample_from_keys(keys, static.d, easy_layout=static.easy_layout, **kw),
    )


def sampler_args(static: Static, params: Params) -> dict:
    """The keyword arguments every sampler of the three sets takes from a run's config."""
    return dict(
        p_e=params.p_e,
        p_h=params.p_h,
        mu_norm=params.mu_norm,
        nu_norm=params.nu_norm,
        sigma_p=params.sigma_p,
        hard_sign=static.hard_sign,
        dtype=jnp.dtype(static.dtype),
    )


def draw_sets(key: PRNGKeyArray, sizes, draw) -> tuple[Data, ...]:
    """Sets of `sizes` samples (weak, train, test), sample `i` of a set drawn from
    `fold_in(fold_in(key, stream), i)` with the set's stream in `streams.SET_STREAMS`,
    all through one call of `draw(keys) -> Data` (so a program holds the sampler once)."""
    keys = jnp.concatenate(
        [sample_keys(jax.random.fold_in(key, s), n) for s, n in zip(SET_STREAMS, sizes)]
    )
    data = draw(keys)
    edges = np.cumsum((0,) + tuple(sizes))
    return tuple(Data(*(field[a:b] for field in data)) for a, b in zip(edges[:-1], edges[1:]))


def signals(static: Static, params: Params, dtype) -> Float[Array, "S k"]:
    """The signal vectors on the signal span (coordinates `e1..ek`, `k = static.signal_dims`)
    whose components `gamma` of the learned filters a run records (`records.signal_components`):
    `(mu_{+1}, mu_{-1}, nu_{+1}, nu_{-1})`; for the digits, the class-mean images of the easy
    and hard pairs scaled to `mu_norm` and `nu_norm`."""
    if static.dataset != "synthetic":
        means = jnp.asarray(class_means(static.digit_classes, static.dataset), dtype)
        norms = jnp.stack([params.mu_norm, params.mu_norm, params.nu_norm, params.nu_norm])
        return norms.astype(dtype)[:, None] * means
    return signal_vectors(
        static.signal_dims, params.mu_norm, params.nu_norm, static.easy_layout, dtype
    )


def init_filters(static: Static, params: Params, key: PRNGKeyArray) -> Float[Array, "2 m d"]:
    """`W(0) ~ N(0, sigma_0^2 I)`, from the run key's `FILTERS_STREAM`."""
    z = streams.normal(
        jax.random.fold_in(key, FILTERS_STREAM), (2, static.m, static.d), jnp.dtype(static.dtype)
    )
    return params.sigma_0 * z
