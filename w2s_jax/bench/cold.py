"""Cold start: a whole grid of many small cells with several `n_st`, each way in a fresh process.

(a) `loop`: what a user writes first, `jax.jit(w2s.run, static_argnums=0)` called once per
run; `jax.jit` caches by the static part, so it compiles once per distinct shape (here one
per `n_st`) and dispatches every run on its own. (b) `sweep`: `w2s.sweep` with an empty
persistent compile cache (one compile per `n_max` tier, runs vmapped in chunks). (c) `sweep`
again in a new process with the cache that (b) filled: its compile seconds are what a second
sweep of the same shapes pays. A fresh process per way means no in-memory JAX cache is shared
between them, and all three run in one `w2s bench` invocation, one after another.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

__all__ = ["GRID", "SMOKE_GRID", "cold_start", "format_cold"]

#: 8 n_st x 4 p_b x 4 nu_norm cells x 4 seeds = 512 runs of a fraction of a millisecond each.
GRID = dict(
    name="cold_start",
    seeds=4,
    data=dict(d=40, p_h=0.3),
    train=dict(m=4, n_wk=40, n_test=100, T=100, T_wk=50, record_every=10),
    grid=dict(
        n_st=[8, 12, 16, 20, 24, 32, 40, 48],
        p_b=[0.2, 0.3, 0.4, 0.5],
        nu_norm=[3.0, 4.0, 5.0, 6.0],
    ),
)
SMOKE_GRID = dict(
    name="cold_start_smoke",
    seeds=1,
    data=dict(d=16, p_h=0.3),
    train=dict(m=2, n_wk=8, n_test=16, T=2, T_wk=2, record_every=1),
    grid=dict(n_st=[4, 8]),
)


def _child(mode: str, grid: dict) -> dict[str, Any]:
    """In the fresh process: run the grid one way and time it (imports excluded)."""
    import jax

    from w2s_jax.engines.run import run, run_key
    from w2s_jax.model.config import split
    from w2s_jax.sweeping.config_file import load_config
    from w2s_jax.sweeping.driver import run_sweep
    from w2s_jax.sweeping.tables import summarize

    config = load_config(grid)
    start = time.perf_counter()
    if mode == "loop":
        single = jax.jit(run, static_argnums=0)
        shapes, final = set(), []
        for cell in config.cells():
            data, train = config.configs(cell)
            static, params = split(data, train)
            shapes.add(static)
            for seed in range(config.seeds):
                traj = jax.block_until_ready(
                    single(static, params, run_key(config.base_seed, seed))
                )
                final.append(float(summarize(static.record_steps, traj)["final_test_acc"]))
        return dict(seconds=time.perf_counter() - start, compiles=len(shapes), final=final)
    from w2s_jax.sweeping import compile_cache

    compile_cache.enable()  # as the `w2s sweep` command does (W2S_CACHE_DIR: the bench's folder)
    result = run_sweep(config, None, quiet=True)
    m = result.manifest
    return dict(
        seconds=time.perf_counter() - start,
        compiles=len(m["tiers"]),
        compile_s=m["compile_s"],
        lower_s=sum(t["lower_s"] for t in m["tiers"]),
        run_s=m["run_s"],
        cache=[t["cache"] for t in m["tiers"]],
        n_max=[t["n_max"] for t in m["tiers"]],
        final=result.summary["final_test_acc"].tolist(),
    )


def _spawn(mode: str, grid: dict, cache: str) -> dict[str, Any]:
    env = dict(os.environ, W2S_CACHE_DIR=cache)
    done = subprocess.run(
        [sys.executable, "-m", "w2s_jax.bench.cold", mode, json.dumps(grid)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"bench child {mode!r} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def cold_start(grid: dict = GRID, log=print) -> dict[str, Any]:
    """(a) loop, (b) sweep with an empty cache, (c) sweep with that cache, each in a new process."""
    with tempfile.TemporaryDirectory(prefix="w2s-bench-cache-") as cache:
        loop = _spawn("loop", grid, "off")
        log(f"  loop          {loop['seconds']:8.2f} s ({loop['compiles']} compiles)")
        sweep = _spawn("sweep", grid, cache)
        log(f"  sweep, cold   {sweep['seconds']:8.2f} s (compile {sweep['compile_s']:.2f} s)")
        again = _spawn("sweep", grid, cache)
        log(f"  sweep, cached {again['seconds']:8.2f} s (compile {again['compile_s']:.2f} s)")
    runs = len(loop["final"])
    agree = max(abs(a - b) for a, b in zip(loop.pop("final"), sweep.pop("final")))
    again.pop("final")
    return dict(
        grid=grid,
        runs=runs,
        loop=loop,
        sweep=sweep,
        sweep_cached=again,
        ratio_sweep_over_loop=loop["seconds"] / sweep["seconds"],
        second_sweep_compile_s=again["compile_s"],
        max_final_test_acc_difference=agree,
    )


def format_cold(result: dict[str, Any]) -> str:
    """The cold-start study as a Markdown table and its two headline numbers."""
    rows = [
        ("(a) loop of jitted runs", result["loop"]),
        ("(b) sweep, empty cache", result["sweep"]),
        ("(c) sweep, cache of (b)", result["sweep_cached"]),
    ]
    lines = [
        "| cold start | runs | compiles | compile s | wall s | runs/s |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in rows:
        compile_s = f"{r['compile_s']:.2f}" if "compile_s" in r else "in wall"
        lines.append(
            f"| {name} | {result['runs']} | {r['compiles']} | {compile_s} | "
            f"{r['seconds']:.2f} | {result['runs'] / r['seconds']:.1f} |"
        )
    lines.append(
        f"\nsweep / loop, cold: {result['ratio_sweep_over_loop']:.1f}x; a second sweep "
        f"compiles in {result['second_sweep_compile_s']:.2f} s "
        f"(cache: {', '.join(result['sweep_cached']['cache'])})"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1], json.loads(sys.argv[2]))))
