"""A sweep of an explicit list of cells: the points themselves, not the product of the grid.

A sweep config's `[grid]` is a Cartesian product (`SweepConfig.cells`). Some work needs
scattered points instead: the edge tracer (`sweeping.trace`) evaluates, in one step, the
midpoint of every line's bracket, one point a line. `cell_list(config, points)` is that
config with its cells replaced by `points`; everything else (the seeds and their keys, the
tiers, the chunks, the store, the tables) is the sweep engine's, unchanged, so a point's runs
are the runs a grid with that cell would give. Existing configs keep their grid semantics.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

from w2s_jax.model.config import ConfigError
from w2s_jax.model.schema import SCHEMA
from w2s_jax.sweeping.config_file import RUNS_MAX, SweepConfig

__all__ = ["CellList", "cell_list"]


@dataclasses.dataclass(frozen=True)
class CellList(SweepConfig):
    """A `SweepConfig` whose cells are `points`, in order (cell `i` is `points[i]`).

    `grid` holds each axis's distinct values, for the manifest only; `to_dict` carries the
    points as `cells`, so a results folder (and its `numbers_hash`) belongs to one list."""

    points: tuple[tuple[tuple[str, Any], ...], ...] = ()

    def cells(self) -> Iterator[dict[str, Any]]:
        for point in self.points:
            yield dict(point)

    @property
    def n_cells(self) -> int:
        return len(self.points)

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | dict(cells=[dict(p) for p in self.points])


def cell_list(config: SweepConfig, points: Sequence[dict[str, Any]]) -> CellList:
    """`config` with its cells replaced by `points` (each a dict of grid axes to numbers,
    all with the same keys). Every point is validated as a grid cell would be, before any
    work; a bad one raises `ConfigError` naming the key and the point."""
    if not points:
        raise ConfigError("cells: the list of cells is empty (give at least one point)")
    axes = list(points[0])
    SCHEMA.check_keys("grid", dict.fromkeys(axes))
    for point in points:
        if list(point) != axes:
            raise ConfigError(
                f"cells: every cell gives the same axes in the same order ({', '.join(axes)}), "
                f"got {', '.join(point)}"
            )
        for key, value in point.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"cells.{key}: expected a number, got {value!r}", key=key)
    if len(points) * config.seeds > RUNS_MAX:
        raise ConfigError(
            f"cells: {len(points)} cells × {config.seeds} seeds is above the maximum "
            f"{RUNS_MAX:.0e} runs per sweep; use fewer cells or seeds"
        )
    grid = {a: tuple(dict.fromkeys(p[a] for p in points)) for a in axes}
    # Every field of the config as it is (a field added to SweepConfig later comes along).
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(SweepConfig)}
    out = CellList(**fields | dict(grid=grid, points=tuple(tuple(p.items()) for p in points)))
    for point in points:
        try:
            out.configs(point)
        except ConfigError as err:
            where = ", ".join(f"{k}={v}" for k, v in point.items())
            raise ConfigError(f"{err} (in the cell {where})", key=err.key) from None
    return out
