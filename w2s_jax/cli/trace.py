"""`w2s trace CONFIG --edge lower --out DIR`: where a class edge crosses each line of a sweep
config's grid, by bisection in log of one axis (docs/trace.md).

The config's `[grid]` without the traced axis gives the lines (e.g. each `n_st·snr` column);
the axis's own grid values are the range (e.g. `d_over_n = [1.0, 3000.0]`). Every step runs
the midpoints of all open brackets × all seeds as one sweep, until each bracket's hi/lo is at
most `--resolution`. Writes DIR/trace.parquet (one row a line: crossing, bracket, seed
bootstrap interval, per-seed crossings), DIR/summary.parquet and trajectories.parquet (every
run evaluated), DIR/manifest.json (the resolution, runs used, runs a grid of the same
resolution would need) and DIR/steps/ (one sweep folder a step: rerunning resumes).

`--set KEY=VALUE` changes a value of the file first, as in `w2s sweep` (`--set
grid.n_st=[1000]` traces the same columns at another n_st).
"""

from __future__ import annotations

from w2s_jax.analysis.trace import CROSSED, EDGES, RESOLUTION, check_settings, run_trace
from w2s_jax.cli.common import add_set_argument
from w2s_jax.sweeping.config_file import load_config
from w2s_jax.sweeping.places import check_writable_dir, path_arg


def register(sub):
    p = sub.add_parser(
        "trace",
        help="bisect where a class edge crosses each line of a grid",
        description=__doc__,
    )
    p.add_argument("config", help="sweep config TOML (docs/trace.md)")
    p.add_argument(
        "--edge",
        required=True,
        choices=tuple(EDGES),
        help="the edge: " + "; ".join(f"{k}: {e.text}" for k, e in EDGES.items()),
    )
    p.add_argument("--out", required=True, metavar="DIR", help="results folder (resumed)")
    p.add_argument(
        "--resolution",
        type=float,
        default=RESOLUTION,
        metavar="R",
        help=f"stop when each bracket's hi/lo is at most R (default {RESOLUTION:g})",
    )
    p.add_argument(
        "--axis", default=None, help="the axis bisected (default: the edge's, e.g. d_over_n)"
    )
    p.add_argument(
        "--bracket",
        type=float,
        nargs=2,
        default=None,
        metavar=("LO", "HI"),
        help="the range of the axis (default: its values in [grid])",
    )
    add_set_argument(p, "--set grid.n_st=[1000] or --set grid.n_st_snr=[1.7,3.0]")
    p.add_argument("--seeds", type=int, default=None, help="seeds (default: the config's)")
    p.add_argument("--force", action="store_true", help="replace a different trace in DIR")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(execute=execute)


def execute(args) -> int:
    out = path_arg(args.out, "--out")
    config = load_config(args.config, args.set)  # every value checked before JAX loads
    check_settings(config, args.edge, args.axis, args.bracket, args.resolution, args.seeds)
    check_writable_dir(out, "--out")

    from w2s_jax.analysis.report import markdown_table
    from w2s_jax.sweeping import compile_cache

    compile_cache.enable()  # the command's own choice; the library leaves JAX's settings alone
    result = run_trace(
        config,
        args.edge,
        axis=args.axis,
        bracket=args.bracket,
        resolution=args.resolution,
        seeds=args.seeds,
        out=out,
        force=args.force,
        quiet=args.quiet,
    )
    table, trace = result.table, result.manifest["trace"]
    shown = table.drop(
        columns=["seed_crossings", "axis", "range_lo", "range_hi", "points", "grid_runs"]
    )
    shown["status"] = shown["status"].where(shown["status"] == CROSSED, "no crossing")
    print(markdown_table(shown))
    print(
        f"\n{trace['crossed']} of {trace['lines']} lines crossed; {trace['runs_used']} runs "
        f"against {trace['grid_runs']} for a grid of the same resolution "
        f"({trace['grid_points_per_line']} values of {trace['axis']} a line; ratio "
        f"{trace['runs_ratio']:.3g})"
    )
    print(f"results in {out}/trace.parquet, summary.parquet, trajectories.parquet, manifest.json")
    return 0
