"""How close a sweep came to the device's matrix-product rate.

The flop floor of a sweep is its analytic flops (`engines.cost.run_flops` of every run it
computed) over the rate of one large matrix product measured in the same process at the runs'
dtype: the fewest seconds its arithmetic could take. Its efficiency is that floor over the
time it ran (wall time less compiling), the share of the product's rate the sweep reached.
`w2s bench` times the same product (`matmul_rate`).
"""

from __future__ import annotations

import functools
import time
from typing import Any

import jax
import jax.numpy as jnp

from w2s_jax.model.config import dtype_scope
from w2s_jax.model.networks import HIGHEST

__all__ = ["MATMUL_N", "matmul_rate", "reachable_rate", "efficiency_fields"]

#: The side of the timed product: about a second in all on two CPU cores (float32), and large
#: enough that a GPU's launch overhead is a small part of it.
MATMUL_N = 2048


def matmul_rate(n: int, reps: int = 3, dtype: str = "float32") -> dict[str, float]:
    """Flops per second of one `n x n` product at `dtype`, best of `reps` calls after a first
    one that compiles: the device's reachable rate."""
    with dtype_scope(dtype):
        a = jax.random.normal(jax.random.key(0), (n, n), dtype)
        f = jax.jit(lambda x: jnp.matmul(x, x, precision=HIGHEST))
        f(a).block_until_ready()
        seconds = []
        for _ in range(reps):
            start = time.perf_counter()
            f(a).block_until_ready()
            seconds.append(time.perf_counter() - start)
    best = min(seconds)
    return dict(n=n, seconds=best, flops_per_s=2.0 * n**3 / best)


@functools.cache
def reachable_rate(dtype: str) -> float:
    """`matmul_rate(MATMUL_N)` in flops per second, measured once per process and dtype (a
    notebook's tenth sweep does not pay for it again)."""
    return matmul_rate(MATMUL_N, dtype=dtype)["flops_per_s"]


def efficiency_fields(
    flops: dict[str, float], wall_s: float, run_s: float, compile_s: float | None, local: bool
) -> dict[str, Any]:
    """The manifest's efficiency fields of a finished sweep.

    Args:
        flops: the analytic flops of the runs computed, by dtype.
        wall_s, run_s, compile_s: the sweep's times (`run_s` is `wall_s` less compiling).
        local: whether the runs computed in this process. Ray's workers compile in parallel
            on devices of their own: there the rate, the floor, the efficiency and the compile
            share are None ("not recorded").

    Returns:
        `flop_floor_s` (the flops over the rate), `matmul_gflops` (the rate; a dict by dtype
        when the runs have several), `efficiency` (`flop_floor_s / run_s`) and `compile_share`
        (`compile_s / wall_s`); None where a time is zero or was not measured.
    """
    share = round(compile_s / wall_s, 4) if local and compile_s is not None and wall_s else None
    fields = dict(flop_floor_s=None, matmul_gflops=None, efficiency=None, compile_share=share)
    if not local or not flops:
        return fields
    rates = {dtype: reachable_rate(dtype) for dtype in sorted(flops)}
    floor = sum(flops[dtype] / rates[dtype] for dtype in flops)
    gflops = {dtype: round(rate / 1e9, 1) for dtype, rate in rates.items()}
    return fields | dict(
        flop_floor_s=_significant(floor),
        matmul_gflops=gflops.popitem()[1] if len(gflops) == 1 else gflops,
        efficiency=_significant(floor / run_s) if run_s > 0 else None,
    )


def _significant(x: float) -> float:
    """Three significant digits: a small sweep's floor is microseconds, a study's hours."""
    return float(f"{x:.3g}")
