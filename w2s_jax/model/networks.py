"""The two networks of docs/model.md#networks as Equinox modules; patches are handled by einsum.

Both accept one sample `(3, d)` or a batch `(n, 3, d)` and return logits `()` or `(n,)`.
Inner products use `precision="highest"`: on GPUs float32 matmuls otherwise run in TF32,
whose 10-bit mantissa loses the signal-versus-noise contrast the theory is about.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

__all__ = [
    "LinearCNN",
    "ReLUCNN",
    "HIGHEST",
    "relu",
    "output_scale_factor",
    "head",
    "branch_outputs",
    "split_branch_outputs",
]

HIGHEST = jax.lax.Precision.HIGHEST


def relu(z):
    """ReLU with ReLU'(0) = 0 (docs/model.md#networks).

    Not `jnp.maximum(z, 0)`: its derivative at a tie is 1/2. `jax.nn.relu` fixes it to 0.
    """
    return jax.nn.relu(z)


def output_scale_factor(output_scale: str, m: int) -> float:
    """The second-layer weight of docs/model.md#networks: `1/m` (default) or `1`."""
    return 1.0 / m if output_scale == "1/m" else 1.0


def head(
    hidden: Float[Array, "*n s m"], a: Float[Array, "s m"] | None, output_scale: str
) -> Float[Array, "*n s"]:
    """The second layer, for every network and engine: `F_s = sum_r a_{s,r} hidden_{s,r}`,
    with `a` the fixed `output_scale` (`1/m` or `1`) when `None`."""
    if a is None:
        return output_scale_factor(output_scale, hidden.shape[-1]) * hidden.sum(axis=-1)
    return jnp.einsum("...sr,sr->...s", hidden, a, precision=HIGHEST)


def branch_outputs(
    W: Float[Array, "s m d"], a: Float[Array, "s m"] | None, output_scale: str, X
) -> Float[Array, "n s"]:
    """`F_s = head(sum_p ReLU(<w_{s,r}, x_p>))` for each sample of `X` `(n, P, d)`, one output
    per branch `s` (the binary model's two, or one per class)."""
    pre = jnp.einsum("srd,npd->nsrp", W, X, precision=HIGHEST)
    return head(relu(pre).sum(axis=3), a, output_scale)


def split_branch_outputs(
    W: Float[Array, "s m d"],
    a: Float[Array, "s m"] | None,
    output_scale: str,
    signal_patches: Float[Array, "n 2 k"],
    noise: Float[Array, "n d"],
) -> Float[Array, "n s"]:
    """`branch_outputs` of samples given as the signal coordinates of `x1, x2` and the noise
    `x3`: `x1, x2` lie in the span of `e1..ek`, so `<w, x_p>` needs only `w[:k]` and only the
    noise patch needs all of `w` (three times fewer flops)."""
    k = signal_patches.shape[-1]
    pre_signal = jnp.einsum("srk,npk->nsrp", W[..., :k], signal_patches, precision=HIGHEST)
    pre_noise = jnp.einsum("srd,nd->nsr", W, noise, precision=HIGHEST)
    return head(relu(pre_signal).sum(axis=3) + relu(pre_noise), a, output_scale)


def _batched(X):
    return X[None] if X.ndim == 2 else X


class LinearCNN(eqx.Module):
    """The weak model `f_wk(w, X) = sum_p <w, x_p>`, `w` of shape `(d,)`."""

    w: Float[Array, " d"]

    def __call__(self, X: Float[Array, "*n 3 d"]) -> Float[Array, "*n"]:
        logits = jnp.einsum("npd,d->n", _batched(X), self.w, precision=HIGHEST)
        return logits[0] if X.ndim == 2 else logits


class ReLUCNN(eqx.Module):
    """The strong model `f_st(W, X) = F_{+1}(W[0], X) - F_{-1}(W[1], X)` (docs/model.md#networks).

    `F_s = scale * sum_r sum_p ReLU(<w_{s,r}, x_p>)`, scale `1/m` (default) or `1`.
    `W` has shape `(2, m, d)`: `W[0]` the filters of `F_{+1}`, `W[1]` those of `F_{-1}`.

    With `a` given (a trained second layer, docs/model.md#beyond),
    `F_s = sum_r a_{s,r} sum_p ReLU(...)` instead: `a` `(2, m)` holds the sign-aligned output
    weights (the network's weights are `+a_{0,r}` and `-a_{1,r}`), and
    `output_scale` only says how they were initialised.
    """

    W: Float[Array, "2 m d"]
    output_scale: str = eqx.field(static=True, default="1/m")
    a: Float[Array, "2 m"] | None = None

    def branch_outputs(self, X: Float[Array, "n 3 d"]) -> Float[Array, "n 2"]:
        """`(F_{+1}, F_{-1})` for each sample."""
        return branch_outputs(self.W, self.a, self.output_scale, X)

    def __call__(self, X: Float[Array, "*n 3 d"]) -> Float[Array, "*n"]:
        F = self.branch_outputs(_batched(X))
        logits = F[:, 0] - F[:, 1]
        return logits[0] if X.ndim == 2 else logits

    def split_patch_logits(
        self, signal_patches: Float[Array, "n 2 k"], noise: Float[Array, "n d"]
    ) -> Float[Array, " n"]:
        """Logits of samples of D given as the signal coordinates of `x1, x2` and the noise `x3`
        (`split_branch_outputs`); equal to `self(X)` for samples of D. The direct engine
        trains with it."""
        F = split_branch_outputs(self.W, self.a, self.output_scale, signal_patches, noise)
        return F[:, 0] - F[:, 1]
