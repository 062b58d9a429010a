"""`w2s bench`: every way to run a grid, timed side by side in one process, and a cold start.

(a) a Python loop of single jitted runs (what a user writes first), (b) `jax.vmap(run)` with
the direct engine, (c) `jax.vmap(run)` with the Gram engine; one large matrix product gives
the device's reachable flop rate. Flops are counted analytically (`gram.engine_flops`: XLA's
cost analysis counts a loop body once), peak memory is XLA's `memory_analysis()` of each
compiled program; the `d → ∞` limit engine is timed against the Wishart engine at equal
`n_st` and over a grid of 10⁴ runs (`w2s_jax.bench.limit`). Steady-state times are the best
of `reps` calls after compilation, which is timed on its own.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import os
import platform
import resource
import time
from typing import Any

import jax
import jax.numpy as jnp

from w2s_jax.bench import cold
from w2s_jax.bench import small_study as small_bench
from w2s_jax.bench.limit import LIMIT, LIMIT_SMOKE, LimitSizes, format_limit, limit_study
from w2s_jax.bench.sweep_path import SWEEP_PATH, SWEEP_PATH_SMOKE, format_sweep_path, sweep_path
from w2s_jax.bench.wishart_profile import format_profile, profile_wishart
from w2s_jax.engines.cost import engine_flops
from w2s_jax.engines.run import run, run_key
from w2s_jax.model.config import DATA_FIELDS, DataConfig, Params, Static, TrainConfig, split
from w2s_jax.model.networks import HIGHEST
from w2s_jax.sweeping.efficiency import MATMUL_N, matmul_rate

__all__ = [
    "BenchSizes",
    "SIZES",
    "SMOKE",
    "matmul_rate",
    "prepare_mode",
    "time_group",
    "grid_batch",
    "benchmark",
    "format_table",
]


@dataclasses.dataclass(frozen=True)
class BenchSizes:
    """Shapes of each study. Every cell of a study shares one static part (no recompiles)."""

    small: dict  # train/data fields of the many-small-cells grid
    grid_cells: int  # cells of that grid (p_b x nu_norm x seeds)
    cell_counts: tuple  # scaling with the number of cells
    wide: dict  # the engine comparison at d = 20 n_st
    wide_cells: int
    n_st_sizes: tuple  # scaling with n_st at the d of `wide`
    d_sizes: tuple  # scaling with d at the n_st of `wide`
    wishart: dict  # Gram engine, Wishart noise, flat-in-d study
    wishart_d: tuple
    wishart_cells: int
    matmul_n: int
    reps: int
    cold: dict  # the sweep config of the cold-start study (w2s_jax.bench.cold)
    profile_smoke: bool = False  # the Wishart profile at tiny sizes (w2s_jax.bench.wishart_profile)
    limit: LimitSizes = LIMIT  # the limit engine's study (w2s_jax.bench.limit)
    sweep_path: dict = dataclasses.field(default_factory=lambda: SWEEP_PATH)  # bench.sweep_path
    # the reference small study as `w2s sweep`, cold and warm cache (bench.small_study)
    small_study: dict = dataclasses.field(default_factory=lambda: small_bench.SMALL_STUDY)


# Small enough that a single run is a fraction of a millisecond of compute: the regime in
# which per-call overhead, not arithmetic, decides between a loop and a vmap.
_SMALL = dict(n_st=20, d=40, m=4, n_wk=40, n_test=100, T=100, T_wk=50, record_every=10)
SIZES = BenchSizes(
    small=_SMALL,
    grid_cells=256,
    cell_counts=(64, 256, 1024),
    wide=dict(n_st=200, d=4000, m=20, n_wk=200, n_test=500, T=100, T_wk=50, record_every=10),
    wide_cells=4,
    n_st_sizes=(100, 200, 400),
    d_sizes=(1000, 4000, 16000),
    wishart=dict(n_st=1000, m=10, n_wk=200, n_test=500, T=100, T_wk=50, record_every=10),
    wishart_d=(10_000, 100_000, 1_000_000),
    wishart_cells=2,
    matmul_n=MATMUL_N,
    reps=3,
    cold=cold.GRID,
)
# Every smoke study repeats one shape, and T = 0 makes the profile's setup-only runs the same
# programs too, so the smoke run compiles four programs (its numbers mean nothing).
_TINY = dict(n_st=8, d=16, m=2, n_wk=8, n_test=16, T=0, T_wk=2, record_every=2)
SMOKE = BenchSizes(
    small=_TINY,
    grid_cells=2,
    cell_counts=(2,),
    wide=_TINY,
    wide_cells=2,
    n_st_sizes=(8,),
    d_sizes=(16,),
    wishart=_TINY,
    wishart_d=(16,),
    wishart_cells=2,
    matmul_n=128,
    reps=1,
    cold=cold.SMOKE_GRID,
    profile_smoke=True,
    limit=LIMIT_SMOKE,
    sweep_path=SWEEP_PATH_SMOKE,
    small_study=small_bench.SMALL_STUDY_SMOKE,
)


def _elapsed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def grid_batch(fields: dict, cells: int, **switches) -> tuple[Static, Params, jax.Array, list]:
    """`cells` cells over p_b x nu_norm x seed sharing one static part.

    Returns the static part, the stacked Params, the stacked keys and the per-cell
    `(Params, key)` list a Python loop would use.
    """
    fields = fields | switches
    p_bs, nu_norms = (0.2, 0.3, 0.4, 0.5), (3.0, 4.0, 5.0, 6.0)
    seeds = range(-(-cells // (len(p_bs) * len(nu_norms))))
    singles = []
    for p_b, nu_norm, seed in itertools.islice(itertools.product(p_bs, nu_norms, seeds), cells):
        data = DataConfig(
            **{k: v for k, v in fields.items() if k in DATA_FIELDS}, p_b=p_b, nu_norm=nu_norm
        )
        train = TrainConfig(**{k: v for k, v in fields.items() if k not in DATA_FIELDS})
        static, params = split(data, train)
        singles.append((params, run_key(0, seed)))
    params = jax.tree.map(lambda *xs: jnp.stack(xs), *(p for p, _ in singles))
    keys = jnp.stack([k for _, k in singles])
    return static, params, keys, singles


_COMPILED: dict = {}
_VMAPPED_RUN = jax.vmap(run, in_axes=(None, 0, 0))


def _compile(fn, static, *args):
    """AOT-compile `fn(static, *args)` once per static part and argument shapes."""
    signature = (fn, static, jax.tree.map(lambda a: (a.shape, str(a.dtype)), args))
    if signature in _COMPILED:
        return _COMPILED[signature], 0.0
    start = time.perf_counter()
    compiled = jax.jit(fn, static_argnums=0).lower(static, *args).compile()
    _COMPILED[signature] = compiled
    return compiled, time.perf_counter() - start


def _peak_bytes(compiled) -> int | None:
    """XLA's buffer assignment: arguments + outputs + temporaries (an upper bound on live bytes)."""
    try:
        m = compiled.memory_analysis()
        return int(
            m.argument_size_in_bytes
            + m.output_size_in_bytes
            + m.temp_size_in_bytes
            - m.alias_size_in_bytes
        )
    except Exception:  # not every backend reports it
        return None


#: The engine of each mode (a key of `engines.run.ENGINES` and of `engine_flops`).
_ENGINE_OF = {
    "loop": "direct",
    "vmap_direct": "direct",
    "vmap_gram": "gram",
    "vmap_wishart": "wishart",
}


def prepare_mode(mode: str, static: Static, params, keys, singles) -> tuple:
    """Compile one way of running a grid (`loop`, `vmap_direct`, `vmap_gram`, `vmap_wishart`).

    Returns `(go, row)`: a callable that runs the whole grid once, and the row's fixed fields.
    """
    cells = len(singles)
    if mode == "loop":
        static = static._replace(engine="direct")
        compiled, compile_s = _compile(run, static, *singles[0])

        def go():
            for p, k in singles:
                jax.block_until_ready(compiled(p, k))
    else:
        static = static._replace(engine=_ENGINE_OF[mode])
        compiled, compile_s = _compile(_VMAPPED_RUN, static, params, keys)

        def go():
            jax.block_until_ready(compiled(params, keys))

    flops = engine_flops(static)[_ENGINE_OF[mode]] * cells
    return go, dict(
        mode=mode,
        cells=cells,
        n_st=static.n_max,
        d=static.d,
        m=static.m,
        T=static.T,
        compile_s=compile_s,
        flops=flops,
        peak_bytes=_peak_bytes(compiled),
    )


def time_group(prepared: list[tuple], reps: int) -> list[dict]:
    """Best of `reps` round-robin passes over the group, after one warm-up pass.

    Round-robin, so that a burst of load from other jobs on a shared machine hits every
    member of a comparison alike rather than one of them.
    """
    for go, _ in prepared:
        go()
    best = [float("inf")] * len(prepared)
    for _ in range(reps):
        for i, (go, _) in enumerate(prepared):
            best[i] = min(best[i], _elapsed(go))
    return [
        row | dict(seconds=t, cells_per_s=row["cells"] / t) for (_, row), t in zip(prepared, best)
    ]


def _main_product(engine: str, cells: int, n: int, d: int, m: int, rate: float) -> tuple:
    """Seconds and flop share of the product that dominates one step of `engine`."""
    key = jax.random.key(0)
    if engine == "direct":  # noise-patch pre-activations; the backward pass is a second one
        args = (jax.random.normal(key, (cells, 2, m, d)), jax.random.normal(key, (cells, n, d)))
        product = jax.jit(lambda W, X: jnp.einsum("bsrd,bnd->bnsr", W, X, precision=HIGHEST))
        flops = 2.0 * cells * 2 * m * n * d
    else:  # C @ G, once a step
        args = (jax.random.normal(key, (cells, 2 * m, n)), jax.random.normal(key, (cells, n, n)))
        product = jax.jit(lambda C, G: jnp.matmul(C, G, precision=HIGHEST))
        flops = 2.0 * cells * 2 * m * n * n
    product(*args).block_until_ready()
    seconds = min(_elapsed(lambda: product(*args).block_until_ready()) for _ in range(5))
    return seconds, flops / seconds / rate


def benchmark(sizes: BenchSizes = SIZES, log=print) -> dict[str, Any]:
    """Run every study and return the JSON-ready results."""
    started = time.perf_counter()
    load_start = os.getloadavg()
    # Measured before and after the studies; the faster is the reachable rate (other jobs on
    # a shared machine can only slow a measurement down).
    matmul = matmul_rate(sizes.matmul_n, reps=5)
    log(f"matmul {sizes.matmul_n}^3: {matmul['flops_per_s'] / 1e9:.1f} GFLOP/s")
    grid, wide, setup = _comparison_studies(sizes, log)
    scaling = _scaling_studies(sizes, log)
    matmul = max(matmul, matmul_rate(sizes.matmul_n, reps=5), key=lambda m: m["flops_per_s"])
    rate = matmul["flops_per_s"]
    scaled = itertools.chain.from_iterable(scaling.values())
    for row in [*grid.values(), *wide.values(), *setup.values(), *scaled]:
        row["flop_share"] = row["flops"] / row["seconds"] / rate
    profile = _step_profile(sizes, wide, setup, rate)
    log("where a Wishart run's time goes (w2s_jax.bench.wishart_profile)")
    wishart_profile = profile_wishart(rate, sizes.profile_smoke, sizes.reps, log)
    log("the run a user launches, through w2s.sweep (w2s_jax.bench.sweep_path)")
    through_sweep = sweep_path(sizes.sweep_path, log)
    log("the d → ∞ limit engine against the Wishart engine, and a limit grid (w2s_jax.bench.limit)")
    limit = limit_study(sizes.limit, log)
    log("cold start: the whole grid each way in a fresh process (w2s_jax.bench.cold)")
    cold_start = cold.cold_start(sizes.cold, log)
    log("a small study as `w2s sweep`, cold cache then warm (w2s_jax.bench.small_study)")
    small = small_bench.small_study(sizes.small_study, log)
    wishart_seconds = [r["seconds"] for r in scaling["d_wishart"]]
    return dict(
        **_machine(load_start),
        matmul=matmul,
        grid=_comparison(sizes.small, grid, _GRID_RATIOS),
        wide=_comparison(sizes.wide, wide, _WIDE_RATIOS),
        scaling=scaling,
        wishart_flatness=max(wishart_seconds) / min(wishart_seconds),
        profile=profile,
        wishart_profile=wishart_profile,
        sweep_path=through_sweep,
        limit=limit,
        max_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        cold_start=cold_start,
        small_study=small,
        total_seconds=time.perf_counter() - started,
    )


def _time_study(title: str, members: list[tuple], reps: int, log) -> list[dict]:
    """Log `title`, time `(fields, cells, mode)` members together (`time_group`), and log and
    return their rows."""
    log(title)
    prepared = []
    for fields, cells, mode in members:
        static, params, keys, singles = grid_batch(fields, cells)
        prepared.append(prepare_mode(mode, static, params, keys, singles))
    rows = time_group(prepared, reps)
    for row in rows:
        log(
            f"  {row['mode']:13s} cells={row['cells']:5d} n_st={row['n_st']:6d} "
            f"d={row['d']:8d} T={row['T']:4d} {row['seconds']:8.3f} s "
            f"{row['cells_per_s']:9.2f} cells/s"
        )
    return rows


def _by_mode(rows: list[dict]) -> dict[str, dict]:
    """Rows keyed by their mode."""
    return {r["mode"]: r for r in rows}


def _comparison_studies(sizes: BenchSizes, log) -> tuple[dict, dict, dict]:
    """The modes side by side, each study's rows by mode: `grid`, the loop and the vmapped
    direct and Gram engines on many small cells; `wide`, those and the Wishart engine at
    d = 20 n_st; `setup`, the vmapped direct and Gram runs of `wide` with T = 0 (the setup
    that `_step_profile` takes off a run)."""
    study = functools.partial(_time_study, reps=sizes.reps, log=log)
    grid = study(
        "grid of many small cells",
        [(sizes.small, sizes.grid_cells, mode) for mode in ("loop", "vmap_direct", "vmap_gram")],
    )
    wide = study(
        "engines at d = 20 n_st, with setup-only (T = 0) runs for the profile",
        [
            (sizes.wide, sizes.wide_cells, mode)
            for mode in ("loop", "vmap_direct", "vmap_gram", "vmap_wishart")
        ]
        + [
            (sizes.wide | dict(T=0), sizes.wide_cells, mode)
            for mode in ("vmap_direct", "vmap_gram")
        ],
    )
    return _by_mode(grid), _by_mode(wide[:4]), _by_mode(wide[4:])


def _scaling_studies(sizes: BenchSizes, log) -> dict[str, list[dict]]:
    """The vmapped direct and Gram engines' rows over the number of cells (`cells`), `n_st`
    and `d`, and the Wishart engine's over `d` (`d_wishart`)."""
    study = functools.partial(_time_study, reps=sizes.reps, log=log)
    pairs = ("vmap_direct", "vmap_gram")
    return dict(
        cells=study(
            "scaling with the number of cells",
            [(sizes.small, c, mode) for c in sizes.cell_counts for mode in pairs],
        ),
        n_st=study(
            "scaling with n_st",
            [
                (sizes.wide | dict(n_st=n), sizes.wide_cells, mode)
                for n in sizes.n_st_sizes
                for mode in pairs
            ],
        ),
        d=study(
            "scaling with d",
            [
                (sizes.wide | dict(d=dd), sizes.wide_cells, mode)
                for dd in sizes.d_sizes
                for mode in pairs
            ],
        ),
        d_wishart=study(
            "Gram engine with Wishart noise, scaling with d",
            [
                (sizes.wishart | dict(d=dd), sizes.wishart_cells, "vmap_wishart")
                for dd in sizes.wishart_d
            ],
        ),
    )


def _step_profile(sizes: BenchSizes, wide: dict, setup: dict, rate: float) -> list[dict]:
    """Per engine (direct, Gram) at the sizes of `wide`: a run's time, its setup's (`setup`,
    T = 0), one step's, and the share of a step that its main product takes
    (`_main_product`, at the reachable flop `rate`)."""
    profile = []
    for engine in ("direct", "gram"):
        at_T, at_0 = wide[f"vmap_{engine}"], setup[f"vmap_{engine}"]
        w = sizes.wide
        product_s, product_share = _main_product(
            engine, sizes.wide_cells, w["n_st"], w["d"], w["m"], rate
        )
        # A step is t(T) - t(0) over T (None where that is not positive: not separable at
        # this size); the direct step does its product twice (fwd + bwd).
        gap = at_T["seconds"] - at_0["seconds"]
        step_s = gap / max(w["T"], 1) if gap > 0 else None
        per_step = 2 if engine == "direct" else 1
        profile.append(
            dict(
                engine=engine,
                cells=sizes.wide_cells,
                n_st=w["n_st"],
                d=w["d"],
                m=w["m"],
                run_s=at_T["seconds"],
                setup_s=at_0["seconds"],
                step_s=step_s,
                main_product_s=product_s,
                main_product_flop_share=product_share,
                main_product_share_of_step=step_s and per_step * product_s / step_s,
            )
        )
    return profile


#: The ratios of cells per second that each comparison reports: name -> (numerator's mode,
#: denominator's mode).
_GRID_RATIOS = dict(ratio_b_over_a=("vmap_direct", "loop"), ratio_c_over_a=("vmap_gram", "loop"))
_WIDE_RATIOS = _GRID_RATIOS | dict(
    ratio_c_over_b=("vmap_gram", "vmap_direct"),
    ratio_wishart_over_b=("vmap_wishart", "vmap_direct"),
)


def _comparison(fields: dict, modes: dict, ratios: dict[str, tuple[str, str]]) -> dict:
    """A comparison's fields, its rows by mode and its `ratios` of cells per second."""
    return dict(fields=fields, modes=modes) | {
        name: modes[b]["cells_per_s"] / modes[a]["cells_per_s"] for name, (b, a) in ratios.items()
    }


def _machine(load_start: tuple) -> dict:
    """Where the benchmark ran, and how busy the machine was at its start and now."""
    return dict(
        device=str(jax.devices()[0]),
        platform=platform.platform(),
        jax_version=jax.__version__,
        cpu_count=os.cpu_count(),
        loadavg_start=load_start,
        loadavg_end=os.getloadavg(),
        note="timings on a machine shared with other jobs; the load averages say how busy",
    )


def format_table(result: dict) -> str:
    """The benchmark as a Markdown table plus its headline ratios."""
    lines = [
        "| study | mode | cells | n_st | d | s | cells/s | flop share | peak MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def add(study, row):
        peak = "" if row["peak_bytes"] is None else f"{row['peak_bytes'] / 2**20:.0f}"
        lines.append(
            f"| {study} | {row['mode']} | {row['cells']} | {row['n_st']} | {row['d']} | "
            f"{row['seconds']:.3f} | {row['cells_per_s']:.2f} | "
            f"{row['flop_share']:.3f} | {peak} |"
        )

    for row in result["grid"]["modes"].values():
        add("small cells", row)
    for row in result["wide"]["modes"].values():
        add("d = 20 n_st", row)
    for axis in ("cells", "n_st", "d", "d_wishart"):
        for row in result["scaling"][axis]:
            add(f"scale {axis}", row)
    g, w = result["grid"], result["wide"]
    lines += [
        "",
        f"matmul rate {result['matmul']['flops_per_s'] / 1e9:.1f} GFLOP/s; "
        f"load average {result['loadavg_start'][0]:.1f} -> {result['loadavg_end'][0]:.1f}",
        f"small cells: vmap direct / loop = {g['ratio_b_over_a']:.1f}x, "
        f"vmap gram / loop = {g['ratio_c_over_a']:.1f}x",
        f"d = 20 n_st: vmap gram / vmap direct = {w['ratio_c_over_b']:.1f}x "
        f"(wishart / direct = {w['ratio_wishart_over_b']:.1f}x)",
        f"Wishart Gram engine, max/min time over d = "
        f"{', '.join(str(r['d']) for r in result['scaling']['d_wishart'])}: "
        f"{result['wishart_flatness']:.2f}",
        "",
        "| profile | cells | setup s | step ms | main product ms | its share of step |",
        "|---|---|---|---|---|---|",
    ]
    for p in result["profile"]:
        share = (
            ""
            if p["main_product_share_of_step"] is None
            else f"{p['main_product_share_of_step']:.2f}"
        )
        step = "not separable" if p["step_s"] is None else f"{p['step_s'] * 1e3:.2f}"
        lines.append(
            f"| {p['engine']} | {p['cells']} | {p['setup_s']:.3f} | {step} | "
            f"{p['main_product_s'] * 1e3:.2f} | {share} |"
        )
    lines += ["", format_profile(result["wishart_profile"])]
    lines += ["", format_sweep_path(result["sweep_path"]), "", format_limit(result["limit"])]
    lines += ["", cold.format_cold(result["cold_start"])]
    lines += ["", small_bench.format_small_study(result["small_study"])]
    return "\n".join(lines)
