"""The sweep engine: a grid of docs/model.md#config evaluated by `vmap` of the core `run`.

Runs (grid cells × seed indices) are flattened to one axis. Each compile tier (one
`Static`, see `w2s_jax.sweeping.plan`) is compiled once for a fixed chunk size
(`w2s_jax.sweeping.chunk`); an executor, local (`sweeping.local`) or Ray (`sweeping.ray`),
feeds it chunks, the last one padded, and the chunk axis is sharded over the local devices
with `shard_map`. A run's key is `run_key(base_seed, seed)`, so its result depends neither
on the chunking nor on the other cells of the grid. This module plans, checks, drives the
executor, shows progress (`sweeping.progress`), stores, merges and records the sweep's
efficiency (`sweeping.efficiency`).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import pandas as pd

from w2s_jax.engines.cost import run_flops
from w2s_jax.model.config import ConfigError
from w2s_jax.model.coordinates import step_scale
from w2s_jax.sweeping import compile_cache, progress
from w2s_jax.sweeping.chunk import chunk_name
from w2s_jax.sweeping.config_file import SweepConfig, load_config
from w2s_jax.sweeping.efficiency import efficiency_fields, reachable_rate
from w2s_jax.sweeping.local import execute_local
from w2s_jax.sweeping.memory import MEMORY_FRACTION, check_fits, free_bytes
from w2s_jax.sweeping.plan import MAX_TIERS, Run, check_options, expand, plan_tiers, smoke_config
from w2s_jax.sweeping.store import (
    SORT_SUMMARY,
    SORT_TRAJECTORIES,
    Store,
    code_version,
    merge_frames,
    now,
    numbers_hash,
    versions,
)

__all__ = ["sweep", "run_sweep", "SweepResult", "EXECUTORS"]

#: The sweep executors (`engine=`, `--engine`): this machine's devices, or a Ray cluster.
EXECUTORS = ("local", "ray")


class Target(NamedTuple):
    """Where the chunks run: the platform, the devices a chunk is sharded over, and the bytes
    free on each."""

    platform: str
    count: int
    free: int


@dataclasses.dataclass
class SweepResult:
    """What `run_sweep` returns: both tables and the manifest of this invocation."""

    summary: pd.DataFrame
    trajectories: pd.DataFrame
    manifest: dict[str, Any]


def _devices(devices) -> list:
    local = jax.local_devices()
    if devices is None:
        return local
    if isinstance(devices, int):
        if not 1 <= devices <= len(local):
            raise ConfigError(f"devices: must be in [1, {len(local)}], got {devices}")
        return local[:devices]
    return list(devices)


def run_sweep(
    config_or_path,
    out=None,
    *,
    chunk_size: int | None = None,
    force: bool = False,
    quiet: bool = False,
    engine: str = "local",
    address: str | None = None,
    smoke: bool = False,
    devices=None,
    max_tiers: int | None = None,
    compile_cache_dir: str | Path | None = None,
) -> SweepResult:
    """Plan, check, run and store a sweep. Every check happens before anything is written.

    JAX's settings are left as they are unless `compile_cache_dir` is given (then its
    persistent compilation cache is turned on in that folder, `compile_cache.enable`); the
    `w2s` command turns it on in the per-user folder.
    """
    config = (
        config_or_path if isinstance(config_or_path, SweepConfig) else load_config(config_or_path)
    )
    if smoke:
        config = smoke_config(config)
    chunk_size = config.sweep.get("chunk_size") if chunk_size is None else chunk_size
    max_tiers = config.sweep.get("max_tiers", MAX_TIERS) if max_tiers is None else max_tiers
    lanes = config.sweep.get("lanes")
    check_options(chunk_size, max_tiers, lanes)
    if max_tiers != config.sweep.get("max_tiers", MAX_TIERS):  # it fixes n_max, so the numbers
        config = config.replace(sweep=config.sweep | {"max_tiers": max_tiers})
    if engine not in EXECUTORS:
        raise ConfigError(f"engine: must be one of {', '.join(EXECUTORS)}, got {engine!r}")
    if address is not None and engine != "ray":
        raise ConfigError("address: only used with --engine ray")
    store = Store(out) if out is not None else None
    if store is not None:
        store.check(config.to_dict(), force)
    if compile_cache_dir is not None:
        compile_cache.enable(compile_cache_dir)
    in_use = jax.config.jax_compilation_cache_dir or None
    extra = dict(engine=engine, smoke=smoke, compile_cache=in_use)
    if engine == "local":
        local = _devices(devices)

        def execute(tiers, done, record, numbers):
            return execute_local(tiers, done, config.base_seed, chunk_size, local, record, lanes)

        target = Target(local[0].platform, len(local), free_bytes(local[0], len(local)))
        return _sweep(config, store, force, quiet, max_tiers, target, execute, extra)

    from w2s_jax.sweeping.ray import Cluster

    cluster = Cluster(address, quiet)
    try:
        n_devices, budget, platform = cluster.connect().probe()
        target = Target(platform, n_devices, int(budget / MEMORY_FRACTION))

        def execute(tiers, done, record, numbers):
            out_ = None if out is None else str(out)
            return cluster.execute(
                tiers, done, config.base_seed, chunk_size, out_, record, lanes, numbers
            )

        return _sweep(config, store, force, quiet, max_tiers, target, execute, extra)
    finally:
        cluster.close()


def _sweep(
    config: SweepConfig,
    store: Store | None,
    force: bool,
    quiet: bool,
    max_tiers: int,
    target: Target,
    execute: Callable,
    extra: dict,
) -> SweepResult:
    """Skip finished runs, plan tiers, refuse what cannot fit, run the rest through
    `execute`, merge and record. Nothing is written before the refusal."""
    numbers = numbers_hash(config.to_dict(), target.platform, target.count)
    try:
        return _run_locked(config, store, force, quiet, max_tiers, target, execute, extra, numbers)
    finally:
        if store is not None:
            store.release()


def _resume(store: Store | None, config: SweepConfig, numbers: str, target: Target, force: bool):
    """The runs already done in the store, under its lock (so they cannot change under us)."""
    if store is None or not store.root.is_dir():
        return set()
    store.acquire()
    if force:
        return set()
    store.check_numbers(numbers, f"{target.platform} with {target.count} device(s)")
    return store.done_runs(config.seeds, numbers)


def _run_locked(config, store, force, quiet, max_tiers, target, execute, extra, numbers):
    runs = expand(config)
    done = _resume(store, config, numbers, target, force)
    tiers = plan_tiers(runs, max_tiers, target.platform, target.count)
    for tier in tiers:
        if any(r.index not in done for r in tier.runs):
            check_fits(tier.static, target.free, target.platform)
    steep = _steps_above_stable(runs)
    if steep and not quiet:
        print(
            f"w2s sweep: warning: eta: {steep['runs']} of {len(runs)} runs step above the "
            f"estimated edge of stability at initialization (eta/eta_max up to "
            f"{steep['max_ratio']:.3g}): their first steps overshoot, and logistic GD may "
            "oscillate before margins grow; give eta_rel (a multiple of that step) instead "
            "of eta to put every cell on the same scale",
            file=sys.stderr,
        )
    manifest = dict(
        name=config.name,
        status="running",
        config=config.to_dict(),
        grid={k: list(v) for k, v in config.grid.items()},
        n_cells=config.n_cells,
        seeds=config.seeds,
        base_seed=config.base_seed,
        n_runs=len(runs),
        **extra,
        eta_above_stable=steep,
        numbers_hash=numbers,
        numbers=dict(platform=target.platform, devices=target.count),
        versions=versions(),
        code=code_version(),
        started=now(),
        runs_resumed=len(done),
    )
    if store is not None:
        store.begin(manifest, force)

    flops = _flops_by_dtype(tiers, done)  # of the runs to compute
    # The time left needs a rate before the first chunk after a compile shows one: the
    # matrix product's (timed once per process; the manifest's efficiency reuses it).
    prior = None if quiet or not flops else reachable_rate(max(flops, key=flops.get))
    bar = progress.Progress(tiers, done, len(runs), config.name, quiet, prior)
    collected: list[tuple[pd.DataFrame, pd.DataFrame]] = []

    def record(runs_: Sequence[Run], summary: pd.DataFrame, trajectories: pd.DataFrame) -> None:
        if store is None:
            collected.append((summary, trajectories))
        elif not store.has_chunk(chunk_name(runs_)):  # a Ray worker may have written it
            store.write_chunk(chunk_name(runs_), summary, trajectories)
        bar.record(runs_)

    start = time.perf_counter()
    try:
        info = execute(tiers, done, record, numbers)
    finally:
        bar.close()
    wall_s = time.perf_counter() - start

    if store is not None:
        summary, trajectories = store.merge()
    else:
        summary = merge_frames([s for s, _ in collected], SORT_SUMMARY)
        trajectories = merge_frames([t for _, t in collected], SORT_TRAJECTORIES)
    computed = len(runs) - len(done)
    # Ray compiles in parallel on the workers (compile_s is their sum): run_s is the wall time.
    parallel = extra["engine"] == "ray"
    run_s = wall_s if parallel else max(0.0, wall_s - info["compile_s"])
    manifest |= info | dict(
        status="complete",
        finished=now(),
        runs_computed=computed,
        wall_s=round(wall_s, 3),
        run_s=round(run_s, 3),
        cells_per_s=round(computed / wall_s, 3) if computed and wall_s > 0 else None,
    )
    manifest |= efficiency_fields(flops, wall_s, run_s, info["compile_s"], local=not parallel)
    if store is not None:
        store.write_manifest(manifest)
    return SweepResult(summary, trajectories, manifest)


def _flops_by_dtype(tiers, done: set[int]) -> dict[str, float]:
    """The analytic flops of the runs not in `done`, by the dtype they compute in."""
    flops: dict[str, float] = {}
    for tier in tiers:
        todo = sum(r.index not in done for r in tier.runs)
        if todo:
            dtype = tier.static.dtype
            flops[dtype] = flops.get(dtype, 0.0) + run_flops(tier.static) * todo
    return flops


def _steps_above_stable(runs: Sequence[Run]) -> dict[str, Any] | None:
    """How many runs step above `theory.stable_step` (an estimate; see there), or None."""
    ratios = [
        r.train.eta / float(step_scale(dataclasses.asdict(r.data) | dataclasses.asdict(r.train)))
        for r in runs
    ]
    above = [x for x in ratios if x > 1.0]
    return dict(runs=len(above), max_ratio=round(max(above), 3)) if above else None


def sweep(
    config_or_path, out: str | Path | None = None, **options
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Evaluate a sweep config (docs/model.md#config); return `(summary, trajectories)` frames.

    Args:
        config_or_path: a TOML path, a dict, or a `SweepConfig`.
        out: a directory for summary.parquet, trajectories.parquet and manifest.json
            (resumable); `None` keeps everything in memory.
        **options: `chunk_size` (runs per chunk; default automatic), `force`, `quiet`,
            `engine` ("local" or "ray"), `address` (Ray), `smoke`, `devices` (a count or a
            list; default all local devices), `max_tiers`, `compile_cache_dir` (a folder for
            JAX's persistent compilation cache; default: JAX's settings are not touched).
    """
    result = run_sweep(config_or_path, out, **options)
    return result.summary, result.trajectories
