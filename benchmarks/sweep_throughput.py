"""Cells per second and peak memory: the vmapped sweep against a Python loop of jitted runs.

    python benchmarks/sweep_throughput.py [--d 64] [--max-tiers 3] [--cpu-devices 1]
                                          [--json OUT.json]

The same 48-run grid (4 n_st x 3 p_b x 4 seeds) is evaluated twice in one invocation, each
way in its own child process so that peak resident memory (ru_maxrss) belongs to one method:

- `vmap`: `w2s_jax.sweeping.driver.run_sweep` (one compile per n_max tier, chunks vmapped);
- `loop`: `jax.jit(run)` called once per run (one compile per n_st shape), summarized per run.

Each child times a cold pass (compiles included) and the best of three warm passes
(compiled programs reused). `--cpu-devices N` gives the sweep N host CPU devices (XLA's
`--xla_force_host_platform_device_count`), over which it shards its chunks.
Not a test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time


def grid(d: int) -> dict:
    return dict(
        name="throughput",
        seeds=4,
        data=dict(d=d, mu_norm=5.0, nu_norm=5.0, sigma_p=1.0, p_h=0.3),
        train=dict(m=8, n_wk=128, n_test=256, T=100, T_wk=50, record_every=10, eta=0.2),
        grid=dict(n_st=[32, 64, 128, 256], p_b=[0.2, 0.4, 0.6]),
    )


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def child(method: str, d: int, max_tiers: int) -> dict:
    import jax

    from w2s_jax.engines.run import run, run_key
    from w2s_jax.model.config import split
    from w2s_jax.sweeping.config_file import load_config
    from w2s_jax.sweeping.driver import run_sweep
    from w2s_jax.sweeping.tables import summarize

    config = load_config(grid(d))
    n_runs = config.n_cells * config.seeds
    baseline = _rss_mb()

    if method == "vmap":

        def one_pass():
            return run_sweep(config, None, quiet=True, max_tiers=max_tiers).summary
    else:
        single = jax.jit(run, static_argnums=0)

        def one_pass():
            rows = []
            for cell in config.cells():
                data, train = config.configs(cell)
                static, params = split(data, train)
                for seed in range(config.seeds):
                    traj = single(static, params, run_key(config.base_seed, seed))
                    rows.append(summarize(static.record_steps, jax.block_until_ready(traj)))
            return rows

    times = []
    for _ in range(4):
        start = time.perf_counter()
        out = one_pass()
        times.append(time.perf_counter() - start)
    final = (
        out["final_test_acc"].tolist()
        if method == "vmap"
        else [float(r["final_test_acc"]) for r in out]
    )
    warm = min(times[1:])
    return dict(
        method=method,
        runs=n_runs,
        cold_s=times[0],
        warm_s=warm,
        cold_cells_per_s=n_runs / times[0],
        warm_cells_per_s=n_runs / warm,
        baseline_rss_mb=baseline,
        peak_rss_mb=_rss_mb(),
        final_test_acc=final,
        devices=[str(x) for x in jax.local_devices()],
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, default=64)
    parser.add_argument("--max-tiers", type=int, default=3)
    parser.add_argument("--cpu-devices", type=int, default=1)
    parser.add_argument("--json", default=None)
    parser.add_argument("--child", choices=("vmap", "loop"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.d, args.max_tiers)))
        return 0
    results = {}
    for method in ("vmap", "loop"):
        env = dict(os.environ, JAX_PLATFORMS="cpu")
        if method == "vmap":
            env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={args.cpu_devices}"
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                method,
                "--d",
                str(args.d),
                "--max-tiers",
                str(args.max_tiers),
            ],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        results[method] = json.loads(done.stdout.strip().splitlines()[-1])
    v, lp = results["vmap"], results["loop"]
    agree = max(abs(a - b) for a, b in zip(v["final_test_acc"], lp["final_test_acc"]))
    print(
        f"grid: 4 n_st x 3 p_b x 4 seeds = {v['runs']} runs, d={args.d}; sweep devices "
        f"{v['devices']}, max_tiers {args.max_tiers}; loop devices {lp['devices']}"
    )
    print(
        f"{'':6} {'cold s':>8} {'cells/s':>9} {'warm s':>8} {'cells/s':>9} "
        f"{'peak RSS MB':>12} {'(+ over import)':>16}"
    )
    for r in (v, lp):
        print(
            f"{r['method']:6} {r['cold_s']:8.2f} {r['cold_cells_per_s']:9.2f} {r['warm_s']:8.2f} "
            f"{r['warm_cells_per_s']:9.2f} {r['peak_rss_mb']:12.0f} "
            f"{r['peak_rss_mb'] - r['baseline_rss_mb']:16.0f}"
        )
    print(
        f"ratio vmap/loop: cold {v['cold_cells_per_s'] / lp['cold_cells_per_s']:.2f}x, "
        f"warm {v['warm_cells_per_s'] / lp['warm_cells_per_s']:.2f}x; "
        f"max |final_test_acc difference| {agree:.2g}"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
