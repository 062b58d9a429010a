"""`--engine ray`: a sweep's chunks as Ray tasks, one task per chunk, across machines.

Each task compiles its tier (once per worker process; later chunks of the tier reuse the
program), runs the chunk on the worker's local devices, writes the chunk's parquet parts
into DIR and returns its tables. The driver writes any part that a worker could not (DIR
not shared with that machine), counts progress and merges. Every machine needs the same
environment (w2s_jax, jax and ray installed); DIR is best on a shared filesystem.

Ray is an optional extra (`pip install 'w2s_jax[ray]'`) and is imported only here.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from w2s_jax.config import ConfigError, Static
from w2s_jax.grid import Run, Tier, auto_chunk_size, chunks, estimate_run_bytes, memory_budget

__all__ = ["import_ray", "execute"]


def import_ray():
    """The `ray` module, or a one-line `ConfigError` that says how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError("engine: 'ray' needs Ray, which is not installed "
                          "(pip install 'w2s_jax[ray]')") from None
    return ray


def _probe() -> tuple[int, int, str]:
    """On a worker: its device count, the per-device memory budget and the platform."""
    import jax
    devices = jax.local_devices()
    return len(devices), memory_budget(devices[0], len(devices)), devices[0].platform


def _run_chunk(static: Static, runs: Sequence[Run], base_seed: int, out: str | None):
    """On a worker: evaluate one chunk, write its parts if DIR is reachable, return its tables."""
    import jax

    from w2s_jax.store import Store
    from w2s_jax.sweep import chunk_name, chunk_tables, program_for

    devices = jax.local_devices()
    size = -(-len(runs) // len(devices)) * len(devices)
    program = program_for(static, size, devices, runs)
    summary, trajectories = chunk_tables(runs, static.record_steps, program(runs, base_seed))
    name = chunk_name(runs)
    if out is not None:
        try:
            Store(out).write_chunk(name, summary, trajectories)
        except OSError:
            pass  # DIR is not on this machine; the driver writes the parts
    return name, summary, trajectories, program.compile_s, [str(d) for d in devices]


def _connect(ray, address: str | None, quiet: bool) -> bool:
    """Connect to (or start) a cluster; True if this call started the connection."""
    if ray.is_initialized():
        return False
    options: dict[str, Any] = dict(address=address, log_to_driver=not quiet)
    if address is None:
        options["include_dashboard"] = False
    try:
        ray.init(**options)
    except (ConnectionError, ValueError, RuntimeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"address: cannot connect to a Ray cluster at {address!r} ({first})") from None
    return True


def _unwrap(ray, err: Exception) -> Exception:
    """The exception raised inside a task, if it is ours (a ConfigError such as out of memory)."""
    cause = getattr(err, "cause", None)
    return cause if isinstance(cause, ConfigError) else err


def execute(ray, tiers: Sequence[Tier], done: set[int], base_seed: int,
            chunk_size: int | None, address: str | None, out: str | None,
            record: Callable, quiet: bool = True) -> dict[str, Any]:
    """Submit one task per chunk, collect them as they finish, and report timings.

    `record(runs, summary, trajectories)` is called on the driver for each finished chunk.
    """
    started = _connect(ray, address, quiet)
    try:
        gpus = ray.cluster_resources().get("GPU", 0)
        resources = dict(num_gpus=1) if gpus > 0 else dict(num_cpus=1)
        n_devices, budget, platform = ray.get(ray.remote(_probe).options(**resources).remote())
        task = ray.remote(_run_chunk).options(**resources)
        pending, report = {}, []
        for tier in tiers:
            todo = [r for r in tier.runs if r.index not in done]
            if not todo:
                continue
            size = chunk_size or auto_chunk_size(estimate_run_bytes(tier.static), budget,
                                                 n_devices, len(tier.runs))
            parts = chunks(todo, size)
            report.append(dict(n_max=tier.static.n_max, d=tier.static.d, m=tier.static.m,
                               T=tier.static.T, runs=len(todo), chunk_size=size,
                               chunks=len(parts)))
            for part in parts:
                pending[task.remote(tier.static, part, base_seed, out)] = part
        compile_s, devices = 0.0, set()
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            part = pending.pop(ready[0])
            try:
                _, summary, trajectories, compile_task, devices_task = ray.get(ready[0])
            except ray.exceptions.RayTaskError as err:
                for ref in pending:
                    ray.cancel(ref)
                raise _unwrap(ray, err) from None
            compile_s += compile_task
            devices.update(devices_task)
            record(part, summary, trajectories)
        return dict(compile_s=round(compile_s, 3), tiers=report, devices=sorted(devices),
                    platform=platform, ray_address=address,
                    ray_nodes=len(ray.nodes()), ray_gpus=gpus)
    finally:
        if started:
            ray.shutdown()
