"""The edge tracer: where a class edge crosses each of a set of lines, by bisection.

A *line* is one cell of the config's grid without the traced `axis` (at `n_st = 300`, one
`n_st·snr` column of the phase plane, traced along `d/n_st`). A point of a line is on the
edge's *upper side* when more than half of its seeds are (`MAJORITY`); an edge's upper side is
its classes at large `axis` values (`EDGES`: for `lower`, benign or label correction above
harmful). Runs are classified by `analysis.classes.classify`.

Step 0 evaluates every line at the axis's starting values (its values in `[grid]`, or
`bracket`). A line whose largest starting value is on the upper side and some smaller one is
not has a bracket: the largest value on the lower side and the next value above it. Every
later step evaluates the geometric midpoint of each open bracket, all such lines × all seeds as
one sweep (`sweeping.cells`: the sweep engine, one vmapped program per tier), and keeps the
half whose ends differ, until `hi/lo <= resolution`. A line without a change in its starting
values is reported (`status`), never bisected. The crossing is the geometric midpoint of the
final bracket: within a factor `sqrt(resolution)` of every point of it.

The interval is a bootstrap over whole seeds (cells that share a seed share their draws):
resample the seeds, recompute the majority at every point the line evaluated, and take the
same crossing (the midpoint of the cell above the largest lower-side point). Near the crossing
the evaluated points are `resolution` apart, further out as far apart as the bisection left
them, so an interval end far from the crossing is only as fine as those points; an end at a
range end means that resamples put the crossing there or beyond. Each seed's own crossing
(the same rule on its classes alone) is reported too.

A grid resolves an edge to the same ratio with `grid_points(lo, hi, resolution)` values per
line; the manifest states both run counts.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import shutil
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from w2s_jax.analysis.classes import classify
from w2s_jax.analysis.fit import BOOTSTRAP
from w2s_jax.model.config import ConfigError, show
from w2s_jax.model.schema import INT, SCHEMA
from w2s_jax.sweeping.cells import cell_list
from w2s_jax.sweeping.config_file import SweepConfig, load_config
from w2s_jax.sweeping.places import check_writable_dir
from w2s_jax.sweeping.store import (
    Store,
    atomic_write_parquet,
    atomic_write_text,
    code_version,
    now,
    versions,
)

__all__ = [
    "Edge",
    "EDGES",
    "MAJORITY",
    "RESOLUTION",
    "TraceResult",
    "check_settings",
    "grid_points",
    "run_trace",
    "trace_edge",
]


@dataclasses.dataclass(frozen=True)
class Edge:
    """A class edge: along `axis`, runs of the `upper` classes lie above it, the rest below."""

    axis: str
    upper: tuple[str, ...]
    text: str


EDGES = {
    "lower": Edge(
        "d_over_n",
        ("benign", "label_correction"),
        "the lower edge of benign overfitting (Theorem 3.4's tau = C): harmful below, benign "
        "or label correction above, along d/n_st",
    ),
    "label_correction": Edge(
        "n_st_snr",
        ("label_correction",),
        "the onset of label correction (Theorem 3.6): label correction above, the other "
        "classes below, along n_st·snr",
    ),
}
#: A point is on the upper side when more than this share of its seeds are.
MAJORITY = 0.5
#: The default resolution: the final bracket's `hi/lo`.
RESOLUTION = 1.1
#: The bootstrap interval's level.
LEVEL = 0.95
#: The files a trace writes in its folder (`steps/` holds one sweep folder per step).
TABLE, SUMMARY, TRAJECTORIES, MANIFEST, STEPS = (
    "trace.parquet",
    "summary.parquet",
    "trajectories.parquet",
    "manifest.json",
    "steps",
)
_OWN = (TABLE, SUMMARY, TRAJECTORIES, MANIFEST, STEPS)
CROSSED = "crossed"
UPPER_THROUGHOUT = "no crossing: upper side at every starting value"
LOWER_AT_TOP = "no crossing: lower side at the largest starting value"


class TraceResult(NamedTuple):
    """What `run_trace` returns: one row a line (`table`), every run evaluated (`summary`,
    `trajectories`, with `trace_step` and `line`), and the manifest."""

    table: pd.DataFrame
    summary: pd.DataFrame
    trajectories: pd.DataFrame
    manifest: dict[str, Any]


def grid_points(lo: float, hi: float, resolution: float) -> int:
    """Values a log-spaced grid over `[lo, hi]` needs for neighbours at most `resolution`
    apart (a ratio): the grid that resolves an edge as finely as the tracer."""
    return math.ceil(math.log(hi / lo) / math.log(resolution) - 1e-9) + 1


def _last_lower(upper: np.ndarray) -> np.ndarray:
    """Index of the largest point on the lower side, per column of `upper` (points × ...,
    sorted by the axis); -1 where every point is on the upper side."""
    lower = ~upper
    n = upper.shape[0]
    return np.where(lower.any(axis=0), n - 1 - np.argmax(lower[::-1], axis=0), -1)


def _crossings(xs: np.ndarray, upper: np.ndarray, outside: bool) -> np.ndarray:
    """The crossing per column of `upper` (points × columns, sorted by `xs`): the geometric
    midpoint of the cell above the largest lower-side point. Where there is none: the range's
    ends if `outside` (every point upper: `xs[0]`; the top lower: `xs[-1]`), else NaN."""
    j = _last_lower(upper)
    inside = (j >= 0) & (j < len(xs) - 1)
    k = np.clip(j, 0, len(xs) - 2)
    mid = np.sqrt(xs[k] * xs[k + 1])
    if not outside:
        return np.where(inside, mid, np.nan)
    return np.where(inside, mid, np.where(j < 0, xs[0], xs[-1]))


def _majority(upper: np.ndarray) -> np.ndarray:
    """Upper side by majority over the last axis (seeds)."""
    return upper.mean(axis=-1) > MAJORITY


@dataclasses.dataclass
class _Line:
    """One line's state: the points it evaluated (axis value -> upper side per seed) and its
    bracket (`lo` on the lower side, `hi` on the upper side)."""

    key: dict[str, Any]
    seen: dict[float, np.ndarray] = dataclasses.field(default_factory=dict)
    lo: float = math.nan
    hi: float = math.nan
    status: str = ""

    def open(self, resolution: float) -> bool:
        return self.status == CROSSED and self.hi / self.lo > resolution * (1 + 1e-9)


def check_settings(
    config: SweepConfig,
    edge: str,
    axis: str | None = None,
    bracket=None,
    resolution: float = RESOLUTION,
    seeds: int | None = None,
) -> tuple[str, tuple[float, ...], SweepConfig]:
    """A trace's settings (see `run_trace`), refused with the key named before any work.

    Returns:
        The axis bisected, its starting values (sorted) and the config (with `seeds`)."""
    if edge not in EDGES:
        raise ConfigError(f"edge: must be one of {', '.join(EDGES)}, got {edge!r}", key="edge")
    axis = EDGES[edge].axis if axis is None else axis
    SCHEMA.check_keys("grid", {axis: None})
    if SCHEMA.by_name[axis].kind == INT:
        raise ConfigError(
            f"axis: {axis} is an integer; bisect a real-valued field or coordinate "
            "(d_over_n, n_st_snr, tau, ...)",
            key="axis",
        )
    if isinstance(resolution, bool) or not isinstance(resolution, (int, float)):
        raise ConfigError(f"resolution: expected a number, got {show(resolution)}")
    if not (math.isfinite(resolution) and resolution > 1.0):
        raise ConfigError(
            f"resolution: must be a ratio above 1 (the final bracket's hi/lo, e.g. 1.1), "
            f"got {show(resolution)}",
            key="resolution",
        )
    if bracket is not None:
        starts = tuple(bracket)
        where = "bracket"
    elif axis in config.grid:
        starts = config.grid[axis]
        where = f"grid.{axis}"
    else:
        raise ConfigError(
            f"{axis}: not an axis of [grid]; give the range to trace there "
            f"({axis} = [LO, HI]) or a bracket (--bracket LO HI)",
            key=axis,
        )
    if len(starts) < 2 or any(
        isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 for v in starts
    ):
        raise ConfigError(
            f"{where}: the range to trace needs at least two positive numbers "
            f"(it is bisected in log {axis}), got {list(starts)!r}",
            key=axis,
        )
    if len(set(starts)) != len(starts):
        raise ConfigError(f"{where}: repeated values {list(starts)!r}", key=axis)
    if seeds is not None:
        if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
            raise ConfigError(f"seeds: must be a positive integer, got {show(seeds)}")
        config = config.replace(seeds=seeds)
    return axis, tuple(sorted(float(v) for v in starts)), config


def _lines(config: SweepConfig, axis: str, lines) -> list[dict[str, Any]]:
    """The lines' other coordinates: `lines` if given, else every cell of the grid without
    `axis`."""
    if lines is not None:
        lines = [dict(line) for line in lines]
        if not lines:
            raise ConfigError("lines: empty list (give at least one line)")
        if any(axis in line for line in lines):
            raise ConfigError(f"lines: a line fixes {axis}, the axis it is traced along")
        return lines
    axes = [a for a in config.grid if a != axis]
    return [dict(zip(axes, v)) for v in itertools.product(*(config.grid[a] for a in axes))]


def _identity(config: SweepConfig, edge, axis, starts, lines) -> dict:
    """What fixes a trace's points (all but the resolution, which only says when to stop)."""
    plain = config.to_dict()
    plain.pop("description", None)
    return json.loads(
        json.dumps(dict(config=plain, edge=edge, axis=axis, starts=starts, lines=lines))
    )


def _check_out(out: Path, identity: dict) -> None:
    """Refuse a folder that holds something other than this trace (read only)."""
    check_writable_dir(out, "--out")
    if not out.is_dir() or not [p for p in out.iterdir() if p.name != ".w2s.lock"]:
        return
    try:
        previous = json.loads((out / MANIFEST).read_text()).get("trace", {}).get("identity")
    except (OSError, ValueError, AttributeError):
        previous = None
    if not isinstance(previous, dict):
        raise ConfigError(
            f"--out: {str(out)!r} is not empty and holds no trace "
            "(choose an empty folder or pass --force)"
        )
    if previous != identity:
        changed = sorted(k for k in identity if previous.get(k) != identity[k])
        raise ConfigError(
            f"--out: {str(out)!r} holds a trace of another config (differs in "
            f"{', '.join(changed)}); pass --force to replace it, or choose another --out"
        )


def _clear(out: Path) -> None:
    """Remove the trace's own files from `out` (`--force`); anything else stays."""
    for name in _OWN:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _evaluate(config, axis, edge, points, out, step, quiet, options):
    """One step: every `(line, value)` of `points` × every seed as one sweep. Returns the
    upper-side flags (points × seeds), the tables and the step's manifest."""
    cells = [lines_key | {axis: x} for lines_key, x in points]
    step_config = cell_list(config.replace(name=f"{config.name}_step{step:02d}"), cells)
    folder = None if out is None else out / STEPS / f"{step:02d}"
    # JAX loads with the first step, after every setting is checked (`w2s trace` refuses fast).
    from w2s_jax.sweeping.driver import run_sweep

    result = run_sweep(step_config, folder, quiet=quiet, **options)
    runs = classify(result.summary, result.trajectories)
    upper = np.zeros((len(cells), config.seeds), bool)
    upper[runs["cell"].to_numpy(), runs["seed"].to_numpy()] = np.isin(
        runs["class"].to_numpy(), EDGES[edge].upper
    )
    return upper, result


def _bracket(line: _Line) -> None:
    """A line's bracket and status from the points it has evaluated."""
    xs = np.array(sorted(line.seen))
    majority = _majority(np.stack([line.seen[x] for x in xs]))
    j = int(_last_lower(majority[:, None])[0])
    if j < 0:
        line.status = UPPER_THROUGHOUT
    elif j == len(xs) - 1:
        line.status = LOWER_AT_TOP
    else:
        line.status, line.lo, line.hi = CROSSED, float(xs[j]), float(xs[j + 1])


def _row(line: _Line, n: int, s: _Settings, rng: np.random.Generator) -> dict:
    """The table's row of a line (see `run_trace`)."""
    seeds, starts = s.config.seeds, s.starts
    xs = np.array(sorted(line.seen))
    upper = np.stack([line.seen[x] for x in xs])  # points × seeds
    crossed = line.status == CROSSED
    draws = rng.integers(seeds, size=(s.n_boot, seeds))
    boots = _crossings(xs, _majority(upper[:, draws]), outside=True)
    ci = np.quantile(boots, [(1 - LEVEL) / 2, (1 + LEVEL) / 2]) if crossed else (np.nan,) * 2
    per_seed = _crossings(xs, upper, outside=False)
    share = {x: float(v.mean()) for x, v in line.seen.items()}
    return dict(
        line=n,
        **line.key,
        axis=s.axis,
        status=line.status,
        crossing=math.sqrt(line.lo * line.hi) if crossed else np.nan,
        lo=line.lo,
        hi=line.hi,
        ratio=line.hi / line.lo if crossed else np.nan,
        ci_lo=float(ci[0]),
        ci_hi=float(ci[1]),
        upper_share_lo=share.get(line.lo, np.nan),
        upper_share_hi=share.get(line.hi, np.nan),
        seed_crossings=[float(v) for v in per_seed],
        seeds_crossed=int(np.isfinite(per_seed).sum()),
        points=len(xs),
        runs=len(xs) * seeds,
        range_lo=starts[0],
        range_hi=starts[-1],
        grid_runs=grid_points(starts[0], starts[-1], s.resolution) * seeds,
    )


@dataclasses.dataclass(frozen=True)
class _Settings:
    """A trace's settings, checked (`check_settings`)."""

    config: SweepConfig
    edge: str
    axis: str
    starts: tuple[float, ...]
    resolution: float
    n_boot: int
    boot_seed: int


def run_trace(
    config_or_path,
    edge: str = "lower",
    *,
    axis: str | None = None,
    lines=None,
    bracket=None,
    resolution: float = RESOLUTION,
    seeds: int | None = None,
    out=None,
    force: bool = False,
    quiet: bool = False,
    n_boot: int = BOOTSTRAP,
    boot_seed: int = 0,
    **options,
) -> TraceResult:
    """Trace `edge` across each line by bisection in `log(axis)` (this module's docstring).

    Args:
        config_or_path: a sweep config (TOML path, dict or `SweepConfig`); its `[grid]` gives
            the lines (every cell without `axis`) and the starting values of `axis`.
        edge: a key of `EDGES` (`lower`, `label_correction`).
        axis: the field or coordinate bisected (default: the edge's, e.g. `d_over_n`).
        lines: the lines' other coordinates, a list of dicts (default: from `[grid]`).
        bracket: `(lo, hi)`, the starting values of `axis` in place of its `[grid]` values.
        resolution: stop when a bracket's `hi/lo` is at most this ratio (> 1).
        seeds: the number of seeds (default: the config's).
        out: a folder for trace.parquet, summary.parquet, trajectories.parquet, manifest.json
            and `steps/` (one resumable sweep folder a step); None keeps all in memory.
        force: replace a different trace (only the trace's own files) in `out`.
        quiet: no progress output.
        n_boot: the seed bootstrap's resamples.
        boot_seed: the seed bootstrap's random seed.
        **options: passed to `run_sweep` for every step (`devices`, `chunk_size`, ...).

    Returns:
        A `TraceResult`; its `table` has one row a line: the line's coordinates, `status`,
        `crossing` (the geometric midpoint of the final bracket `lo`, `hi`), `ci_lo`,
        `ci_hi` (95% seed bootstrap), `seed_crossings` (one a seed, NaN where a seed does not
        cross), the shares of seeds on the upper side at `lo` and `hi`, `points` and `runs`
        evaluated, and `grid_runs` (what a grid of the same resolution needs on the line).
    """
    config = (
        config_or_path if isinstance(config_or_path, SweepConfig) else load_config(config_or_path)
    )
    axis, starts, config = check_settings(config, edge, axis, bracket, resolution, seeds)
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise ConfigError(f"n_boot: must be a positive integer, got {show(n_boot)}")
    keys = _lines(config, axis, lines)
    settings = _Settings(config, edge, axis, starts, float(resolution), n_boot, boot_seed)
    identity = _identity(config, edge, axis, starts, keys)
    if out is None:
        return _trace(settings, keys, None, quiet, options, identity)
    out = Path(out)
    check_writable_dir(out, "--out")
    if not force:
        _check_out(out, identity)
    out.mkdir(parents=True, exist_ok=True)
    lock = Store(out)  # its lock only: one writer a folder
    lock.acquire()
    try:
        if force:
            _clear(out)
        else:
            _check_out(out, identity)  # again, now that we hold the lock
        return _trace(settings, keys, out, quiet, options, identity)
    finally:
        lock.release()


def _trace(s: _Settings, keys, out: Path | None, quiet: bool, options, identity) -> TraceResult:
    config, axis = s.config, s.axis
    manifest = dict(name=config.name, kind="trace", status="running", started=now())
    manifest["trace"] = dict(
        edge=s.edge,
        edge_text=EDGES[s.edge].text,
        axis=axis,
        upper=list(EDGES[s.edge].upper),
        majority=f"a point is on the upper side when more than {MAJORITY:g} of its seeds are",
        range=[s.starts[0], s.starts[-1]],
        starts=list(s.starts),
        resolution=s.resolution,
        lines=len(keys),
        seeds=config.seeds,
        interval=f"{LEVEL:.0%} seed bootstrap ({s.n_boot} resamples of whole seeds, the "
        "majority recomputed at every point a line evaluated)",
        identity=identity,
    )
    manifest["config"] = config.to_dict()
    if out is not None:  # a rerun recognizes the folder as this trace's and resumes its steps
        atomic_write_text(json.dumps(manifest, indent=2, default=str) + "\n", out / MANIFEST)
    clock = time.perf_counter()
    lines = [_Line(key) for key in keys]
    todo = [(line, x) for line in lines for x in s.starts]
    steps, summaries, trajectories, offset = [], [], [], 0
    while todo:
        step = len(steps)
        if not quiet:
            print(
                f"w2s trace: step {step}: {len({id(line) for line, _ in todo})} line(s), "
                f"{len(todo)} cell(s) × {config.seeds} seeds",
                file=sys.stderr,
            )
        points = [(line.key, x) for line, x in todo]
        upper, result = _evaluate(config, axis, s.edge, points, out, step, quiet, options)
        for (line, x), flags in zip(todo, upper):
            line.seen[x] = flags
        index = {id(line): n for n, line in enumerate(lines)}
        which = np.array([index[id(line)] for line, _ in todo])
        for frame, into in ((result.summary, summaries), (result.trajectories, trajectories)):
            cell = frame["cell"].to_numpy()
            into.append(frame.assign(cell=cell + offset, trace_step=step, line=which[cell]))
        offset += len(todo)
        m = result.manifest
        steps.append(
            dict(
                step=step,
                cells=len(todo),
                runs=len(todo) * config.seeds,
                runs_computed=m.get("runs_computed"),
                compile_s=m.get("compile_s"),
                wall_s=m.get("wall_s"),
                lanes=[t.get("lanes") for t in m.get("tiers", [])],
            )
        )
        if step == 0:
            for line in lines:
                _bracket(line)
        else:
            for line, x in todo:
                if _majority(line.seen[x]):
                    line.hi = x
                else:
                    line.lo = x
        todo = [(line, math.sqrt(line.lo * line.hi)) for line in lines if line.open(s.resolution)]

    rng = np.random.default_rng(s.boot_seed)
    table = pd.DataFrame(
        [_row(line, n, s, rng) for n, line in enumerate(lines)],
    )
    summary = pd.concat(summaries, ignore_index=True)
    trajectory = pd.concat(trajectories, ignore_index=True)
    runs_used, grid_runs = int(table["runs"].sum()), int(table["grid_runs"].sum())
    manifest["trace"] |= dict(
        crossed=int((table["status"] == CROSSED).sum()),
        runs_used=runs_used,
        grid_runs=grid_runs,
        grid_points_per_line=grid_points(s.starts[0], s.starts[-1], s.resolution),
        runs_ratio=round(runs_used / grid_runs, 4),
    )
    manifest |= dict(
        status="complete",
        steps=steps,
        n_runs=len(summary),
        versions=versions(),
        code=code_version(),
        finished=now(),
        wall_s=round(time.perf_counter() - clock, 3),
        compile_s=round(sum(step["compile_s"] or 0.0 for step in steps), 3),
    )
    if out is not None:
        atomic_write_parquet(summary, out / SUMMARY)
        atomic_write_parquet(trajectory, out / TRAJECTORIES)
        atomic_write_parquet(table, out / TABLE)
        atomic_write_text(json.dumps(manifest, indent=2, default=str) + "\n", out / MANIFEST)
        for folder in (out / STEPS).iterdir():  # steps a longer trace left (a finer resolution)
            if folder.is_dir() and folder.name.isdigit() and int(folder.name) >= len(steps):
                shutil.rmtree(folder)
    return TraceResult(table, summary, trajectory, manifest)


def trace_edge(config_or_path, edge: str = "lower", **options) -> pd.DataFrame:
    """`run_trace(...).table`: one row a line with its crossing, bracket, per-seed crossings
    and seed-bootstrap interval (see `run_trace` for the arguments)."""
    return run_trace(config_or_path, edge, **options).table
