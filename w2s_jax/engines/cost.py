"""The cost model of the engines: analytic flops, the engine a run uses (`engine = "auto"`
picks the cheapest), and the memory one run needs (for chunk sizes, and to refuse a run that
cannot fit before compiling it).
"""

from __future__ import annotations

import numpy as np

from w2s_jax.engines.triangular import staircase_flops
from w2s_jax.model.config import GRAM_OPTIMIZERS, Static

__all__ = [
    "ENGINES_USED",
    "engine_flops",
    "engine_used",
    "run_flops",
    "work_per_sample",
    "estimate_run_bytes",
]

#: What `engine_used` returns: the direct engine, the Gram engine on sampled noise, or the
#: Gram engine on the Wishart draw.
ENGINES_USED = ("direct", "gram", "wishart", "limit")


def engine_flops(static: Static) -> dict[str, float]:
    """Analytic flop counts of one run (multiply-add = 2), by engine and noise source.

    Counts matrix products only (sampling, ReLUs and the loss are O(n·m) or O(n·d) a step).
    The Wishart count does not depend on `d` (it is 0 in a Wishart run's `Static`).
    """
    d, m, n, nt, n_wk = static.d, static.m, static.n_max, static.n_test, static.n_wk
    k, T, R = static.signal_dims, static.T, len(static.record_steps)
    weak = 2.0 * 2 * n_wk * d * static.T_wk + 2.0 * 3 * (n + nt) * d
    # Only the noise patch meets all d coordinates (ReLUCNN.split_patch_logits).
    direct = (
        T * 2 * 2 * (2 * m) * n * (d + 2 * k)  # forward + backward
        + R * 2 * (2 * m) * ((n + nt) + n + 4) * d  # logits, rho, gamma
    )
    gram_steps = (
        T * 2 * (2 * m) * n * n  # Cᵀ G, carried to the next step and the record point
        + R * 2 * (2 * m) * n * nt  # test logits
    )
    sampled_setup = 2.0 * (n * (n + nt) + 2 * m * (n + nt)) * d
    n0 = n_wk + n  # the Bartlett factor's side (engines.wishart)
    wishart_setup = (
        sum(staircase_flops(n, n0, n_wk, nt))  # train and train x test Gram blocks
        + 2.0 * 2 * m * (n + nt) * n0  # filters x (train, test)
        + 2.0 * 2 * n_wk * (n_wk + k) * static.T_wk  # weak training in span coordinates
        + 2.0 * (n + nt) * n_wk  # weak logits
    )
    return dict(
        direct=weak + direct,
        gram_sampled=weak + sampled_setup + gram_steps,
        gram_wishart=wishart_setup + gram_steps,
        # orthogonal noise: the Gram is diagonal, a step is O(m·n) (engines.limit)
        limit=2.0 * 2 * n_wk * (n_wk + k) * static.T_wk
        + (T + R) * 2 * 2 * (2 * m) * (n + nt) * (2 * k + 1),
    )


def engine_used(static: Static) -> str:
    """`"direct"`, `"gram"` or `"wishart"`: the engine `run` trains with.

    `engine = "gram"` with `gram_noise = "wishart"` is the Wishart draw. `engine = "auto"`
    takes the one with the fewest flops among those the config allows: the Gram engine for
    update rules linear in the gradient, and the Wishart draw only where `gram_noise =
    "wishart"` says that exact in law is enough (it does not reproduce the sampled draws).
    """
    # The Gram engine needs signals in a known span and isotropic noise off it: K > 2 classes
    # train in the ambient space; real images take it when asked by name, "auto" trains
    # them directly.
    real_auto = static.dataset != "synthetic" and static.engine == "auto"
    if static.engine == "direct" or static.n_classes > 2 or real_auto:
        return "direct"
    if static.engine == "limit":
        return "limit"
    if static.engine == "gram":
        return "wishart" if static.gram_noise == "wishart" else "gram"
    if static.optimizer not in GRAM_OPTIMIZERS:
        return "direct"
    flops = engine_flops(static)
    candidates = {"direct": flops["direct"], "gram": flops["gram_sampled"]}
    if static.gram_noise == "wishart":
        candidates["wishart"] = flops["gram_wishart"]
    return min(candidates, key=candidates.get)


#: The `engine_flops` entry of each engine `engine_used` returns.
_FLOPS_OF = dict(direct="direct", gram="gram_sampled", wishart="gram_wishart", limit="limit")


def run_flops(static: Static) -> float:
    """Analytic flops of one run with the engine it uses (a padded run costs its `n_max`)."""
    return engine_flops(static)[_FLOPS_OF[engine_used(static)]]


def work_per_sample(static: Static) -> tuple[float, int]:
    """`(flops, power)`: a run costs about `flops · n_max^power` in strong training.

    The direct engine is linear in the padded `n_max` (forward and backward through `2m`
    filters on the `d`-dimensional noise patch); the Gram engine is quadratic (`C @ G`).
    Tier planning weighs padding against compiles with it (`sweeping.plan`).
    """
    steps = max(static.T, 1)
    engine = engine_used(static)
    if engine == "direct":
        return 2.0 * 2 * 2 * static.m * static.d * steps, 1
    if engine == "limit":  # a diagonal Gram: linear in n_max as well
        return 2.0 * 2 * 2 * static.m * (2 * static.signal_dims + 1) * steps, 1
    return 2.0 * 2 * static.m * steps, 2


def estimate_run_bytes(static: Static) -> int:
    """A shape-based upper estimate of one run's device memory (bytes).

    The three samples `(n, 3, d)`, the strong model's activations and gradients, and the
    `(2, m, n_max)` noise projections; with the Gram engine its `n_max × (n_max + n_test)`
    blocks, and on the Wishart path its Bartlett factor instead of any `d`-sized array;
    doubled for XLA temporaries.
    """
    itemsize = np.dtype(static.dtype).itemsize
    d, m, n = static.d, static.m, static.n_max
    engine = engine_used(static)
    wishart = engine in ("wishart", "limit")  # no d-sized array
    n_all = static.n_wk + n + static.n_test
    data = 2 * n_all * 3 * (static.signal_dims if wishart else d)  # patches, noise draws
    K = static.n_classes  # m filters per class
    activations = 4 * (n + static.n_test) * 3 * K * m
    weights = (0 if wishart else 8 * K * m * d) + 2 * K * m * n
    gram = 2 * n * (n + static.n_test + 2 * m) if engine != "direct" else 0
    if wishart:
        n1 = static.n_wk + n + 2 * m
        gram += n1 * n1 + static.n_test * n1
    return 2 * itemsize * (data + activations + weights + gram) + 64 * len(static.record_steps)
