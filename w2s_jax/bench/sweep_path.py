"""The run a user launches, through `w2s.sweep`, against its flop floor and its parts.

`SWEEP_PATH` is one Wishart run at `n_st = 5000` (`d = 50000`, `m = 20`, `n_wk = 500`,
`T = 100`, 10 log-spaced records, the trained teacher) as a sweep config. `sweep_path` runs it
through `run_sweep` in this process (no store) and reads the manifest's running time, flop
floor and efficiency; then it compiles the tier's program again and calls it (its first call against
a later one: what a one-run tier pays once), and times the run's parts, each jitted apart and
called after a first call: the draws (`sample`: the Bartlett factor and the test noise), the
teacher, the noise Gram blocks and the student's training (which builds the Gram blocks
itself, so its seconds include them). The parts say where the running time goes that the
floor does not count: the draws are random numbers, not products.
"""

from __future__ import annotations

import os
import time
from typing import Any

import jax

from w2s_jax.engines import wishart
from w2s_jax.engines.run import run_key
from w2s_jax.sweeping.chunk import ChunkProgram
from w2s_jax.sweeping.config_file import load_config
from w2s_jax.sweeping.driver import run_sweep
from w2s_jax.sweeping.plan import expand, plan_tiers, stack_params
from w2s_jax.training.teacher import teach

__all__ = ["SWEEP_PATH", "SWEEP_PATH_SMOKE", "sweep_path", "format_sweep_path", "main"]

SWEEP_PATH = dict(
    name="sweep_path",
    description="one Wishart run at n_st = 5000 through w2s.sweep",
    seeds=1,
    data=dict(d=50000, snr=1e-3, nu_norm=1.0, mu_over_nu=1.0, p_h=0.3, p_b=0.4),
    train=dict(
        m=20, sigma_0=0.01, n_wk=500, eta_wk=0.1, T_wk=200, eta=2.0, T=100, n_test=1000,
        record_schedule="log", record_points=10, engine="wishart",
    ),
    grid=dict(n_st=[5000]),
)  # fmt: skip
SWEEP_PATH_SMOKE = SWEEP_PATH | dict(
    data=SWEEP_PATH["data"] | dict(d=64),
    train=SWEEP_PATH["train"] | dict(m=2, n_wk=8, T_wk=2, T=2, n_test=16, record_points=2),
    grid=dict(n_st=[8]),
)


def _calls(fn, *args, reps: int = 2) -> tuple[float, float, Any]:
    """A compiled function's first call and its best later call, in seconds, and its output."""
    return _first_and_later(jax.jit(fn).lower(*args).compile(), *args, reps=reps)


def _first_and_later(compiled, *args, reps: int = 2) -> tuple[float, float, Any]:
    times = []
    for _ in range(reps + 1):
        start = time.perf_counter()
        out = jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - start)
    return times[0], min(times[1:]), out


def sweep_path(grid: dict = SWEEP_PATH, log=print) -> dict[str, Any]:
    """The sweep's manifest numbers, its program's first and later call, and the parts."""
    config = load_config(grid)
    manifest = run_sweep(config, quiet=True, devices=1).manifest
    (tier,) = plan_tiers(expand(config), platform=jax.devices()[0].platform)
    # A new program, as the sweep compiled (the sweep's own has had its first call).
    program = ChunkProgram(tier.static, 1, jax.devices()[:1]).compile(tier.runs)
    first, later, _ = _first_and_later(program, tier.runs, config.base_seed)
    static = tier.static
    params, _ = stack_params(tier.runs, 1, static.dtype)
    params = jax.tree.map(lambda a: a[0], params)
    key = run_key(config.base_seed, tier.runs[0].seed)

    def labels_of(p, d):
        return teach(static, p, key, d.train, d.test, lambda: wishart.teacher(static, p, d))

    # Each part is timed on the outputs of the part before it (the run's own order).
    parts = {}
    *parts["sample"], drawn = _calls(lambda p, k: wishart.sample(static, p, k), params, key)
    *parts["teacher"], labels = _calls(labels_of, params, drawn)
    *parts["noise_gram"], _ = _calls(wishart.noise_gram, drawn.start)
    *parts["train"], _ = _calls(
        lambda p, d, la: wishart.train(static, p, key, drawn=d, labels=la), params, drawn, labels
    )
    result = dict(
        device=str(jax.devices()[0]),
        cpu_count=os.cpu_count(),
        loadavg=os.getloadavg(),
        fields=grid,
        run_s=manifest["run_s"],
        compile_s=manifest["compile_s"],
        flop_floor_s=manifest["flop_floor_s"],
        matmul_gflops=manifest["matmul_gflops"],
        efficiency=manifest["efficiency"],
        program_first_call_s=first,
        program_later_call_s=later,
        parts={name: dict(first_s=f, later_s=s) for name, (f, s) in parts.items()},
    )
    log(
        f"  through w2s.sweep: run {result['run_s']:.2f} s against a floor of "
        f"{result['flop_floor_s']} s (efficiency {result['efficiency']}); the program's first "
        f"call {first:.2f} s, a later one {later:.2f} s"
    )
    return result


def format_sweep_path(result: dict) -> str:
    """The sweep path as two lines and a table of its parts."""
    r = result
    lines = [
        f"sweep path (n_st = {r['fields']['grid']['n_st'][0]}): run {r['run_s']:.2f} s, floor "
        f"{r['flop_floor_s']} s at {r['matmul_gflops']} GFLOP/s, efficiency {r['efficiency']}; "
        f"the tier's program: first call {r['program_first_call_s']:.2f} s, later "
        f"{r['program_later_call_s']:.2f} s",
        "",
        "| part | first call s | later call s |",
        "|---|---|---|",
    ]
    for name, part in r["parts"].items():
        lines.append(f"| {name} | {part['first_s']:.3f} | {part['later_s']:.3f} |")
    return "\n".join(lines)


def main(out: str) -> None:
    """`python -m w2s_jax.bench.sweep_path OUT.json`: this part of `w2s bench` alone."""
    import json

    result = sweep_path()
    print(format_sweep_path(result))
    with open(out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    import sys

    main(sys.argv[1])
