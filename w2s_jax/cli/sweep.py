"""`w2s sweep CONFIG.toml --out DIR`: evaluate the whole grid of a sweep config
(docs/model.md#config).

Writes DIR/summary.parquet (one row per cell × seed), DIR/trajectories.parquet (one row
per cell × seed × recorded step) and DIR/manifest.json. Finished chunks are kept: rerunning
the same command resumes. `--smoke` shrinks the config (d <= 64, m <= 8, n_st <= 256,
n_wk, n_test <= 256, T, T_wk <= 60, two seeds, three values per axis) for a quick check.
"""

from __future__ import annotations

from w2s_jax.sweeping import compile_cache
from w2s_jax.sweeping.driver import ENGINES, run_sweep
from w2s_jax.sweeping.places import path_arg


def register(sub):
    p = sub.add_parser(
        "sweep", help="evaluate a grid of runs, write parquet results", description=__doc__
    )
    p.add_argument("config", help="sweep config TOML (docs/model.md#config)")
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="results directory (resumed if it holds the same config)",
    )
    p.add_argument(
        "--chunk-size",
        type=int,
        default=None,
        metavar="N",
        help="runs per compiled chunk (default: from a memory estimate)",
    )
    p.add_argument(
        "--force", action="store_true", help="replace results of a different config in DIR"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default="local",
        help="local devices (default) or a Ray cluster",
    )
    p.add_argument(
        "--address",
        default=None,
        metavar="ADDR",
        help="Ray cluster address (default: start a local one)",
    )
    p.add_argument(
        "--smoke", action="store_true", help="shrink the config to a size that runs in seconds"
    )
    p.set_defaults(execute=execute)


def execute(args) -> int:
    args.out = path_arg(args.out, "--out")
    compile_cache.enable()  # the command's own choice; the library leaves JAX's settings alone
    result = run_sweep(
        args.config,
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
