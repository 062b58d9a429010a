"""The sweep config: a TOML file (or dict) with `[data]`, `[train]` and `[grid]`.

`load_config` validates everything up front, so a bad key is reported before any work:
unknown keys, wrong types, empty grid axes and out-of-range values raise `ConfigError`
with a message that names the key and its table (`data.`, `train.`, `grid.`). What each key
accepts, and its table, is declared once in `model.schema`. Nothing here loads JAX: the `w2s`
command refuses a bad config before it does.

Overrides (`w2s sweep CONFIG --set KEY=VALUE`, `with_overrides`) change the file's values
before they are checked, so a study at another `n_st` is the same file with
`--set grid.n_st=[1000]`, not a copy of it.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import tomllib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from w2s_jax.model.config import (
    DATA_FIELDS,
    TRAIN_FIELDS,
    ConfigError,
    DataConfig,
    TrainConfig,
    check_compatible,
    check_dataset,
    show,
)
from w2s_jax.model.coordinates import resolve
from w2s_jax.model.schema import SCHEMA
from w2s_jax.model.validation import check_cell, resolve_checked

__all__ = [
    "SweepConfig",
    "load_config",
    "read_config",
    "with_overrides",
    "parse_value",
    "NUMERIC_FIELDS",
    "RUNS_MAX",
    "SEED_MAX",
    "LANES_MAX",
    "MAX_TIERS_MAX",
]

#: Fields that may be a grid axis: every numeric data or training field but `p_e`, which is
#: implied by `p_h` and `p_b`; sweep those instead. (The theory coordinates may be axes too.)
NUMERIC_FIELDS = SCHEMA.grid_fields
_SCALAR_KEYS = ("name", "seeds", "base_seed", "description")
_TABLES = ("data", "train", "grid", "sweep")
_TOP_KEYS = set(_SCALAR_KEYS + _TABLES)
_SWEEP_KEYS = {"chunk_size", "max_tiers", "lanes"}
#: The most runs (cells × seeds) one sweep may plan: its run list lives in memory.
RUNS_MAX = 10**7
#: The most runs one device computes in one compiled call (`[sweep] lanes`): four times the
#: widest group the sweep picks by itself on an accelerator (`sweeping.chunk`); each lane holds
#: a whole run's arrays, so a wider group only runs out of memory.
LANES_MAX = 4096
#: The most compiled programs (`n_max` tiers) per static shape (`[sweep] max_tiers`).
MAX_TIERS_MAX = 64
#: The largest seed: `jax.random.key` and `fold_in` take 32-bit unsigned seeds.
SEED_MAX = 2**32 - 1


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """A validated sweep config. `grid` maps each axis to its values, in file order."""

    name: str
    seeds: int
    base_seed: int
    data: dict[str, Any]
    train: dict[str, Any]
    grid: dict[str, tuple]
    sweep: dict[str, Any]
    description: str = ""

    def cells(self) -> Iterator[dict[str, Any]]:
        """The Cartesian product of the grid, one dict of axis values per cell."""
        axes = list(self.grid)
        for values in itertools.product(*(self.grid[a] for a in axes)):
            yield dict(zip(axes, values))

    @property
    def n_cells(self) -> int:
        n = 1
        for values in self.grid.values():
            n *= len(values)
        return n

    def configs(self, cell: dict[str, Any]) -> tuple[DataConfig, TrainConfig]:
        """The validated (data, train) configuration of one cell; theory coordinates
        (`tau`, `snr`, `mu_over_nu`) are resolved to raw fields (`model.coordinates`).

        Every value is checked by type, range and dtype before it is used
        (`model.validation`), so a bad one raises `ConfigError` naming the key written."""
        given = self.data | self.train | cell
        fields = resolve_checked(given, check_cell(given), resolve)
        data = {k: v for k, v in fields.items() if k in DATA_FIELDS}
        train = {k: v for k, v in fields.items() if k in TRAIN_FIELDS}
        data, train = DataConfig(**data), TrainConfig(**train)
        check_compatible(data, train)
        check_dataset(data, train)
        return data, train

    def to_dict(self) -> dict[str, Any]:
        return dict(
            name=self.name,
            description=self.description,
            seeds=self.seeds,
            base_seed=self.base_seed,
            data=dict(self.data),
            train=dict(self.train),
            grid={k: list(v) for k, v in self.grid.items()},
            sweep=dict(self.sweep),
        )

    def replace(self, **changes) -> SweepConfig:
        return dataclasses.replace(self, **changes)


def _table(raw: dict, key: str) -> dict:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a table [{key}], got {type(value).__name__}")
    return value


def _check_keys(table: dict, allowed, where: str):
    for key in table:
        if key not in allowed:
            raise ConfigError(f"{where}{key}: unknown key (allowed: {', '.join(sorted(allowed))})")


def read_config(path: str | Path) -> dict:
    """The tables of a sweep config file, as written (`load_config` checks them)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as err:
        raise ConfigError(f"config: cannot read {str(path)!r} ({err.strerror or err})") from None
    except UnicodeDecodeError:
        raise ConfigError(
            f"config: {str(path)!r} is not UTF-8 text (a TOML file is); give the sweep config file"
        ) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config: {path} is not valid TOML ({err})") from None
    except RecursionError:  # tomllib recurses once per level of nesting
        raise ConfigError(
            f"config: {path} nests lists or tables too deeply to read; a sweep config holds "
            "tables of numbers, strings and lists of numbers"
        ) from None
    if not raw:
        raise ConfigError(
            f"config: {str(path)!r} is empty; give at least one of [data], [train], "
            "[grid] (an empty file would run the whole default sweep)"
        )
    return raw


def parse_value(key: str, text: str, flag: str = "--set"):
    """A value written on the command line, read as TOML (`0.1`, `[300, 1000]`, `"coin"`);
    a bare word that is not TOML is a string (`hard_labels=coin`)."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
    except RecursionError:
        raise ConfigError(
            f"{flag} {key}: the value nests lists too deeply; give a number, a word or a list "
            "of numbers"
        ) from None


def _split_assignment(text: str, flag: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"{flag}: expected KEY=VALUE (e.g. {flag} train.n_st=1000), got {text!r}")
    return key, value.strip()


def with_overrides(raw: dict, assignments: Sequence[str], flag: str = "--set") -> dict:
    """A config's tables with `KEY=VALUE` assignments applied (the raw TOML; `load_config`
    then checks the result as a whole).

    `KEY` is written as in the file: `name`, `seeds`, `base_seed`, `description`, or
    `TABLE.KEY` with `TABLE` one of data, train, grid, sweep (`train.n_st=1000`,
    `grid.n_st=[300, 1000]`; a grid axis also takes one number, `grid.n_st=1000`, or numbers
    separated by commas). A bare field name (`n_st=1000`, `tau=10`) sets it in its own table,
    `[data]` or `[train]`, and drops a grid axis of that name: every cell takes the value.
    """
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    for text in assignments:
        key, value_text = _split_assignment(text, flag)
        value = parse_value(key, value_text, flag)
        table, dot, name = key.partition(".")
        if not dot:
            if key in _SCALAR_KEYS:
                out[key] = value
                continue
            section = SCHEMA.section_of(key)
            if section is None:
                raise ConfigError(
                    f"{flag} {key}: unknown key; give {', '.join(_SCALAR_KEYS)}, TABLE.KEY "
                    f"(TABLE: {', '.join(_TABLES)}) or a data or train field (see docs/config.md)"
                )
            table, name = section, key
            grid = out.get("grid")
            if isinstance(grid, dict):
                grid.pop(name, None)
        elif table not in _TABLES or not name or "." in name:
            raise ConfigError(
                f"{flag} {key}: unknown key; TABLE.KEY takes TABLE from {', '.join(_TABLES)} "
                "and one key, e.g. train.n_st=1000"
            )
        elif table == "grid":
            value = _axis_values(value)
        target = out.setdefault(table, {})
        if not isinstance(target, dict):
            raise ConfigError(f"{table}: expected a table [{table}], got {show(target)}")
        target[name] = value
    return out


def _axis_values(value):
    """A grid axis written on the command line: a list, one number, or numbers with commas."""
    if isinstance(value, bool):
        return value  # refused with the key by load_config
    if isinstance(value, (int, float)):
        return [value]
    if isinstance(value, str) and "," in value:
        parts = [parse_value("grid", part.strip()) for part in value.split(",")]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in parts):
            return parts
    return value


def load_config(source: str | Path | dict, overrides: Sequence[str] = ()) -> SweepConfig:
    """Read and validate a sweep config from a TOML path or a dict of its tables.

    Args:
        source: the config file, or its tables as a dict.
        overrides: `KEY=VALUE` assignments applied first (`with_overrides`).
    """
    raw = source if isinstance(source, dict) else read_config(source)
    if overrides:
        raw = with_overrides(raw, overrides)

    _check_keys(raw, _TOP_KEYS, "")
    name = raw.get("name", "sweep")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"name: expected a non-empty string, got {show(name)}")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"description: expected a string, got {show(description)}")
    seeds = raw.get("seeds", 1)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= RUNS_MAX:
        raise ConfigError(f"seeds: must be an integer in [1, {RUNS_MAX:.0e}], got {show(seeds)}")
    base_seed = raw.get("base_seed", 0)
    top = SEED_MAX + 1 - seeds  # seed keys base_seed .. base_seed + seeds - 1 are 32-bit
    if isinstance(base_seed, bool) or not isinstance(base_seed, int) or not 0 <= base_seed <= top:
        raise ConfigError(
            f"base_seed: must be an integer in [0, {top}] (2^32 - seeds: seeds are 32-bit), "
            f"got {show(base_seed)}"
        )

    data, train, grid_raw = _table(raw, "data"), _table(raw, "train"), _table(raw, "grid")
    sweep = _table(raw, "sweep")
    SCHEMA.check_keys("data", data)
    SCHEMA.check_keys("train", train)
    SCHEMA.check_keys("grid", grid_raw)
    _check_keys(sweep, _SWEEP_KEYS, "sweep.")
    _check_sweep_options(sweep)

    grid: dict[str, tuple] = {}
    for key, values in grid_raw.items():
        if not isinstance(values, list):
            raise ConfigError(f"grid.{key}: expected a list of numbers, got {show(values)}")
        if not values:
            raise ConfigError(f"grid.{key}: empty list (a grid axis needs at least one value)")
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ConfigError(f"grid.{key}: expected numbers, got {show(v)}")
        if len(set(values)) != len(values):
            raise ConfigError(f"grid.{key}: repeated values {show(values)}")
        grid[key] = tuple(values)
    cells = math.prod(len(values) for values in grid.values())
    if cells * seeds > RUNS_MAX:
        raise ConfigError(
            f"seeds: {show(cells)} cells × {show(seeds)} seeds = {show(cells * seeds)} runs, "
            f"above the maximum {RUNS_MAX:.0e} per sweep; use fewer seeds or split the grid"
        )

    config = SweepConfig(
        name=name,
        seeds=seeds,
        base_seed=base_seed,
        data=dict(data),
        train=dict(train),
        grid=grid,
        sweep=dict(sweep),
        description=description,
    )
    _validate_cells(config)
    return config


def _check_sweep_options(sweep: dict) -> None:
    """`[sweep]`: how the runs are grouped, never what they compute; each bounded so that a
    typo cannot plan a group that only runs out of memory after the results folder exists."""
    bounds = dict(
        chunk_size=(RUNS_MAX, "runs per stored chunk"),
        max_tiers=(MAX_TIERS_MAX, "compiled programs per shape"),
        lanes=(LANES_MAX, "runs per device in one compiled call"),
    )
    for key, value in sweep.items():
        top, what = bounds[key]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
            raise ConfigError(
                f"sweep.{key}: must be an integer in [1, {show(top)}] ({what}), got "
                f"{show(value)}; leave it out to let the sweep choose",
                key=key,
                section="sweep",
            )


def _validate_cells(config: SweepConfig):
    """Build every cell's configs once so that a bad value fails before any work starts."""
    for cell in config.cells():
        try:
            config.configs(cell)
        except ConfigError as err:
            # The table the user wrote the key in: a grid axis overrides [data] and [train].
            section = "grid" if err.key in cell else err.section
            where = ", ".join(f"{k}={v}" for k, v in cell.items())
            raise ConfigError(
                (f"{section}." if section else "")
                + str(err)
                + (f" (in the cell {where})" if cell else ""),
                key=err.key,
                section=section,
            ) from None
        except TypeError as err:  # should not happen after _check_keys, but never a traceback
            raise ConfigError(f"config: {err}") from None
