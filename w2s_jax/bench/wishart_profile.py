"""Where a Wishart run's time goes, at the studies' sizes (`w2s bench`, `wishart_profile`).

A run is the factor (the Bartlett draw), the Gram blocks built from it, `T` GD steps (the noise
product `C G` and the rest: activation masks, the loss, the update) and the evaluation at each
record point, then the host transfer of the records. Whole runs are timed with different
record schedules and `T` (setup only; `T` steps recording at 0 and `T` only; the log-spaced
records), and the two products on their own; each part's analytic flops over its time, as a
share of the matrix-product rate measured in the same process.

A part found as the difference of two timings (a step, an evaluation, the host transfer) is
reported only when the difference exceeds the two timings' spread over their repetitions;
otherwise its seconds and share are `None` ("not separable"): at `n_st = 20000` the setup
alone takes about as long as 40 steps, and a best-of-3 difference came out at a quarter of a
step (a share of 2.5).
"""

from __future__ import annotations

import time
from typing import NamedTuple

import jax
import jax.numpy as jnp

from w2s_jax.engines.cost import run_flops
from w2s_jax.engines.run import run, run_key
from w2s_jax.engines.triangular import staircase_cross, staircase_flops, staircase_gram
from w2s_jax.engines.wishart import bartlett_factor
from w2s_jax.model.config import DataConfig, TrainConfig, split
from w2s_jax.model.networks import HIGHEST

__all__ = ["PROFILE_FIELDS", "PROFILE_SIZES", "PROFILE_SMOKE", "profile_wishart", "format_profile"]

#: The main job's point (sweeps/paper.toml) with `d` given and `sigma_p` from `snr = 1e-3`.
PROFILE_FIELDS = dict(
    data=dict(d=30000, sigma_p=(1 / 30) ** 0.5, nu_norm=1.0, mu_norm=1.0, p_h=0.3, p_b=0.4),
    train=dict(
        m=20, sigma_0=0.01, n_wk=1000, eta_wk=0.1, T_wk=200, eta=2.0, T=40, n_test=1000,
        record_schedule="log", record_points=40, engine="gram", gram_noise="wishart",
    ),
)  # fmt: skip
PROFILE_SIZES = (2000, 5000, 20000)
PROFILE_SMOKE = dict(sizes=(8,), data=dict(d=64), train=dict(m=2, n_wk=8, T_wk=2, T=2, n_test=16))


class Timing(NamedTuple):
    best: float  # the fastest repetition
    spread: float  # slowest minus fastest


def _timed(fn, reps: int) -> Timing:
    fn()  # compile and warm up
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return Timing(min(times), max(times) - min(times))


def _best(fn, reps: int) -> float:
    return _timed(fn, reps).best


def difference(a: Timing, b: Timing, per: int = 1) -> float | None:
    """`(a - b) / per`, or `None` when the difference is within the timings' spread."""
    gap = a.best - b.best
    return gap / per if gap > a.spread + b.spread else None


def _run_timings(static, params, key, reps) -> tuple[Timing, Timing]:
    """A compiled run's time to its results on the device, and to them on the host."""
    compiled = jax.jit(run, static_argnums=0).lower(static, params, key).compile()
    jax.block_until_ready(compiled(params, key))
    on_device = _timed(lambda: jax.block_until_ready(compiled(params, key)), reps)
    on_host = _timed(lambda: jax.device_get(compiled(params, key)), reps)
    return on_device, on_host


def profile_one(n_st: int, fields: dict, rate: float, reps: int) -> dict:
    """One size: the parts' seconds, flops and shares of `rate` (flops per second)."""
    static, params = split(
        DataConfig(**fields["data"]), TrainConfig(**(fields["train"] | dict(n_st=n_st)))
    )
    key, T, steps = run_key(0, 0), static.T, static.record_steps
    R = len(steps)
    setup, _ = _run_timings(static._replace(T=0, record_steps=(0,)), params, key, reps)
    plain, _ = _run_timings(static._replace(record_steps=(0, T)), params, key, reps)
    whole, on_host = _run_timings(static, params, key, reps)
    n, two_m = static.n_max, 2 * static.m
    lead = static.n_wk
    n1 = lead + n
    factor = jax.jit(lambda k: bartlett_factor(k, n1, params.d))
    factor_s = _best(lambda: factor(key).block_until_ready(), reps)
    rows = factor(key)[lead:]
    test = jax.random.normal(key, (static.n_test, n1), rows.dtype)
    blocks = jax.jit(lambda r, t: (staircase_gram(r, lead), staircase_cross(r, t, lead)))
    gram_s = _best(lambda: jax.block_until_ready(blocks(rows, test)), reps)
    gram_flops = sum(staircase_flops(n, n1, lead, static.n_test))
    G = blocks(rows, test)[0]
    C = jax.random.normal(key, (n, two_m), rows.dtype)  # the engine's layout (engines.gram)
    product = jax.jit(lambda C, G: jnp.matmul(C.T, G, precision=HIGHEST))
    product_s = _best(lambda: product(C, G).block_until_ready(), max(reps, 3))
    product_flops = 2.0 * two_m * n * n
    step_s = difference(plain, setup, max(T, 1))
    eval_s = difference(whole, plain, max(R - 2, 1))
    eval_flops = 2.0 * two_m * n * static.n_test  # the train product is the step's

    def part(seconds, flops=None):
        known = seconds is not None and seconds > 0
        share = flops / seconds / rate if known and flops is not None else None
        return dict(seconds=seconds, flops=flops, share=share)

    return dict(
        n_st=n_st,
        T=T,
        records=R,
        run=part(whole.best, run_flops(static)),
        setup=part(setup.best),
        factor=part(factor_s),
        gram_blocks=part(gram_s, gram_flops),
        step=part(step_s, product_flops),
        noise_product=part(product_s, product_flops),
        rest_of_step=part(None if step_s is None else max(step_s - product_s, 0.0)),
        evaluation=part(eval_s, eval_flops),
        host_transfer=part(difference(on_host, whole)),
    )


PARTS = ("run", "setup", "factor", "gram_blocks", "step", "noise_product", "rest_of_step")
PARTS += ("evaluation", "host_transfer")


def profile_wishart(rate: float, smoke: bool, reps: int, log=print) -> list[dict]:
    """Profile every size; `rate` is the matrix-product rate of the same process."""
    if smoke:
        fields = dict(
            data=PROFILE_FIELDS["data"] | PROFILE_SMOKE["data"],
            train=PROFILE_FIELDS["train"] | PROFILE_SMOKE["train"],
        )
        sizes = PROFILE_SMOKE["sizes"]
    else:
        fields, sizes = PROFILE_FIELDS, PROFILE_SIZES
    rows = []
    for n_st in sizes:
        row = profile_one(n_st, fields, rate, reps)
        step = row["step"]["seconds"]
        step = "not separable" if step is None else f"{step * 1e3:.1f} ms"
        log(
            f"  n_st={n_st:6d} run {row['run']['seconds']:.2f} s "
            f"(share {row['run']['share'] or 0:.2f}), step {step}"
        )
        rows.append(row)
    return rows


def format_profile(rows: list[dict]) -> str:
    """One line per size and part: seconds (per step / per record where so named), share."""
    lines = ["| n_st | part | s | share of matmul rate |", "|---|---|---|---|"]
    for row in rows:
        for name in PARTS:
            p = row[name]
            share = "" if p["share"] is None else f"{p['share']:.2f}"
            seconds = "not separable" if p["seconds"] is None else f"{p['seconds']:.4g}"
            lines.append(f"| {row['n_st']} | {name} | {seconds} | {share} |")
    return "\n".join(lines)
