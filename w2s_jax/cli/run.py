"""`w2s run CONFIG.toml`: one weak-to-strong run, printed as a short table with its regime.

The run uses `[data]` and `[train]`; each `[grid]` axis takes its first value. `--set
KEY=VALUE` changes a value first, as in `w2s sweep` (`--set eta=0.1` fixes `eta` in the run,
`--set train.T=400`); `--n-st N` is `--set n_st=N`. The regime is the run's class (benign,
harmful, label correction or not converged; docs/model.md#regimes) with the paper's
coordinates `tau`, `n_st·snr` and `d/n_st`.
"""

from __future__ import annotations

from w2s_jax.cli.common import add_set_argument, check_count
from w2s_jax.model.config import ConfigError
from w2s_jax.sweeping.config_file import SEED_MAX, load_config
from w2s_jax.sweeping.places import check_writable_file, path_arg

SHOWN = [
    "step",
    "test_acc",
    "test_acc_hard",
    "train_acc_pseudo",
    "train_acc_true",
    "label_correction",
    "train_loss",
]


def register(sub):
    p = sub.add_parser(
        "run",
        help="one weak-to-strong run, printed as a table with its regime",
        description=__doc__,
    )
    p.add_argument("config", help="sweep config file (TOML; docs/config.md)")
    p.add_argument(
        "--n-st",
        type=int,
        default=None,
        metavar="N",
        help="number of the strong model's training samples",
    )
    p.add_argument("--seed", type=int, default=0, metavar="K", help="seed index (default 0)")
    add_set_argument(p, "--set eta=0.1")
    p.add_argument(
        "--save",
        default=None,
        metavar="FILE",
        help="write the trajectory to a .csv or .parquet file",
    )
    p.add_argument(
        "--rows", type=int, default=12, metavar="N", help="rows of the printed table (default 12)"
    )
    p.set_defaults(execute=execute)


#: The most rows of the printed table.
ROWS_MAX = 100_000


def execute(args) -> int:
    check_count(args.rows, "--rows", ROWS_MAX)
    args.save = path_arg(args.save, "--save")
    if args.save is not None:
        if args.save.suffix not in (".csv", ".parquet"):
            raise ConfigError(
                f"--save: the file must end in .csv or .parquet, got {args.save.name!r}"
            )
        check_writable_file(args.save, "--save")
    n_st = [] if args.n_st is None else [f"n_st={args.n_st}"]
    config = load_config(args.config, [*args.set, *n_st])
    if not 0 <= args.seed <= SEED_MAX - config.base_seed:
        raise ConfigError(
            f"--seed: must be an integer in [0, {SEED_MAX - config.base_seed}] (2^32 - 1 - "
            f"base_seed: seeds are 32-bit), got {args.seed}"
        )
    data, train = config.configs(next(config.cells()))
    return _run(args, config.base_seed, data, train)


def _run(args, base_seed, data, train) -> int:
    """Compute, classify and print the checked run (JAX loads here)."""
    import time

    import jax
    import numpy as np

    from w2s_jax.analysis.classes import classify
    from w2s_jax.analysis.rules import rule
    from w2s_jax.engines.run import run, run_key
    from w2s_jax.model.config import dtype_scope, split
    from w2s_jax.sweeping import compile_cache
    from w2s_jax.sweeping.chunk import OUTPUT_FIELDS
    from w2s_jax.sweeping.memory import check_fits, free_bytes
    from w2s_jax.sweeping.plan import Run
    from w2s_jax.sweeping.tables import chunk_tables, trajectory_table

    with dtype_scope(train.dtype):  # float64 computes in float64, float32 in float32
        static, params = split(data, train)
        device = jax.devices()[0]
        check_fits(static, free_bytes(device, 1), device.platform)
        compile_cache.enable()
        start = time.perf_counter()
        traj = jax.block_until_ready(
            jax.jit(run, static_argnums=0)(static, params, run_key(base_seed, args.seed))
        )
        elapsed = time.perf_counter() - start

    outputs = {k: np.asarray(getattr(traj, k))[None] for k in OUTPUT_FIELDS}
    summary, trajectories = chunk_tables(
        [Run(0, 0, args.seed, data, train)], static.record_steps, outputs
    )
    row = classify(summary, trajectories).iloc[0]
    s = summary.iloc[0]
    table = trajectory_table(static.record_steps, traj)
    print(
        f"n_st={train.n_st}  d={data.d}  p_h={data.p_h}  p_b={data.p_b}  "
        f"nu_norm={data.nu_norm}  sigma_p={data.sigma_p}  seed={args.seed}"
    )
    print(
        f"regime                  {row['class']}  (tau = {s['tau']:.3g}, "
        f"n_st·snr = {s['n_st_snr']:.3g}, d/n_st = {s['d_over_n']:.3g})"
    )
    print(f"                        {rule(row['class'])}")
    print(f"weak test accuracy      {float(s['weak_test_acc']):.4f}")
    print(f"pseudo-label accuracy   {float(s['pseudo_label_acc']):.4f}")
    print(f"best test accuracy      {float(s['best_test_acc']):.4f} at step {int(s['best_step'])}")
    print(
        f"final test accuracy     {float(s['final_test_acc']):.4f}   "
        f"status {s['status']}   ({elapsed:.1f} s with compilation)"
    )
    every = max(1, -(-len(table) // args.rows))
    shown = table.iloc[
        list(range(0, len(table), every)) + ([len(table) - 1] if (len(table) - 1) % every else [])
    ]
    print(shown[SHOWN].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if args.save is not None:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        if args.save.suffix == ".csv":
            table.to_csv(args.save, index=False)
        else:
            table.to_parquet(args.save, index=False)
        print(f"trajectory written to {args.save}")
    return 0
