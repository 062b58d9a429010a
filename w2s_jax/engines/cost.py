"""The cost model of the engines: the engine a run uses (`engine = "auto"` picks the cheapest
exact one), its analytic flops, its work per padded sample, and the memory one run needs (for
chunk sizes, and to refuse a run that cannot fit before compiling it).

Every count is the engine's own (`EngineTraits.flops`, `.work`, `.bytes` in
`model.engine_traits`); this module only picks the engine.
"""

from __future__ import annotations

from w2s_jax.model.config import Static, asked_of
from w2s_jax.model.engine_traits import AUTO, TRAITS, auto_choices

__all__ = [
    "engine_flops",
    "engine_used",
    "run_flops",
    "work_per_sample",
    "estimate_run_bytes",
]


def engine_flops(static: Static) -> dict[str, float]:
    """Analytic flop counts of one run by every engine (multiply-add = 2), by engine name.

    Counts matrix products only (sampling, ReLUs and the loss are O(n·m) or O(n·d) a step).
    The counts of the engines that trace `d` do not depend on it (it is 0 in their `Static`).
    """
    return {name: traits.flops(static) for name, traits in TRAITS.items()}


def engine_used(static: Static) -> str:
    """The engine `run` trains with: `static.engine`, a key of `engines.run.ENGINES`.

    `engine = "auto"` takes the one with the fewest flops at this `n_max` among the engines
    exact on the direct engine's draws that run the config (`engine_traits.auto_choices`:
    update rules, classes, real images, teacher), and those exact in law too where
    `static.auto_in_law` (`gram_noise = "wishart"` says that exact in law is enough); a tie
    goes to the first in the registry's order.
    """
    if static.engine != AUTO:
        return static.engine
    choices = auto_choices(asked_of(static), static.auto_in_law)
    return min(choices, key=lambda name: TRAITS[name].flops(static))


def run_flops(static: Static) -> float:
    """Analytic flops of one run with the engine it uses (a padded run costs its `n_max`)."""
    return TRAITS[engine_used(static)].flops(static)


def work_per_sample(static: Static) -> tuple[float, int]:
    """`(flops, power)`: a run costs about `flops · n_max^power` in strong training.

    The direct engine is linear in the padded `n_max` (forward and backward through `2m`
    filters on the `d`-dimensional noise patch); the Gram engine is quadratic (`C @ G`).
    Tier planning weighs padding against compiles with it (`sweeping.plan`).
    """
    return TRAITS[engine_used(static)].work(static)


def estimate_run_bytes(static: Static) -> int:
    """A shape-based upper estimate of one run's device memory (bytes), by the engine it uses
    (`EngineTraits.bytes`): its samples, the strong model's activations and gradients, its
    Gram blocks where it trains in kernel space, doubled for XLA temporaries."""
    return TRAITS[engine_used(static)].bytes(static)
