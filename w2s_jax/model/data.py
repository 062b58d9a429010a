"""The data distribution D (docs/model.md#data): three patches, easy / hard / both-signal
categories.

Every random draw is made from uniform or standard-normal variates that do not depend on
the parameters (categories by thresholding one uniform per sample against the cumulative
probabilities, noise as `sigma_p` times a standard normal). Cells that differ only in
parameters therefore share their draws (common random numbers), and sample `i` depends only
on `fold_in(key, i)`, so a prefix of a larger sample equals a smaller sample.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, Key, PRNGKeyArray

from w2s_jax.model import streams
from w2s_jax.model.config import ConfigError, DataConfig

__all__ = [
    "Data",
    "sample",
    "sample_with",
    "sample_keys",
    "sample_from_keys",
    "signal_vectors",
    "categories",
    "assemble",
    "EASY",
    "HARD",
    "BOTH",
]

EASY, HARD, BOTH = 0, 1, 2
SIGNAL_DIMS = 4  # mu_{+1}, mu_{-1}, nu_{+1}, nu_{-1} sit on e1..e4


class Data(NamedTuple):
    """A sample of D.

    Attributes:
        X: patches `(n, 3, d)`.
        y: true labels `(n,)` in {+1, -1}.
        category: `(n,)`, 0 easy-only, 1 hard-only, 2 both-signal.
        eps: Rademacher signs `(n,)` in {+1, -1}.
        noise: the noise patch `xi`, `(n, d)` (equal to `X[:, 2]`).
    """

    X: Float[Array, "n 3 d"]
    y: Int[Array, " n"]
    category: Int[Array, " n"]
    eps: Int[Array, " n"]

    @property
    def noise(self) -> Float[Array, "n d"]:
        return self.X[:, 2]


def signal_vectors(d: int, mu_norm, nu_norm, easy_layout: str = "orthogonal", dtype=jnp.float32):
    """`(mu_{+1}, mu_{-1}, nu_{+1}, nu_{-1})` stacked as `(4, d)`, on the first four coordinates."""
    eye = jnp.eye(SIGNAL_DIMS, d, dtype=dtype)
    mu_neg = -eye[0] if easy_layout == "antipodal" else eye[1]
    return jnp.stack([mu_norm * eye[0], mu_norm * mu_neg, nu_norm * eye[2], nu_norm * eye[3]])


class _Draws(NamedTuple):
    """Parameter-free variates of one sample."""

    label_bit: Array  # bool
    sign_bit: Array  # bool
    category_u: Array  # uniform [0, 1)
    z: Array  # standard normal (d,)


def _draw(key: PRNGKeyArray, d: int, dtype) -> _Draws:
    k_label, k_sign, k_cat, k_noise = jax.random.split(key, 4)
    return _Draws(
        label_bit=streams.bernoulli(k_label),
        sign_bit=streams.bernoulli(k_sign),
        category_u=streams.uniform(k_cat, dtype),
        z=streams.normal(k_noise, (d,), dtype),
    )


def sample_keys(key: PRNGKeyArray, n: int) -> Key[Array, " n"]:
    """The keys of samples `0..n-1` of a set: `fold_in(key, i)`."""
    return jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(n))


def sample_with(
    key: PRNGKeyArray,
    n: int,
    d: int,
    **params,
) -> Data:
    """Draw `n` samples of D with traceable numeric parameters (the jitted core uses this).

    Keyword arguments as `sample_from_keys`; sample `i` depends only on `fold_in(key, i)`.
    """
    return sample_from_keys(sample_keys(key, n), d, **params)


def categories(category_u: Float[Array, " n"], p_e, p_h) -> Int[Array, " n"]:
    """Each sample's category from its uniform: below `p_e` easy, below `p_e + p_h` hard,
    else both-signal (`p_b` is implied)."""
    return jnp.where(category_u < p_e, EASY, jnp.where(category_u < p_e + p_h, HARD, BOTH))


def assemble(
    mu_y: Float[Array, "n d"],
    nu_y: Float[Array, "n d"],
    y: Int[Array, " n"],
    eps: Int[Array, " n"],
    category: Int[Array, " n"],
    z: Float[Array, "n d"],
    *,
    sigma_p,
    signal_dims: int,
    hard_sign: str = "shared",
) -> Data:
    """The three patches of each sample from its easy and hard signal vectors (the one patch
    assembly of every data source: binary, K classes and real images).

    Easy-only `(mu_y, mu_y, xi)`; hard-only `(eps·nu_y, eps·nu_y, xi)` (`hard_sign =
    "antipodal"`: `(nu_y, -nu_y, xi)`); both-signal `(mu_y, eps·nu_y, xi)`. The noise
    `xi = sigma_p·z` is zero on the signal span `e1..e{signal_dims}`:
    `xi ~ N(0, sigma_p² (I - P))`.
    """
    eps_nu_y = eps[:, None].astype(nu_y.dtype) * nu_y
    hard = (eps_nu_y, eps_nu_y) if hard_sign == "shared" else (nu_y, -nu_y)
    cat = category[:, None]
    x1 = jnp.where(cat == HARD, hard[0], mu_y)
    x2 = jnp.where(cat == EASY, mu_y, jnp.where(cat == HARD, hard[1], eps_nu_y))
    xi = sigma_p * z.at[:, :signal_dims].set(0.0)
    return Data(X=jnp.stack([x1, x2, xi], axis=1), y=y, category=category, eps=eps)


def sample_from_keys(
    keys: Key[Array, " n"],
    d: int,
    *,
    p_e,
    p_h,
    mu_norm,
    nu_norm,
    sigma_p,
    easy_layout: str = "orthogonal",
    hard_sign: str = "shared",
    dtype=jnp.float32,
) -> Data:
    """One sample of D per key, with traceable numeric parameters."""
    draws = jax.vmap(lambda k: _draw(k, d, dtype))(keys)
    y = jnp.where(draws.label_bit, 1, -1)
    mu_pos, mu_neg, nu_pos, nu_neg = signal_vectors(d, mu_norm, nu_norm, easy_layout, dtype)
    is_pos = (y == 1)[:, None]
    return assemble(
        jnp.where(is_pos, mu_pos, mu_neg),
        jnp.where(is_pos, nu_pos, nu_neg),
        y,
        jnp.where(draws.sign_bit, 1, -1),
        categories(draws.category_u, p_e, p_h),
        draws.z,
        sigma_p=sigma_p,
        signal_dims=SIGNAL_DIMS,
        hard_sign=hard_sign,
    )


def sample(key: PRNGKeyArray, n: int, cfg: DataConfig, dtype=jnp.float32) -> Data:
    """Draw `n` samples of D (docs/model.md#data): `.X (n,3,d)`, `.y`, `.category`, `.eps`."""
    if cfg.n_classes != 2:
        raise ConfigError(
            f"n_classes: sample draws the binary model; use sample_classes for "
            f"n_classes = {cfg.n_classes}"
        )
    return sample_with(
        key,
        n,
        cfg.d,
        p_e=cfg.p_e,
        p_h=cfg.p_h,
        mu_norm=cfg.mu_norm,
        nu_norm=cfg.nu_norm,
        sigma_p=cfg.sigma_p,
        easy_layout=cfg.easy_layout,
        hard_sign=cfg.hard_sign,
        dtype=dtype,
    )
