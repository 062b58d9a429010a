"""The sweep engine: a grid of SPEC §6 evaluated by `vmap` of the core `run`.

Runs (grid cells × seed indices) are flattened to one axis. Each compile tier (one
`Static`, see `w2s_jax.grid`) is compiled once for a fixed chunk size; a host loop feeds it
chunks, the last one padded, and the chunk axis is sharded over all local devices with
`shard_map`. A run's key is `run.run_key(base_seed, seed)`, so its result depends neither on
the chunking nor on the other cells of the grid.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import jax
import numpy as np
import pandas as pd
from jax.sharding import Mesh, NamedSharding, PartitionSpec, SingleDeviceSharding
from tqdm import tqdm  # the text bar: tqdm.auto warns in Jupyter without ipywidgets

from w2s_jax.config import ConfigError, Static
from w2s_jax.config_file import DATA_FIELDS, TRAIN_FIELDS, SweepConfig, load_config
from w2s_jax.grid import (MAX_TIERS, Run, Tier, auto_chunk_size, check_options, chunks,
                          estimate_run_bytes, expand, memory_budget, plan_tiers, smoke_config,
                          stack_params)
from w2s_jax.run import RECORD_FIELDS, Trajectory, run
from w2s_jax.store import SORT_SUMMARY, SORT_TRAJECTORIES, Store, merge_frames, now, versions
from w2s_jax.summary import summarize
from w2s_jax.theory import tau

__all__ = ["sweep", "run_sweep", "SweepResult", "ChunkProgram", "OutOfMemoryError",
           "chunk_tables", "chunk_name", "PARAMETER_COLUMNS", "ENGINES"]

ENGINES = ("local", "ray")
#: Every data and training field, in SPEC order: the parameter columns of both tables.
PARAMETER_COLUMNS = DATA_FIELDS + TRAIN_FIELDS
#: Trajectory fields a chunk returns (`gamma`, `R·2·m·4` per run, is dropped in the program).
OUTPUT_FIELDS = tuple(f for f in Trajectory._fields if f != "gamma")


class OutOfMemoryError(ConfigError):
    """A chunk did not fit in device memory; the message names a chunk size to try."""


def _is_out_of_memory(err: BaseException) -> bool:
    text = str(err)
    return "RESOURCE_EXHAUSTED" in text or "out of memory" in text.lower()


def _out_of_memory(size: int, n_devices: int) -> OutOfMemoryError:
    smaller = max(1, size // 4)
    return OutOfMemoryError(
        f"chunk_size: a chunk of {size} runs on {n_devices} device(s) ran out of memory; "
        f"finished chunks are kept, rerun with --chunk-size {smaller}")


def _batched_run(static: Static, params, seeds, base_key) -> dict[str, jax.Array]:
    """`run` vmapped over a chunk: `seeds` `(B,)` are seed indices, `base_key = key(base_seed)`.

    The run key is `fold_in(base_key, seed)`, exactly `run_key(base_seed, seed)`.
    """
    keys = jax.vmap(lambda s: jax.random.fold_in(base_key, s))(seeds)
    traj = jax.vmap(run, in_axes=(None, 0, 0))(static, params, keys)
    return {k: getattr(traj, k) for k in OUTPUT_FIELDS}


class ChunkProgram:
    """A tier's compiled program for chunks of `size` runs over `devices`.

    With several devices the chunk axis is split by `shard_map`; every device runs the
    vmapped core on its slice and no device talks to another.
    """

    def __init__(self, static: Static, size: int, devices: Sequence):
        if size % len(devices):
            raise ValueError(f"chunk size {size} is not a multiple of {len(devices)} devices")
        self.static, self.size, self.devices = static, size, list(devices)
        fn = functools.partial(_batched_run, static)
        if len(self.devices) > 1:
            mesh = Mesh(np.asarray(self.devices), ("grid",))
            grid, replicated = PartitionSpec("grid"), PartitionSpec()
            fn = jax.shard_map(fn, mesh=mesh, in_specs=(grid, grid, replicated),
                               out_specs=grid, check_vma=False)
            self.sharding = NamedSharding(mesh, grid)
            self.replicated = NamedSharding(mesh, replicated)
        else:
            self.sharding = self.replicated = SingleDeviceSharding(self.devices[0])
        self._jitted = jax.jit(fn)
        self._compiled = None
        self.compile_s = 0.0

    def compile(self, runs: Sequence[Run]) -> "ChunkProgram":
        start = time.perf_counter()
        self._compiled = self._jitted.lower(*self._inputs(runs, 0)).compile()
        self.compile_s = time.perf_counter() - start
        return self

    @functools.cached_property
    def memory_bytes(self) -> int | None:
        """Per-device bytes of the compiled program, where the backend reports them."""
        try:
            m = self._compiled.memory_analysis()
        except Exception:  # some backends do not implement it
            return None
        if m is None:
            return None
        return int(m.temp_size_in_bytes + m.argument_size_in_bytes + m.output_size_in_bytes
                   + m.generated_code_size_in_bytes - m.alias_size_in_bytes)

    def _inputs(self, runs: Sequence[Run], base_seed: int):
        params, seeds = stack_params(runs, self.size, self.static.dtype)
        return (*jax.device_put((params, seeds), self.sharding),
                jax.device_put(jax.random.key(base_seed), self.replicated))

    def __call__(self, runs: Sequence[Run], base_seed: int) -> dict[str, jax.Array]:
        """Dispatch one chunk (asynchronously); padded rows are dropped by `chunk_tables`."""
        return self._compiled(*self._inputs(runs, base_seed))


#: Compiled programs by (static, size, devices): a notebook that reruns a sweep, or a Ray
#: worker that gets a second chunk of a tier, does not compile again.
_PROGRAMS: dict[tuple, ChunkProgram] = {}
_PROGRAMS_MAX = 32


def program_for(static: Static, size: int, devices: Sequence, runs: Sequence[Run]) -> ChunkProgram:
    """The compiled program of a tier at one chunk size, from the cache or compiled now.

    `compile_s` of a program taken from the cache is 0.
    """
    key = (static, size, tuple(devices))
    if key in _PROGRAMS:
        program = _PROGRAMS.pop(key)
        program.compile_s = 0.0
    else:
        try:
            program = ChunkProgram(static, size, devices).compile(runs[:1])
        except Exception as err:
            if _is_out_of_memory(err):
                raise _out_of_memory(size, len(devices)) from None
            raise
        while len(_PROGRAMS) >= _PROGRAMS_MAX:
            _PROGRAMS.pop(next(iter(_PROGRAMS)))
    _PROGRAMS[key] = program
    return program


def compile_tier(tier: Tier, size: int | None, devices: Sequence, n_runs: int) -> ChunkProgram:
    """Compile a tier; with `size=None` pick the chunk size from a memory estimate.

    The shape-based estimate picks a first size; the compiled `memory_analysis()`, where
    available, then shrinks it if the real program is larger than the budget.
    """
    n = len(devices)
    if size is not None:
        size = -(-min(size, n_runs) // n) * n  # pad the chunk to a multiple of the devices
        return program_for(tier.static, size, devices, tier.runs)
    budget = memory_budget(devices[0], n)
    size = auto_chunk_size(estimate_run_bytes(tier.static), budget, n, n_runs)
    program = program_for(tier.static, size, devices, tier.runs)
    used = program.memory_bytes
    if used is not None and used > budget and size > n:
        size = max(n, int(size * budget / used) // n * n)
        compile_s = program.compile_s
        program = program_for(tier.static, size, devices, tier.runs)
        program.compile_s += compile_s
    return program


def chunk_name(runs: Sequence[Run]) -> str:
    return f"{runs[0].index:07d}-{runs[-1].index:07d}"


def chunk_tables(runs: Sequence[Run], steps: Sequence[int],
                 outputs: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The summary rows (one per run) and trajectory rows (one per run × record) of a chunk."""
    n, steps = len(runs), np.asarray(steps)
    host = {k: np.asarray(v)[:n] for k, v in outputs.items()}
    summary = summarize(steps, Trajectory(**host, gamma=None))
    columns: dict[str, Any] = {"cell": np.array([r.cell for r in runs], dtype=np.int64),
                               "seed": np.array([r.seed for r in runs], dtype=np.int64)}
    for name in PARAMETER_COLUMNS:
        source = "data" if name in DATA_FIELDS else "train"
        columns[name] = np.asarray([getattr(getattr(r, source), name) for r in runs])
    columns["tau"] = tau(columns["n_st"], columns["p_b"], columns["nu_norm"],
                         columns["sigma_p"], columns["d"])
    parameters = dict(columns)
    columns |= summary
    columns["weak_test_acc_hard"] = host["weak_test_acc_hard"]
    columns["n_wrong_pseudo"] = host["n_wrong_pseudo"].astype(np.int64)
    records = len(steps)
    trajectories = {k: np.repeat(v, records) for k, v in parameters.items()}
    trajectories["step"] = np.tile(steps.astype(np.int64), n)
    trajectories |= {k: host[k].reshape(-1) for k in RECORD_FIELDS}
    trajectories["finite"] = host["finite"].reshape(-1)  # where a diverged run broke down
    return pd.DataFrame(columns), pd.DataFrame(trajectories)


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


def run_sweep(config_or_path, out=None, *, chunk_size: int | None = None, force: bool = False,
              quiet: bool = False, engine: str = "local", address: str | None = None,
              smoke: bool = False, devices=None, max_tiers: int | None = None) -> SweepResult:
    """Plan, check, run and store a sweep. Every check happens before anything is written."""
    config = config_or_path if isinstance(config_or_path, SweepConfig) else load_config(config_or_path)
    if smoke:
        config = smoke_config(config)
    chunk_size = config.sweep.get("chunk_size") if chunk_size is None else chunk_size
    max_tiers = config.sweep.get("max_tiers", MAX_TIERS) if max_tiers is None else max_tiers
    check_options(chunk_size, max_tiers)
    if engine not in ENGINES:
        raise ConfigError(f"engine: must be one of {', '.join(ENGINES)}, got {engine!r}")
    if address is not None and engine != "ray":
        raise ConfigError("address: only used with --engine ray")
    store = Store(out) if out is not None else None
    if store is not None:
        store.check(config.to_dict(), force)
    if engine == "local":
        local = _devices(devices)

        def execute(tiers, done, record):
            return _execute_local(tiers, done, config.base_seed, chunk_size, local, record)

        return _sweep(config, store, force, quiet, max_tiers, local[0].platform, len(local),
                      execute, dict(engine=engine, smoke=smoke))

    from w2s_jax.ray_engine import Cluster
    cluster = Cluster(address, quiet)
    try:
        n_devices, _, platform = cluster.connect().probe()

        def execute(tiers, done, record):
            return cluster.execute(tiers, done, config.base_seed, chunk_size,
                                   None if out is None else str(out), record)

        return _sweep(config, store, force, quiet, max_tiers, platform, n_devices, execute,
                      dict(engine=engine, smoke=smoke))
    finally:
        cluster.close()


def _sweep(config: SweepConfig, store: Store | None, force: bool, quiet: bool, max_tiers: int,
           platform: str, n_devices: int, execute: Callable, extra: dict) -> SweepResult:
    """Skip finished runs, plan tiers, run the rest through `execute`, merge and record."""
    runs = expand(config)
    done = store.done_runs(config.seeds) if store is not None and not force else set()
    tiers = plan_tiers(runs, max_tiers, platform, n_devices)
    manifest = dict(
        name=config.name, status="running", config=config.to_dict(),
        grid={k: list(v) for k, v in config.grid.items()}, n_cells=config.n_cells,
        seeds=config.seeds, base_seed=config.base_seed, n_runs=len(runs), **extra,
        versions=versions(), started=now(), runs_resumed=len(done))
    if store is not None:
        store.begin(manifest, force)

    bar = tqdm(total=len(runs), initial=len(done), unit="cell", disable=quiet,
               desc=config.name, file=sys.stderr, dynamic_ncols=True)
    collected: list[tuple[pd.DataFrame, pd.DataFrame]] = []

    def record(runs_: Sequence[Run], summary: pd.DataFrame, trajectories: pd.DataFrame) -> None:
        if store is None:
            collected.append((summary, trajectories))
        elif not store.has_chunk(chunk_name(runs_)):  # a Ray worker may have written it
            store.write_chunk(chunk_name(runs_), summary, trajectories)
        bar.update(len(runs_))

    start = time.perf_counter()
    try:
        info = execute(tiers, done, record)
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
        status="complete", finished=now(), runs_computed=computed, wall_s=round(wall_s, 3),
        run_s=round(run_s, 3),
        cells_per_s=round(computed / wall_s, 3) if computed and wall_s > 0 else None)
    if store is not None:
        store.write_manifest(manifest)
    return SweepResult(summary, trajectories, manifest)


def _execute_local(tiers: Sequence[Tier], done: set[int], base_seed: int,
                   chunk_size: int | None, devices: list,
                   record: Callable) -> dict[str, Any]:
    """The host loop: per tier one compile, then its chunks, dispatched one ahead.

    `record(runs, summary, trajectories)` is called for each finished chunk.
    """
    report, compile_s = [], 0.0
    for tier in tiers:
        todo = [r for r in tier.runs if r.index not in done]
        if not todo:
            continue
        program = compile_tier(tier, chunk_size, devices, len(todo))
        compile_s += program.compile_s
        per_chunk = min(chunk_size, program.size) if chunk_size else program.size
        parts = chunks(todo, per_chunk)
        report.append(dict(n_max=tier.static.n_max, d=tier.static.d, m=tier.static.m,
                           T=tier.static.T, runs=len(todo), chunk_size=program.size,
                           chunks=len(parts), compile_s=round(program.compile_s, 3),
                           memory_bytes=program.memory_bytes))
        pending, steps = None, tier.static.record_steps
        try:
            # Dispatch chunk k+1 before turning chunk k into tables, so the host work
            # overlaps the device work.
            for part in parts:
                try:
                    outputs = program(part, base_seed)
                except Exception:
                    if pending is not None:  # keep the chunk that did finish
                        record(pending[0], *chunk_tables(pending[0], steps, pending[1]))
                    raise
                if pending is not None:
                    record(pending[0], *chunk_tables(pending[0], steps, pending[1]))
                pending = (part, outputs)
            record(pending[0], *chunk_tables(pending[0], steps, pending[1]))
        except Exception as err:
            if _is_out_of_memory(err):
                raise _out_of_memory(program.size, len(devices)) from None
            raise
    return dict(compile_s=round(compile_s, 3), tiers=report,
                devices=[str(d) for d in devices],
                platform=devices[0].platform if devices else None)


def sweep(config_or_path, out: str | Path | None = None, **options) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Evaluate a sweep config (SPEC §6) and return `(summary, trajectories)` DataFrames.

    Args:
        config_or_path: a TOML path, a dict, or a `SweepConfig`.
        out: a directory for summary.parquet, trajectories.parquet and manifest.json
            (resumable); `None` keeps everything in memory.
        **options: `chunk_size` (runs per chunk; default automatic), `force`, `quiet`,
            `engine` ("local" or "ray"), `address` (Ray), `smoke`, `devices` (a count or a
            list; default all local devices), `max_tiers`.
    """
    result = run_sweep(config_or_path, out, **options)
    return result.summary, result.trajectories
