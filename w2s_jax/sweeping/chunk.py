"""One compiled group: `run` vmapped over a fixed number of lanes, sharded over local devices.

XLA's order of summation in a vmapped program depends on the vmap width (a batch of 1, of 2-6
and of 8 runs gives three different last bits), but not on a run's lane or on the other
runs of the group. So a tier's program always has the same width, `lanes` runs per device
(`lanes_for`: from the tier's shapes, its number of runs, the platform and the device count,
never from the chunk size, the runs already done or the free memory), and a chunk of any
size is dispatched as consecutive groups of that width: results are the same bit for bit
whatever the chunking, and a sweep resumed with another chunk size continues the same numbers.

A width of one is `run` itself, not a vmap of one: XLA's CPU backend runs a batched matrix
product (even of batch 1) at about 0.7 of the rate of the same product unbatched, and the
large runs that get one lane are made of such products (a Wishart run at `n_st = 5000`: 3.29 s
vmapped, 2.47 s not, on two CPU cores).

Both executors (local and Ray) build on this module: a tier's program is compiled once per
(static, lanes, devices) and cached in the process, so a notebook that reruns a sweep, or a
Ray worker that gets a second chunk of a tier, does not compile again.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec, SingleDeviceSharding

from w2s_jax.engines.cost import estimate_run_bytes
from w2s_jax.engines.run import run, run_key
from w2s_jax.model.config import ConfigError, Static, dtype_scope
from w2s_jax.sweeping.compile_cache import CacheMonitor
from w2s_jax.sweeping.memory import auto_chunk_size
from w2s_jax.sweeping.plan import Run, stack_params
from w2s_jax.training.records import Trajectory

__all__ = [
    "ChunkProgram",
    "program_for",
    "lanes_for",
    "runs_per_chunk",
    "chunk_name",
    "OutOfMemoryError",
    "is_out_of_memory",
    "out_of_memory",
    "OUTPUT_FIELDS",
]

#: Trajectory fields a chunk returns (`gamma`, `R·2·m·4` per run, is dropped in the program).
OUTPUT_FIELDS = tuple(f for f in Trajectory._fields if f != "gamma")


#: Per platform: the bytes one device's group of lanes may plan to use, and the most lanes.
#: Fixed numbers, not the free memory: the width decides the last bits of every result.
LANE_BUDGET = {"cpu": (256 << 20, 64)}
ACCELERATOR_LANE_BUDGET = (4 << 30, 1024)


def lanes_for(
    static: Static, n_runs: int, platform: str, n_devices: int = 1, lanes: int | None = None
) -> int:
    """Runs per device in one compiled call: `lanes` (the config's `[sweep] lanes`) if given,
    else a power of two that fits the platform's lane budget, and no more than the tier's
    `n_runs` need on `n_devices` (rounded up to a power of two). It depends on the tier,
    never on the chunk size or on the runs already done."""
    if lanes is not None:
        return lanes
    budget, most = LANE_BUDGET.get(platform, ACCELERATOR_LANE_BUDGET)
    fit = max(1, min(most, budget // max(1, estimate_run_bytes(static))))
    need = 1 << max(0, -(-int(n_runs) // n_devices) - 1).bit_length()
    return min(1 << (fit.bit_length() - 1), need)


def runs_per_chunk(
    chunk_size: int | None, group: int, static: Static, budget: int, n_runs: int
) -> int:
    """Runs per chunk (the unit a sweep stores and resumes), a whole number of `group`s (the
    compiled call's runs): `chunk_size` rounded up, or by default as many runs as `budget`
    bytes would hold."""
    if chunk_size is None:
        chunk_size = auto_chunk_size(estimate_run_bytes(static), budget, 1, n_runs)
    return -(-chunk_size // group) * group


class OutOfMemoryError(ConfigError):
    """A group of runs did not fit in device memory; the message says what would fit."""


def is_out_of_memory(err: BaseException) -> bool:
    text = str(err)
    return "RESOURCE_EXHAUSTED" in text or "out of memory" in text.lower()


def out_of_memory(lanes: int, n_devices: int) -> OutOfMemoryError:
    """The refusal after a group of `lanes` runs per device did not fit."""
    return OutOfMemoryError(
        f"engine: a group of {lanes} run(s) per device ran out of memory on {n_devices} "
        'device(s); finished chunks are kept; use engine = "gram" with gram_noise = "wishart" '
        "(no d-sized array), or lower d or n_st"
    )


def _batched_run(static: Static, params, seeds, base_seed) -> dict[str, jax.Array]:
    """`run` vmapped over a chunk: `seeds` `(B,)` are seed indices, `base_seed` the sweep's
    (a traced integer scalar, so one program serves every `base_seed`); each run's key is
    `run_key(base_seed, seed)`."""
    if seeds.shape[0] == 1:  # one run a call: not vmapped (see the module's docstring)
        one = run(static, jax.tree.map(lambda a: a[0], params), run_key(base_seed, seeds[0]))
        traj = jax.tree.map(lambda a: a[None], one)
    else:
        keys = jax.vmap(run_key, in_axes=(None, 0))(base_seed, seeds)
        traj = jax.vmap(run, in_axes=(None, 0, 0))(static, params, keys)
    return {k: getattr(traj, k) for k in OUTPUT_FIELDS}


class ChunkProgram:
    """A tier's compiled program for groups of `lanes` runs on each of `devices`.

    `size = lanes * len(devices)` runs go into one call. With several devices the group axis
    is split by `shard_map`; every device runs the vmapped core on its `lanes` runs and no
    device talks to another. Calling it on a chunk of any length dispatches as many groups
    as the chunk needs.
    """

    def __init__(self, static: Static, lanes: int, devices: Sequence):
        self.static, self.lanes, self.devices = static, lanes, list(devices)
        self.size = lanes * len(self.devices)
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

    def _scope(self):
        return dtype_scope(self.static.dtype)

    def compile(self, runs: Sequence[Run]) -> ChunkProgram:
        """Trace, lower and compile (or load from the persistent cache) the chunk program.

        Sets `lower_s` (tracing and lowering), `compile_s` (all of it) and `cache`: `"hit"`
        when the persistent cache served the program, `"miss"` when XLA compiled it and
        the cache stored it, `"off"` without a cache.
        """
        with CacheMonitor() as monitor, self._scope():
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
            # converted as `jax.random.key` converts a Python int, so the keys are its keys
            jax.device_put(jnp.asarray(np.int64(base_seed)), self.replicated),
        )

    def __call__(self, runs: Sequence[Run], base_seed: int) -> list[dict[str, jax.Array]]:
        """Dispatch a chunk (asynchronously) as groups of `size` runs, the last one padded;
        `chunk_tables` joins their outputs and drops the padded rows."""
        with self._scope():
            return [
                self._compiled(*self._inputs(runs[i : i + self.size], base_seed))
                for i in range(0, len(runs), self.size)
            ]


#: Compiled programs by (static, lanes, devices): a notebook that reruns a sweep, or a Ray
#: worker that gets a second chunk of a tier, does not compile again.
_PROGRAMS: dict[tuple, ChunkProgram] = {}
_PROGRAMS_MAX = 32


def program_for(static: Static, lanes: int, devices: Sequence, runs: Sequence[Run]) -> ChunkProgram:
    """The compiled program of a tier at `lanes` runs per device, from the cache or compiled.

    A program taken from this process's cache has `compile_s = 0` and `cache = "process"`.
    """
    key = (static, lanes, tuple(devices))
    if key in _PROGRAMS:
        program = _PROGRAMS.pop(key)
        program.compile_s = program.lower_s = 0.0
        program.cache = "process"
    else:
        try:
            program = ChunkProgram(static, lanes, devices).compile(runs[:1])
        except Exception as err:
            if is_out_of_memory(err):
                raise out_of_memory(lanes, len(devices)) from None
            raise
        while len(_PROGRAMS) >= _PROGRAMS_MAX:
            _PROGRAMS.pop(next(iter(_PROGRAMS)))
    _PROGRAMS[key] = program
    return program


def chunk_name(runs: Sequence[Run]) -> str:
    return f"{runs[0].index:07d}-{runs[-1].index:07d}"
