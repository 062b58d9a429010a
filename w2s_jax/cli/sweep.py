"""`w2s sweep CONFIG.toml --out DIR [--set KEY=VALUE ...]`: evaluate the whole grid of a sweep
config (docs/config.md).

Writes DIR/summary.parquet (one row per cell × seed), DIR/trajectories.parquet (one row
per cell × seed × recorded step) and DIR/manifest.json, which records the config as run (with
every --set applied). Finished chunks are kept: rerunning the same command resumes.

`--set KEY=VALUE` changes one value of the file before it is checked, KEY written as in the
file: `--set train.n_st=1000`, `--set grid.n_st=[300,1000]` (a grid axis), `--set seeds=4`,
`--set name=plane_coin_1000`; a bare field name (`--set n_st=1000`) sets it in every cell.
`--smoke` shrinks the config (d <= 64, m <= 8, n_st <= 256, n_wk, n_test <= 256,
T, T_wk <= 60, two seeds, three values per axis) for a quick check.
"""

from __future__ import annotations

from w2s_jax.cli.common import add_set_argument, check_count
from w2s_jax.model.config import ConfigError
from w2s_jax.sweeping.config_file import RUNS_MAX, load_config
from w2s_jax.sweeping.places import check_writable_dir, path_arg

#: The sweep executors (`--engine`, `sweeping.driver.EXECUTORS`): these devices, or Ray.
EXECUTORS = ("local", "ray")


def register(sub):
    p = sub.add_parser(
        "sweep", help="evaluate a grid of runs, write parquet results", description=__doc__
    )
    p.add_argument("config", help="sweep config file (TOML; docs/config.md)")
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="results folder (resumed if it holds the same config)",
    )
    add_set_argument(p, "--set train.n_st=1000 or --set grid.n_st=[300,1000]")
    p.add_argument(
        "--chunk-size",
        type=int,
        default=None,
        metavar="N",
        help="runs stored together; an interrupted sweep resumes from the last whole chunk "
        "(default: as many as fit in memory)",
    )
    p.add_argument(
        "--force", action="store_true", help="replace the results of another config in DIR"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--engine",
        choices=EXECUTORS,
        default="local",
        help="where the runs compute: this machine (default) or a Ray cluster",
    )
    p.add_argument(
        "--address",
        default=None,
        metavar="ADDR",
        help="the Ray cluster's address (default: start one on this machine)",
    )
    p.add_argument(
        "--smoke", action="store_true", help="shrink the config to a size that runs in seconds"
    )
    p.set_defaults(execute=execute)


def execute(args) -> int:
    args.out = path_arg(args.out, "--out")
    if args.chunk_size is not None:
        check_count(args.chunk_size, "--chunk-size", RUNS_MAX, f"{RUNS_MAX:.0e}")
    if args.address is not None and args.engine != "ray":
        raise ConfigError("--address: only used with --engine ray; add --engine ray")
    config = load_config(args.config, args.set)  # every value checked before JAX loads
    check_writable_dir(args.out, "--out")

    from w2s_jax.sweeping import compile_cache
    from w2s_jax.sweeping.driver import run_sweep

    compile_cache.enable()  # the command's own choice; the library leaves JAX's settings alone
    result = run_sweep(
        config,
        args.out,
        chunk_size=args.chunk_size,
        force=args.force,
        quiet=args.quiet,
        engine=args.engine,
        address=args.address,
        smoke=args.smoke,
    )
    m = result.manifest
    if not args.quiet:
        rate = f", {m['cells_per_s']:.2f} cells/s" if m.get("cells_per_s") else ""
        print(
            f"{m['n_runs']} runs ({m['n_cells']} cells x {m['seeds']} seeds): "
            f"{m['runs_computed']} computed, {m['runs_resumed']} resumed; "
            f"compile {m['compile_s']:.1f} s, run {m['run_s']:.1f} s{rate}"
        )
        print(f"results in {args.out}/summary.parquet, trajectories.parquet, manifest.json")
    return 0
