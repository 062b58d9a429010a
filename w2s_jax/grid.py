"""Planning a sweep: the grid of SPEC §6 expanded to runs (cells × seeds), grouped into
compile tiers, and cut into fixed-size chunks (sized from a memory estimate by default).

A tier is one `Static` (every shape: `d, m, n_wk, n_test, T, ...` and the padded `n_max`)
and compiles once; its runs differ only in traced `Params` and seeds. Cells whose `n_st`
spans orders of magnitude are split into a few `n_max` tiers so that `n_st = 75` does not
pay for `n_st = 20000` (STYLE: "pad to n_max, group cells into a few n_max tiers").
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Sequence

import numpy as np

from w2s_jax.config import (DATA_PARAMS, ConfigError, DataConfig, Params, Static,
                            TrainConfig, static_of)
from w2s_jax.config_file import SweepConfig, load_config

__all__ = ["Run", "Tier", "expand", "plan_tiers", "n_max_tiers", "chunks", "stack_params",
           "estimate_run_bytes", "memory_budget", "auto_chunk_size", "smoke_config",
           "check_options", "flops_per_sample", "MAX_TIERS", "MAX_AUTO_CHUNK", "MEMORY_FRACTION"]

#: Default most n_max tiers per static group (each tier is one compile).
MAX_TIERS = 3
#: A tier is split off only if the padded work it saves beats one more compile: about
#: COMPILE_SECONDS of the device's throughput (rough effective float32 flop/s per device).
COMPILE_SECONDS = 10.0
DEVICE_FLOPS = {"cpu": 2e10, "gpu": 2e13, "cuda": 2e13, "rocm": 2e13, "tpu": 5e13}
#: Largest automatic chunk (runs): keeps resumable progress and host tables small.
MAX_AUTO_CHUNK = 1024
#: Share of free device memory an automatic chunk may plan to use.
MEMORY_FRACTION = 0.5


@dataclasses.dataclass(frozen=True)
class Run:
    """One grid cell at one seed index: a row of summary.parquet.

    `index = cell * seeds + seed` orders runs as the grid and seeds are listed.
    """

    index: int
    cell: int
    seed: int
    data: DataConfig
    train: TrainConfig


@dataclasses.dataclass(frozen=True)
class Tier:
    """Runs that share one `Static` (and so one compiled program)."""

    static: Static
    runs: tuple[Run, ...]


def expand(config: SweepConfig) -> list[Run]:
    """Every (cell, seed) of the config in grid order, seeds innermost."""
    runs = []
    for c, cell in enumerate(config.cells()):
        data, train = config.configs(cell)
        for s in range(config.seeds):
            runs.append(Run(c * config.seeds + s, c, s, data, train))
    return runs


def n_max_tiers(n_values: Sequence[int], max_tiers: int, tier_cost: float = 0.0) -> list[int]:
    """Upper edges (`n_max`) of at most `max_tiers` tiers covering `n_values` (one per run).

    Minimizes `sum_i n_max(tier of i) + tier_cost * (number of tiers)` exactly, by dynamic
    programming over the sorted distinct values; `tier_cost` is a compile in units of padded
    training samples.
    """
    values = np.sort(np.asarray(n_values, dtype=np.int64))
    distinct = np.unique(values)
    k = len(distinct)
    count = np.searchsorted(values, distinct, side="right")  # runs with n <= distinct[j]
    tiers = min(max_tiers, k)
    # cost[t, j]: least padded work covering distinct[:j+1] with t+1 tiers, the last ending at j
    cost = np.full((tiers, k), np.inf)
    back = np.zeros((tiers, k), dtype=np.int64)
    cost[0] = count * distinct
    for t in range(1, tiers):
        for j in range(t, k):
            prev = cost[t - 1, :j] + (count[j] - count[:j]) * distinct[j]
            back[t, j] = int(np.argmin(prev))
            cost[t, j] = prev[back[t, j]]
    t = int(np.argmin(cost[:, k - 1] + tier_cost * np.arange(1, tiers + 1)))
    edges, j = [], k - 1
    while True:
        edges.append(int(distinct[j]))
        if t == 0:
            return edges[::-1]
        j, t = int(back[t, j]), t - 1


def flops_per_sample(static: Static) -> float:
    """Strong-training flops that one padded training sample costs over a run.

    Forward and backward through `2m` filters on the noise patch (the only one with `d`
    coordinates, see `ReLUCNN.split_patch_logits`), two flops a multiply-add, `T` steps.
    """
    return 2.0 * 2 * 2 * static.m * static.d * max(static.T, 1)


def plan_tiers(runs: Sequence[Run], max_tiers: int = MAX_TIERS, platform: str = "cpu",
               n_devices: int = 1) -> list[Tier]:
    """Group runs by their static shapes, then by `n_max` tier within each group.

    Each extra tier costs a compile, weighed against the padded work it saves on
    `n_devices` devices of `platform` (see `COMPILE_SECONDS`).
    """
    groups: dict[Static, list[Run]] = {}
    shapes: dict[tuple, Static] = {}
    for run in runs:
        key = (run.data, run.train)
        if key not in shapes:
            shapes[key] = static_of(run.data, run.train)._replace(n_max=0)
        groups.setdefault(shapes[key], []).append(run)
    throughput = DEVICE_FLOPS.get(platform, DEVICE_FLOPS["gpu"]) * n_devices
    tiers = []
    for shape, members in groups.items():
        tier_cost = COMPILE_SECONDS * throughput / flops_per_sample(shape)
        # Wishart draws are sized by n_max (one Bartlett factor), so one tier per shape keeps
        # them independent of the tier heuristics; they still depend on the grid's largest n_st.
        tiers_allowed = 1 if shape.gram_noise == "wishart" else max_tiers
        edges = n_max_tiers([r.train.n_st for r in members], tiers_allowed, tier_cost)
        by_edge: dict[int, list[Run]] = {e: [] for e in edges}
        for run in members:
            by_edge[edges[int(np.searchsorted(edges, run.train.n_st))]].append(run)
        tiers += [Tier(shape._replace(n_max=e), tuple(rs)) for e, rs in by_edge.items() if rs]
    return tiers


def chunks(runs: Sequence[Run], size: int) -> list[tuple[Run, ...]]:
    """Consecutive runs in chunks of `size`; the last one may be shorter (it is padded later)."""
    return [tuple(runs[i:i + size]) for i in range(0, len(runs), size)]


def stack_params(runs: Sequence[Run], size: int, dtype: str) -> tuple[Params, np.ndarray]:
    """The chunk's `Params` (each leaf `(size,)`) and seed indices, padded to `size`.

    Padding repeats the last run: its values are valid, so padded rows cannot diverge or
    raise, and their outputs are dropped.
    """
    rows = list(runs) + [runs[-1]] * (size - len(runs))
    leaves = {}
    for name in Params._fields:
        source = "data" if name in DATA_PARAMS else "train"
        values = [getattr(getattr(r, source), name) for r in rows]
        leaves[name] = np.asarray(values, dtype=np.int32 if name == "n_st" else dtype)
    return Params(**leaves), np.asarray([r.seed for r in rows], dtype=np.int32)


def estimate_run_bytes(static: Static) -> int:
    """A shape-based upper estimate of one run's device memory (bytes).

    The three samples `(n, 3, d)`, the strong model's activations and gradients, and the
    `(2, m, n_max)` noise projections; with the Gram engine its `n_max × (n_max + n_test)`
    blocks, and on the Wishart path its Bartlett factor instead of any `d`-sized array;
    doubled for XLA temporaries.
    """
    from w2s_jax.run import _use_gram

    itemsize = np.dtype(static.dtype).itemsize
    d, m, n = static.d, static.m, static.n_max
    wishart = static.gram_noise == "wishart"
    n_all = static.n_wk + n + static.n_test
    data = 2 * n_all * 3 * (4 if wishart else d)  # patches plus draws of the noise
    activations = 4 * (n + static.n_test) * 3 * 2 * m
    weights = (0 if wishart else 8 * 2 * m * d) + 2 * 2 * m * n
    gram = 2 * n * (n + static.n_test + 2 * m) if _use_gram(static) else 0
    if wishart:
        n1 = static.n_wk + n + 2 * m
        gram += n1 * n1 + static.n_test * n1
    return 2 * itemsize * (data + activations + weights + gram) + 64 * len(static.record_steps)


def memory_budget(device, n_devices: int) -> int:
    """Bytes one device may plan to use: `MEMORY_FRACTION` of what is free on it.

    Accelerators report `bytes_limit` and `bytes_in_use`; CPU devices share the host's
    available memory.
    """
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if stats and "bytes_limit" in stats:
        free = stats["bytes_limit"] - stats.get("bytes_in_use", 0)
    else:
        free = _host_available_bytes() // max(n_devices, 1)
    return int(MEMORY_FRACTION * free)


def _host_available_bytes() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return 4 << 30  # unknown host: assume 4 GiB free


def auto_chunk_size(per_run_bytes: int, budget_bytes: int, n_devices: int, n_runs: int) -> int:
    """The largest chunk (a multiple of `n_devices`) whose runs fit the per-device budget."""
    per_device = max(1, budget_bytes // max(per_run_bytes, 1))
    size = min(per_device * n_devices, MAX_AUTO_CHUNK, _round_up(n_runs, n_devices))
    return max(n_devices, size // n_devices * n_devices)


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def check_options(chunk_size, max_tiers) -> None:
    """Reject a bad chunk size or tier count before any work or any write."""
    for name, value in (("chunk_size", chunk_size), ("max_tiers", max_tiers)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{name}: must be an integer >= 1, got {value!r}")


#: --smoke caps: sizes at which any config runs in seconds on a laptop CPU.
SMOKE_CAPS = dict(d=64, m=8, n_wk=256, n_test=256, T=60, T_wk=60, n_st=256)
SMOKE_SEEDS = 2
SMOKE_AXIS_VALUES = 3


def smoke_config(config: SweepConfig) -> SweepConfig:
    """A shrunken copy of `config` for a quick end-to-end check (`--smoke`).

    Caps `d, m, n_wk, n_test, T, T_wk, n_st` at `SMOKE_CAPS`, keeps at most two seeds and
    at most three values (first, middle, last) of each grid axis, and records about ten
    points. The name gains the suffix `-smoke`.
    """
    def cap(key, value):
        return min(value, SMOKE_CAPS[key]) if key in SMOKE_CAPS else value

    data = {k: cap(k, v) for k, v in config.data.items()}
    train = {k: cap(k, v) for k, v in config.train.items()}
    for key, limit in SMOKE_CAPS.items():
        table = data if key in {f.name for f in dataclasses.fields(DataConfig)} else train
        if key not in config.grid:
            default = getattr(DataConfig if table is data else TrainConfig, key)
            table[key] = min(table.get(key, default), limit)
    grid = {}
    for key, values in config.grid.items():
        if len(values) > SMOKE_AXIS_VALUES:
            values = (values[0], values[len(values) // 2], values[-1])
        grid[key] = tuple(dict.fromkeys(cap(key, v) for v in values))
    T = max(grid["T"]) if "T" in grid else train["T"]
    train["record_every"] = max(1, math.ceil(T / 10))
    train["record_points"] = min(train.get("record_points", TrainConfig.record_points), 11)
    grid.pop("record_every", None)
    grid.pop("record_points", None)
    small = config.replace(name=f"{config.name}-smoke", seeds=min(config.seeds, SMOKE_SEEDS),
                           data=data, train=train, grid=grid)
    return load_config(small.to_dict())
