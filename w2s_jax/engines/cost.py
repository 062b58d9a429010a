"""The cost model of the engines: analytic flops, the engine `"auto"` picks, and the memory one
run needs (for chunk sizes, and to refuse a run that cannot fit before compiling it).
"""

from __future__ import annotations

import numpy as np

from w2s_jax.model.config import GRAM_OPTIMIZERS, Static

__all__ = ["engine_flops", "gram_is_cheaper", "use_gram", "flops_per_sample", "estimate_run_bytes"]


def engine_flops(static: Static) -> dict[str, float]:
    """Analytic flop counts of one run (multiply-add = 2), by engine and noise source.

    Counts matrix products only (sampling, ReLUs and the loss are O(n·m) or O(n·d) a step).
    """
    d, m, n, nt, n_wk = static.d, static.m, static.n_max, static.n_test, static.n_wk
    T, R = static.T, len(static.record_steps)
    weak = 2.0 * 2 * n_wk * d * static.T_wk + 2.0 * 3 * (n + nt) * d
    # Only the noise patch meets all d coordinates (ReLUCNN.split_patch_logits).
    direct = (
        T * 2 * 2 * (2 * m) * n * (d + 2 * static.signal_dims)  # forward + backward
        + R * 2 * (2 * m) * ((n + nt) + n + 4) * d
    )  # logits, rho, gamma
    gram_steps = (
        T * 2 * (2 * m) * n * n  # C @ G
        + R * 2 * (2 * m) * n * (2 * n + nt)
    )  # train, rho, test logits
    sampled_setup = 2.0 * (n * (n + nt) + 2 * m * (n + nt)) * d
    n1 = n_wk + n + 2 * m
    k = min(d - static.signal_dims, n1)
    kt = min(k, n_wk + n)
    kw = min(k, n_wk)
    wishart_setup = (
        2.0 * n * n * kt
        + 2.0 * n * nt * kt
        + 2.0 * 2 * m * (n + nt) * k
        + 2.0 * 2 * n_wk * (kw + static.signal_dims) * static.T_wk
        + 2.0 * (n + nt) * kw
    )
    return dict(
        direct=weak + direct,
        gram_sampled=weak + sampled_setup + gram_steps,
        gram_wishart=wishart_setup + gram_steps,
    )


def gram_is_cheaper(static: Static) -> bool:
    """For `engine="auto"`: the Gram engine when it needs fewer flops (and the rule allows it)."""
    if static.optimizer not in GRAM_OPTIMIZERS:
        return False
    if static.gram_noise == "wishart":
        return True  # the wishart path exists only in kernel space
    flops = engine_flops(static)
    return flops["gram_sampled"] < flops["direct"]


def use_gram(static: Static) -> bool:
    """Whether `run` trains the strong model in kernel space (the Gram engine)."""
    return static.engine == "gram" or (static.engine == "auto" and gram_is_cheaper(static))


def flops_per_sample(static: Static) -> float:
    """Strong-training flops that one padded training sample costs over a run.

    Forward and backward through `2m` filters on the noise patch (the only one with `d`
    coordinates, see `ReLUCNN.split_patch_logits`), two flops a multiply-add, `T` steps.
    """
    return 2.0 * 2 * 2 * static.m * static.d * max(static.T, 1)


def estimate_run_bytes(static: Static) -> int:
    """A shape-based upper estimate of one run's device memory (bytes).

    The three samples `(n, 3, d)`, the strong model's activations and gradients, and the
    `(2, m, n_max)` noise projections; with the Gram engine its `n_max × (n_max + n_test)`
    blocks, and on the Wishart path its Bartlett factor instead of any `d`-sized array;
    doubled for XLA temporaries.
    """
    itemsize = np.dtype(static.dtype).itemsize
    d, m, n = static.d, static.m, static.n_max
    wishart = static.gram_noise == "wishart"
    n_all = static.n_wk + n + static.n_test
    data = 2 * n_all * 3 * (4 if wishart else d)  # patches plus draws of the noise
    activations = 4 * (n + static.n_test) * 3 * 2 * m
    weights = (0 if wishart else 8 * 2 * m * d) + 2 * 2 * m * n
    gram = 2 * n * (n + static.n_test + 2 * m) if use_gram(static) else 0
    if wishart:
        n1 = static.n_wk + n + 2 * m
        gram += n1 * n1 + static.n_test * n1
    return 2 * itemsize * (data + activations + weights + gram) + 64 * len(static.record_steps)
