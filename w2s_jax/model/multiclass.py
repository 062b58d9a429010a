"""K classes (beyond the theorems, docs/model.md#beyond): the data distribution and the two
networks.

`K = n_classes` easy signals `mu_k = mu_norm·e_{k+1}` and `K` hard signals
`nu_k = nu_norm·e_{K+k+1}` (`k = 0..K-1`), mutually orthogonal on the first `2K` coordinates.
The label `y` is a class index, uniform on `0..K-1`; the three categories, the Rademacher
sign `eps` on the hard signal and the noise are those of the binary model (docs/model.md#data).
The weak linear CNN has one weight vector per class, the strong ReLU CNN `m` filters per
class; both output `K` logits.

At `K = 2`, class 0 is the label `+1` and class 1 the label `-1` of the binary model, the
samples are the binary sampler's own draws, and the strong model's logits are
`(F_{+1}, F_{-1})`: softmax cross-entropy on two logits is the logistic loss of their
difference. Only the weak model differs: it has two weight vectors, whose difference (the
binary `w`) moves at twice the step (`engines.multiclass`).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, Key, PRNGKeyArray

from w2s_jax.model import streams
from w2s_jax.model.config import DataConfig
from w2s_jax.model.data import Data, assemble, categories, sample_keys
from w2s_jax.model.networks import HIGHEST, branch_outputs, split_branch_outputs

__all__ = [
    "class_signals",
    "sample_classes_from_keys",
    "sample_classes",
    "ClassesLinearCNN",
    "ClassesReLUCNN",
    "predict_class",
]


def class_signals(n_classes: int, d: int, mu_norm, nu_norm, dtype=jnp.float32):
    """`(mu_0..mu_{K-1}, nu_0..nu_{K-1})` stacked as `(2K, d)` on the first `2K` coordinates."""
    eye = jnp.eye(2 * n_classes, d, dtype=dtype)
    return jnp.concatenate([mu_norm * eye[:n_classes], nu_norm * eye[n_classes:]])


def sample_classes_from_keys(
    keys: Key[Array, " n"],
    d: int,
    n_classes: int,
    *,
    p_e,
    p_h,
    mu_norm,
    nu_norm,
    sigma_p,
    hard_sign: str = "shared",
    dtype=jnp.float32,
) -> Data:
    """One K-class sample per key. `Data.y` holds class indices `0..K-1`.

    The variates are those of `model.data` (label, sign, category, noise from one key split
    in four), the label drawn as a uniform class (a fair bit at `K = 2`: the binary draws).
    """
    K = n_classes

    def draw(key):
        k_label, k_sign, k_cat, k_noise = jax.random.split(key, 4)
        if K == 2:
            label = jnp.where(streams.bernoulli(k_label), 0, 1)
        else:
            label = streams.randint(k_label, K)
        return (
            label,
            jnp.where(streams.bernoulli(k_sign), 1, -1),
            streams.uniform(k_cat, dtype),
            streams.normal(k_noise, (d,), dtype),
        )

    y, eps, category_u, z = jax.vmap(draw)(keys)
    signals = class_signals(K, d, mu_norm, nu_norm, dtype)
    return assemble(
        signals[y],
        signals[K + y],
        y,
        eps,
        categories(category_u, p_e, p_h),
        z,
        sigma_p=sigma_p,
        signal_dims=2 * K,
        hard_sign=hard_sign,
    )


def sample_classes(key: PRNGKeyArray, n: int, cfg: DataConfig, dtype=jnp.float32) -> Data:
    """Draw `n` samples of the K-class distribution (`K = cfg.n_classes`); `.y` class indices."""
    return sample_classes_from_keys(
        sample_keys(key, n),
        cfg.d,
        cfg.n_classes,
        p_e=cfg.p_e,
        p_h=cfg.p_h,
        mu_norm=cfg.mu_norm,
        nu_norm=cfg.nu_norm,
        sigma_p=cfg.sigma_p,
        hard_sign=cfg.hard_sign,
        dtype=dtype,
    )


def predict_class(logits: Float[Array, "n K"]) -> Int[Array, " n"]:
    """Argmax over classes; a tie goes to the lowest index (class 0 is the binary `+1`)."""
    return jnp.argmax(logits, axis=-1)


class ClassesLinearCNN(eqx.Module):
    """The weak model with one weight vector per class: `z_k = sum_p <w_k, x_p>`, `w` `(K, d)`."""

    w: Float[Array, "K d"]

    def __call__(self, X: Float[Array, "n 3 d"]) -> Float[Array, "n K"]:
        return jnp.einsum("npd,kd->nk", X, self.w, precision=HIGHEST)


class ClassesReLUCNN(eqx.Module):
    """The strong model, `m` filters per class: `F_k = sum_r a_{k,r} sum_p ReLU(<w_{k,r}, x_p>)`.

    `W` `(K, m, d)`; `a` `(K, m)` the output weights, the fixed `1/m` (or `1`) when `None`.
    """

    W: Float[Array, "K m d"]
    output_scale: str = eqx.field(static=True, default="1/m")
    a: Float[Array, "K m"] | None = None

    def split_patch_logits(
        self, signal_patches: Float[Array, "n 2 k"], noise: Float[Array, "n d"]
    ) -> Float[Array, "n K"]:
        """Logits from the signal coordinates of `x1, x2` and the noise patch (as `ReLUCNN`)."""
        return split_branch_outputs(self.W, self.a, self.output_scale, signal_patches, noise)

    def __call__(self, X: Float[Array, "n 3 d"]) -> Float[Array, "n K"]:
        return branch_outputs(self.W, self.a, self.output_scale, X)
