"""Planning a sweep: the grid of docs/model.md#config expanded to runs (cells × seeds), grouped into
compile tiers, and cut into fixed-size chunks.

A tier is one `Static` (every shape: `d, m, n_wk, n_test, T, ...` and the padded `n_max`)
and compiles once; its runs differ only in traced `Params` and seeds. Cells whose `n_st`
spans orders of magnitude are split into a few `n_max` tiers so that `n_st = 75` does not
pay for `n_st = 20000` (STYLE: "pad to n_max, group cells into a few n_max tiers").
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from w2s_jax.engines.cost import work_per_sample
from w2s_jax.model.config import (
    DATA_PARAMS,
    INTEGER_PARAMS,
    ConfigError,
    DataConfig,
    Params,
    Static,
    TrainConfig,
    static_of,
)
from w2s_jax.model.coordinates import DATA_COORDINATES
from w2s_jax.sweeping.config_file import SweepConfig, load_config

__all__ = [
    "Run",
    "Tier",
    "expand",
    "plan_tiers",
    "n_max_tiers",
    "chunks",
    "tier_report",
    "stack_params",
    "smoke_config",
    "check_options",
    "MAX_TIERS",
]

#: Default most n_max tiers per static group (each tier is one compile).
MAX_TIERS = 3
#: A tier is split off only if the padded work it saves beats one more compile: about
#: COMPILE_SECONDS of the device's throughput (rough effective float32 flop/s per device).
COMPILE_SECONDS = 10.0
DEVICE_FLOPS = {"cpu": 2e10, "gpu": 2e13, "cuda": 2e13, "rocm": 2e13, "tpu": 5e13}


@dataclasses.dataclass(frozen=True)
class Run:
    """One grid cell at one seed index: a row of summary.parquet.

    `index = cell * seeds + seed` orders runs as the grid and seeds are listed. `requested`
    holds the theory coordinates the config gave, as given (the tables store them so, beside
    the raw fields they resolved to, so that filtering on a requested value finds its cells).
    """

    index: int
    cell: int
    seed: int
    data: DataConfig
    train: TrainConfig
    requested: tuple[tuple[str, float], ...] = ()


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
        given = config.data | config.train | cell
        requested = tuple((k, float(given[k])) for k in DATA_COORDINATES if k in given)
        for s in range(config.seeds):
            runs.append(Run(c * config.seeds + s, c, s, data, train, requested))
    return runs


def n_max_tiers(
    n_values: Sequence[int], max_tiers: int, tier_cost: float = 0.0, power: int = 1
) -> list[int]:
    """Upper edges (`n_max`) of at most `max_tiers` tiers covering `n_values` (one per run).

    Minimizes `sum_i n_max(tier of i)^power + tier_cost * (number of tiers)` exactly, by
    dynamic programming over the sorted distinct values; `tier_cost` is a compile in units of
    padded work (`power` 1: the direct engine, linear in `n_max`; 2: the Gram engine).
    """
    values = np.sort(np.asarray(n_values, dtype=np.int64))
    distinct = np.unique(values)
    k = len(distinct)
    count = np.searchsorted(values, distinct, side="right")  # runs with n <= distinct[j]
    tiers = min(max_tiers, k)
    # cost[t, j]: least padded work covering distinct[:j+1] with t+1 tiers, the last ending at j
    cost = np.full((tiers, k), np.inf)
    back = np.zeros((tiers, k), dtype=np.int64)
    work = distinct.astype(float) ** power
    cost[0] = count * work
    for t in range(1, tiers):
        for j in range(t, k):
            prev = cost[t - 1, :j] + (count[j] - count[:j]) * work[j]
            back[t, j] = int(np.argmin(prev))
            cost[t, j] = prev[back[t, j]]
    t = int(np.argmin(cost[:, k - 1] + tier_cost * np.arange(1, tiers + 1)))
    edges, j = [], k - 1
    while True:
        edges.append(int(distinct[j]))
        if t == 0:
            return edges[::-1]
        j, t = int(back[t, j]), t - 1


def plan_tiers(
    runs: Sequence[Run], max_tiers: int = MAX_TIERS, platform: str = "cpu", n_devices: int = 1
) -> list[Tier]:
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
        n_values = [r.train.n_st for r in members]
        flops, power = work_per_sample(shape._replace(n_max=max(n_values)))
        tier_cost = COMPILE_SECONDS * throughput / flops
        edges = n_max_tiers(n_values, max_tiers, tier_cost, power)
        by_edge: dict[int, list[Run]] = {e: [] for e in edges}
        for run in members:
            by_edge[edges[int(np.searchsorted(edges, run.train.n_st))]].append(run)
        tiers += [Tier(shape._replace(n_max=e), tuple(rs)) for e, rs in by_edge.items() if rs]
    return tiers


def chunks(runs: Sequence[Run], size: int) -> list[tuple[Run, ...]]:
    """Consecutive runs in chunks of `size`; the last one may be shorter (it is padded later)."""
    return [tuple(runs[i : i + size]) for i in range(0, len(runs), size)]


def tier_report(tier: Tier, runs: Sequence[Run], chunk_size: int, n_chunks: int, **extra) -> dict:
    """The manifest's row for one tier: its shapes, the runs it computes and how they are
    chunked, and what the executor adds (compile seconds, cache, memory)."""
    static = tier.static
    return dict(
        n_max=static.n_max,
        d=static.d,
        m=static.m,
        T=static.T,
        runs=len(runs),
        chunk_size=chunk_size,
        chunks=n_chunks,
        **extra,
    )


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
        leaves[name] = np.asarray(values, dtype=np.int32 if name in INTEGER_PARAMS else dtype)
    return Params(**leaves), np.asarray([r.seed for r in rows], dtype=np.int32)


def check_options(chunk_size, max_tiers, lanes=None) -> None:
    """Reject a bad chunk size, tier count or lane width before any work or any write."""
    for name, value in (("chunk_size", chunk_size), ("max_tiers", max_tiers), ("lanes", lanes)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{name}: must be an integer >= 1, got {value!r}")


#: --smoke caps: sizes at which any config runs in seconds on a laptop CPU.
SMOKE_CAPS = dict(d=64, m=8, n_wk=256, n_test=256, T=60, T_wk=60, n_st=256)
#: The digits need 64 pixel coordinates and room for a noise patch; MNIST needs 784.
SMOKE_D_DIGITS = 128
SMOKE_D_MNIST = 1024
SMOKE_SEEDS = 2
SMOKE_AXIS_VALUES = 3


def smoke_config(config: SweepConfig) -> SweepConfig:
    """A shrunken copy of `config` for a quick end-to-end check (`--smoke`).

    Caps `d, m, n_wk, n_test, T, T_wk, n_st` at `SMOKE_CAPS`, keeps at most two seeds and
    at most three values (first, middle, last) of each grid axis, and records about ten
    points. A `d` that theory coordinates determine (`tau`, `snr`, `n_st_snr`, `d_over_n`) is
    left to them. The name gains the suffix `-smoke`. With `dataset = "digits"` the cap on `d`
    is `SMOKE_D_DIGITS` (the sample caps only shrink counts, so a config that fits the images
    still fits).
    """
    caps = dict(SMOKE_CAPS)
    if config.data.get("dataset") == "digits":
        caps["d"] = SMOKE_D_DIGITS
    if config.data.get("dataset") == "mnist":
        caps["d"] = SMOKE_D_MNIST
    derived_d = (
        "d" not in config.data
        and "d" not in config.grid
        and any(
            k in config.data or k in config.grid for k in ("tau", "snr", "n_st_snr", "d_over_n")
        )
    )

    def cap(key, value):
        return min(value, caps[key]) if key in caps else value

    data = {k: cap(k, v) for k, v in config.data.items()}
    train = {k: cap(k, v) for k, v in config.train.items()}
    for key, limit in caps.items():
        table = data if key in {f.name for f in dataclasses.fields(DataConfig)} else train
        if key not in config.grid and not (key == "d" and derived_d):
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
    small = config.replace(
        name=f"{config.name}-smoke",
        seeds=min(config.seeds, SMOKE_SEEDS),
        data=data,
        train=train,
        grid=grid,
    )
    return load_config(small.to_dict())
