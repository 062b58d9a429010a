"""One compiled chunk: `run` vmapped over a chunk of runs, sharded over local devices.

Both executors (local and Ray) build on this module: a tier's program is compiled once per
(static, chunk size, devices) and cached in the process, so a notebook that reruns a sweep,
or a Ray worker that gets a second chunk of a tier, does not compile again.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec, SingleDeviceSharding

from w2s_jax.engines.run import run
from w2s_jax.model.config import ConfigError, Static
from w2s_jax.sweeping.compile_cache import CacheMonitor
from w2s_jax.sweeping.plan import Run, stack_params
from w2s_jax.training.records import Trajectory

__all__ = [
    "ChunkProgram",
    "program_for",
    "chunk_name",
    "OutOfMemoryError",
    "is_out_of_memory",
    "out_of_memory",
    "OUTPUT_FIELDS",
]

#: Trajectory fields a chunk returns (`gamma`, `R·2·m·4` per run, is dropped in the program).
OUTPUT_FIELDS = tuple(f for f in Trajectory._fields if f != "gamma")


class OutOfMemoryError(ConfigError):
    """A chunk did not fit in device memory; the message names a chunk size to try."""


def is_out_of_memory(err: BaseException) -> bool:
    text = str(err)
    return "RESOURCE_EXHAUSTED" in text or "out of memory" in text.lower()


def out_of_memory(size: int, n_devices: int) -> OutOfMemoryError:
    if size <= n_devices:  # one run per device already: a smaller chunk cannot help
        return OutOfMemoryError(
            f"chunk_size: one run per device ran out of memory on {n_devices} device(s); "
            'finished chunks are kept; use engine = "gram" with gram_noise = "wishart" (no '
            "d-sized array), or lower d or n_st"
        )
    smaller = max(1, size // 4)
    return OutOfMemoryError(
        f"chunk_size: a chunk of {size} runs on {n_devices} device(s) ran out of memory; "
        f"finished chunks are kept, rerun with --chunk-size {smaller}"
    )


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
            fn = jax.shard_map(
                fn, mesh=mesh, in_specs=(grid, grid, replicated), out_specs=grid, check_vma=False
            )
            self.sharding = NamedSharding(mesh, grid)
            self.replicated = NamedSharding(mesh, replicated)
        else:
            self.sharding = self.replicated = SingleDeviceSharding(self.devices[0])
        self._jitted = jax.jit(fn)
        self._compiled = None
        self.compile_s = self.lower_s = 0.0
        self.cache = "off"

    def compile(self, runs: Sequence[Run]) -> ChunkProgram:
        """Trace, lower and compile (or load from the persistent cache) the chunk program.

        Sets `lower_s` (tracing and lowering), `compile_s` (all of it) and `cache`: `"hit"`
        when the persistent cache served the program, `"miss"` when XLA compiled it and
        the cache stored it, `"off"` without a cache.
        """
        with CacheMonitor() as monitor:
            start = time.perf_counter()
            lowered = self._jitted.lower(*self._inputs(runs, 0))
            self.lower_s = time.perf_counter() - start
            self._compiled = lowered.compile()
        self.compile_s = monitor.seconds
        self.cache = "hit" if monitor.served else "miss" if monitor.misses else "off"
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
        return int(
            m.temp_size_in_bytes
            + m.argument_size_in_bytes
            + m.output_size_in_bytes
            + m.generated_code_size_in_bytes
            - m.alias_size_in_bytes
        )

    def _inputs(self, runs: Sequence[Run], base_seed: int):
        params, seeds = stack_params(runs, self.size, self.static.dtype)
        return (
            *jax.device_put((params, seeds), self.sharding),
            jax.device_put(jax.random.key(base_seed), self.replicated),
        )

    def __call__(self, runs: Sequence[Run], base_seed: int) -> dict[str, jax.Array]:
        """Dispatch one chunk (asynchronously); padded rows are dropped by `chunk_tables`."""
        return self._compiled(*self._inputs(runs, base_seed))


#: Compiled programs by (static, size, devices): a notebook that reruns a sweep, or a Ray
#: worker that gets a second chunk of a tier, does not compile again.
_PROGRAMS: dict[tuple, ChunkProgram] = {}
_PROGRAMS_MAX = 32


def program_for(static: Static, size: int, devices: Sequence, runs: Sequence[Run]) -> ChunkProgram:
    """The compiled program of a tier at one chunk size, from the cache or compiled now.

    A program taken from this process's cache has `compile_s = 0` and `cache = "process"`.
    """
    key = (static, size, tuple(devices))
    if key in _PROGRAMS:
        program = _PROGRAMS.pop(key)
        program.compile_s = program.lower_s = 0.0
        program.cache = "process"
    else:
        try:
            program = ChunkProgram(static, size, devices).compile(runs[:1])
        except Exception as err:
            if is_out_of_memory(err):
                raise out_of_memory(size, len(devices)) from None
            raise
        while len(_PROGRAMS) >= _PROGRAMS_MAX:
            _PROGRAMS.pop(next(iter(_PROGRAMS)))
    _PROGRAMS[key] = program
    return program


def chunk_name(runs: Sequence[Run]) -> str:
    return f"{runs[0].index:07d}-{runs[-1].index:07d}"
