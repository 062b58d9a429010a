"""Products of the Bartlett factor's rows that skip its zero upper triangle.

Row `i` of the training block of the factor is zero past column `lead + i` (`lead = n_wk`,
the weak model's columns before it). A dense `R Rᵀ` spends `2·n²·N1` flops on it; by row
blocks of `GRAM_BLOCK`, each block pair `(bi, bj ≤ bi)` only runs over the columns that block `bj`
can reach, and the upper blocks are the lower ones transposed: about `n²·(lead + n/3)` flops.
Small factors (one block) take the dense product unchanged, so their bits do not move.
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Float

from w2s_jax.engines.gram import cross
from w2s_jax.model import engine_traits
from w2s_jax.model.networks import HIGHEST

__all__ = ["GRAM_BLOCK", "staircase_gram", "staircase_cross", "staircase_flops"]

#: Rows per block of the staircase products (the cost model counts by it).
GRAM_BLOCK = engine_traits.GRAM_BLOCK


def _blocks(n: int) -> list[tuple[int, int]]:
    return [(start, min(start + GRAM_BLOCK, n)) for start in range(0, n, GRAM_BLOCK)]


def staircase_gram(rows: Float[Array, "n N1"], lead: int) -> Float[Array, "n n"]:
    """`rows rowsᵀ` for rows that are zero past column `lead + i` (row `i`, 0-based)."""
    n, width = rows.shape
    if n <= GRAM_BLOCK:
        return cross(rows, rows)
    spans = _blocks(n)
    lower = {}
    for bi, (a, b) in enumerate(spans):
        for bj, (c, e) in enumerate(spans[: bi + 1]):
            w = min(lead + e, width)
            lower[bi, bj] = jnp.matmul(rows[a:b, :w], rows[c:e, :w].T, precision=HIGHEST)
    count = len(spans)
    pick = lambda bi, bj: lower[bi, bj] if bj <= bi else lower[bj, bi].T  # noqa: E731
    return jnp.block([[pick(bi, bj) for bj in range(count)] for bi in range(count)])


def staircase_cross(rows: Float[Array, "n N1"], other: Float[Array, "k N1"], lead: int):
    """`rows otherᵀ` for staircase `rows` (see `staircase_gram`): `(n, k)`."""
    n, width = rows.shape
    if n <= GRAM_BLOCK:
        return cross(rows, other)
    parts = []
    for a, b in _blocks(n):
        w = min(lead + b, width, other.shape[-1])
        parts.append(jnp.matmul(rows[a:b, :w], other[:, :w].T, precision=HIGHEST))
    return jnp.concatenate(parts, axis=0)


def staircase_flops(n: int, width: int, lead: int, k: int) -> tuple[float, float]:
    """Flops of `staircase_gram` and of `staircase_cross` against `k` rows, at this module's
    block size (`engine_traits.staircase_flops`, which the cost model counts with)."""
    return engine_traits.staircase_flops(n, width, lead, k, GRAM_BLOCK)
