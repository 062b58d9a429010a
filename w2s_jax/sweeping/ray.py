"""`--engine ray`: a sweep's chunks as Ray tasks, one task per chunk, across machines.

Each task compiles its tier (once per worker process; later chunks of the tier reuse the
program), runs the chunk on the worker's local devices, writes the chunk's parquet parts
into DIR and returns its tables. The driver writes any part that a worker could not (DIR
not shared with that machine), counts progress and merges. Every machine needs the same
environment (w2s_jax, jax and ray installed); DIR is best on a shared filesystem.

Ray is an optional extra (`pip install 'w2s_jax[ray]'`) and is imported only here.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Sequence
from typing import Any

import jax

from w2s_jax.model.config import ConfigError, Static
from w2s_jax.sweeping import compile_cache
from w2s_jax.sweeping.chunk import chunk_name, lanes_for, program_for, runs_per_chunk
from w2s_jax.sweeping.memory import memory_budget
from w2s_jax.sweeping.plan import Run, Tier, chunks, tier_report
from w2s_jax.sweeping.store import Store
from w2s_jax.sweeping.tables import chunk_tables

__all__ = ["import_ray", "Cluster"]


def import_ray():
    """The `ray` module, or a one-line `ConfigError` that says how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "engine: 'ray' needs Ray, which is not installed (pip install 'w2s_jax[ray]')"
        ) from None
    return ray


def _probe() -> tuple[int, int, str]:
    """On a worker: its device count, the per-device memory budget and the platform."""
    devices = jax.local_devices()
    return len(devices), memory_budget(devices[0], len(devices)), devices[0].platform


def _run_chunk(
    static: Static,
    runs: Sequence[Run],
    lanes: int,
    base_seed: int,
    out: str | None,
    numbers: str,
):
    """On a worker: evaluate one chunk, write its parts if DIR is reachable, return its tables.

    `lanes` is the tier's width per device (`chunk.lanes_for`, chosen on the driver), so every
    worker computes the same bits as a local sweep on the same platform. `numbers` is the
    sweep's `numbers_hash`, which marks the parts it writes.
    """
    compile_cache.enable()  # the worker's own per-user cache
    devices = jax.local_devices()
    program = program_for(static, lanes, devices, runs)
    summary, trajectories = chunk_tables(runs, static.record_steps, program(runs, base_seed))
    name = chunk_name(runs)
    if out is not None:
        # DIR may not be on this machine; then the driver writes the parts.
        with contextlib.suppress(OSError):
            store = Store(out)
            store.numbers = numbers
            store.write_chunk(name, summary, trajectories)
    return name, summary, trajectories, program.compile_s, [str(d) for d in devices]


def _check_reachable(address: str | None, timeout_s: float = 5.0) -> None:
    """Fail fast, in one line, on a `host:port` nobody listens on (Ray retries for minutes)."""
    if address is None or address in ("auto", "local"):
        return
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"address: expected HOST:PORT, ray://HOST:PORT or auto, got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as err:
        raise ConfigError(
            f"address: cannot reach a Ray cluster at {address!r} ({err.strerror or err})"
        ) from None


class Cluster:
    """A connection to a Ray cluster (a local one is started if `address` is None).

    `probe()` asks one worker, with the resources a chunk task gets, for its devices.
    """

    def __init__(self, address: str | None = None, quiet: bool = True):
        self.ray = import_ray()
        self.address, self.quiet, self.started = address, quiet, False

    def connect(self) -> Cluster:
        ray = self.ray
        if not ray.is_initialized():
            _check_reachable(self.address)
            options: dict[str, Any] = dict(address=self.address, log_to_driver=not self.quiet)
            if self.address is None:
                options["include_dashboard"] = False
            try:
                ray.init(**options)
            except (ConnectionError, ValueError, RuntimeError) as err:
                first = (str(err).strip().splitlines() or [type(err).__name__])[0]
                raise ConfigError(
                    f"address: cannot connect to a Ray cluster at {self.address!r} ({first})"
                ) from None
            self.started = True
        self.gpus = ray.cluster_resources().get("GPU", 0)
        # One GPU per task where the cluster has GPUs; otherwise one CPU.
        self.resources = dict(num_gpus=1) if self.gpus > 0 else dict(num_cpus=1)
        return self

    def probe(self) -> tuple[int, int, str]:
        """(devices per task, per-device memory budget, platform) of a worker."""
        ray = self.ray
        self.n_devices, self.budget, self.platform = ray.get(
            ray.remote(_probe).options(**self.resources).remote()
        )
        return self.n_devices, self.budget, self.platform

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()
            self.started = False

    def execute(
        self,
        tiers: Sequence[Tier],
        done: set[int],
        base_seed: int,
        chunk_size: int | None,
        out: str | None,
        record: Callable,
        lanes: int | None = None,
        numbers: str | None = None,
    ) -> dict[str, Any]:
        """Submit one task per chunk, collect them as they finish, and report timings.

        `record(runs, summary, trajectories)` is called on the driver for each finished chunk.
        """
        ray = self.ray
        task = ray.remote(_run_chunk).options(**self.resources)
        pending, report = {}, []
        for tier in tiers:
            todo = [r for r in tier.runs if r.index not in done]
            if not todo:
                continue
            width = lanes_for(tier.static, len(tier.runs), self.platform, self.n_devices, lanes)
            group = width * self.n_devices
            size = runs_per_chunk(chunk_size, group, tier.static, self.budget, len(todo))
            parts = chunks(todo, size)
            report.append(tier_report(tier, todo, size, len(parts), lanes=width))
            for part in parts:
                pending[task.remote(tier.static, part, width, base_seed, out, numbers)] = part
        compile_s, devices = 0.0, set()
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            part = pending.pop(ready[0])
            try:
                _, summary, trajectories, compile_task, devices_task = ray.get(ready[0])
            except ray.exceptions.RayTaskError as err:
                for ref in pending:
                    ray.cancel(ref)
                cause = getattr(err, "cause", None)  # ours, e.g. out of memory: one line
                raise (cause if isinstance(cause, ConfigError) else err) from None
            compile_s += compile_task
            devices.update(devices_task)
            record(part, summary, trajectories)
        return dict(
            compile_s=round(compile_s, 3),
            tiers=report,
            devices=sorted(devices),
            platform=self.platform,
            ray_address=self.address,
            ray_nodes=len(ray.nodes()),
            ray_gpus=self.gpus,
        )
