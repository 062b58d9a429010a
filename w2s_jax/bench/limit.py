"""The `d → ∞` limit engine in `w2s bench`: one run beside the Wishart engine at equal `n_st`
(the limit has no `C G` product and draws only the factor blocks its filters need), and the
runs per second of a whole limit grid through `w2s sweep`.
"""

from __future__ import annotations

import dataclasses
import time

import jax

from w2s_jax.engines.run import run, run_key
from w2s_jax.model.config import DATA_FIELDS, DataConfig, TrainConfig, split

__all__ = ["LimitSizes", "LIMIT", "LIMIT_SMOKE", "limit_study", "format_limit"]


@dataclasses.dataclass(frozen=True)
class LimitSizes:
    equal: dict  # one run of each engine at the same n_st (data and train fields)
    grid: dict  # the sweep config of the grid (name, seeds, data, train, grid)
    reps: int


_EQUAL = dict(d=100_000, n_st=4000, m=20, n_wk=1000, T=400, record_schedule="log", record_points=30)
_GRID_AXES = dict(
    n_st=[100, 200, 300, 400, 500],
    p_b=[0.2, 0.3, 0.4, 0.5, 0.6],
    eta=[0.5, 1.0, 2.0, 4.0, 8.0],
    sigma_0=[0.001, 0.01, 0.1, 1.0],
    p_h=[0.1, 0.15, 0.2, 0.25, 0.3],
)
LIMIT = LimitSizes(
    equal=_EQUAL,
    grid=dict(
        name="bench_limit",
        seeds=4,  # 5·5·5·4·5 cells × 4 seeds = 10⁴ runs
        data=dict(nu_norm=1.0, mu_over_nu=1.0),
        train=dict(m=20, n_wk=1000, T=200, teacher="oracle", engine="limit"),
        grid=_GRID_AXES,
    ),
    reps=3,
)
_TINY = dict(d=64, n_st=8, m=2, n_wk=8, n_test=16, T=2, T_wk=2, record_every=1)
LIMIT_SMOKE = LimitSizes(
    equal=_TINY,
    grid=dict(
        name="bench_limit_smoke",
        seeds=2,
        data=dict(d=64),
        train=dict(m=2, n_wk=8, n_test=16, T=2, T_wk=2, record_every=1, engine="limit"),
        grid=dict(n_st=[8], p_b=[0.2, 0.4]),
    ),
    reps=1,
)


def grid_runs(grid: dict) -> int:
    """Runs of a sweep config: cells × seeds."""
    cells = 1
    for values in grid["grid"].values():
        cells *= len(values)
    return cells * grid["seeds"]


def _one_run(fields: dict, **engine):
    fields = fields | engine
    data = DataConfig(**{k: v for k, v in fields.items() if k in DATA_FIELDS})
    train = TrainConfig(**{k: v for k, v in fields.items() if k not in DATA_FIELDS})
    static, params = split(data, train)
    key = run_key(0, 0)
    start = time.perf_counter()
    compiled = jax.jit(run, static_argnums=0).lower(static, params, key).compile()
    compile_s = time.perf_counter() - start
    return (lambda: jax.block_until_ready(compiled(params, key))), compile_s


def limit_study(sizes: LimitSizes, log=print) -> dict:
    """The limit against the Wishart engine at equal `n_st`, and a limit grid's runs/s."""
    engines = dict(limit=dict(engine="limit"), wishart=dict(engine="gram", gram_noise="wishart"))
    prepared = {name: _one_run(sizes.equal, **switches) for name, switches in engines.items()}
    for go, _ in prepared.values():
        go()
    best = dict.fromkeys(prepared, float("inf"))
    for _ in range(sizes.reps):  # round-robin: a burst of load hits both alike
        for name, (go, _) in prepared.items():
            start = time.perf_counter()
            go()
            best[name] = min(best[name], time.perf_counter() - start)
    equal = dict(
        fields=sizes.equal,
        seconds=best,
        compile_s={name: c for name, (_, c) in prepared.items()},
        ratio_wishart_over_limit=best["wishart"] / best["limit"],
    )
    log(
        f"  one run at n_st={sizes.equal['n_st']}: limit {best['limit']:.3f} s, Wishart "
        f"{best['wishart']:.3f} s ({equal['ratio_wishart_over_limit']:.1f}x)"
    )

    from w2s_jax.sweeping.driver import run_sweep

    runs = grid_runs(sizes.grid)
    manifest = run_sweep(sizes.grid, quiet=True).manifest
    run_s, compile_s = manifest["run_s"], manifest["compile_s"]
    grid = dict(
        axes={k: list(v) for k, v in sizes.grid["grid"].items()},
        seeds=sizes.grid["seeds"],
        runs=runs,
        run_s=run_s,
        compile_s=compile_s,
        wall_s=manifest["wall_s"],
        runs_per_s=runs / run_s if run_s > 0 else None,
        tiers=len(manifest["tiers"]),
    )
    rate = "" if grid["runs_per_s"] is None else f"{grid['runs_per_s']:.1f} runs/s"
    log(f"  grid of {runs} limit runs: {run_s:.1f} s running, {compile_s:.1f} s compiling, {rate}")
    return dict(equal_n_st=equal, grid=grid)


def format_limit(result: dict) -> str:
    e, g = result["equal_n_st"], result["grid"]
    rate = "—" if g["runs_per_s"] is None else f"{g['runs_per_s']:.1f}"
    return "\n".join(
        [
            "| limit study | limit s | Wishart s | Wishart / limit |",
            "|---|---|---|---|",
            f"| one run, n_st = {e['fields']['n_st']} | {e['seconds']['limit']:.3f} | "
            f"{e['seconds']['wishart']:.3f} | {e['ratio_wishart_over_limit']:.1f}x |",
            "",
            f"limit grid: {g['runs']} runs ({' × '.join(str(len(v)) for v in g['axes'].values())}"
            f" cells × {g['seeds']} seeds), {g['run_s']:.1f} s running + {g['compile_s']:.1f} s "
            f"compiling: {rate} runs/s",
        ]
    )
