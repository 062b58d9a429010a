"""`w2s check DIR`: rerun cells of a finished study under numerical variants (smaller step
with eta·T held, longer T, 4x the filters at the same training speed, smaller sigma_0, float64)
and say whether each cell's class and gain agree with the original within the seed interval.

Cells: `--cells 3,17` (the `cell` column of summary.parquet), `--cell KEY=VALUE[,KEY=VALUE]`
(repeatable; any numeric column, e.g. --cell n_st_snr=3,d_over_n=10), or by default the
`--n-cells` cells nearest a class cutoff. Writes DIR/check/VARIANT/cell-K (a resumable sweep
each), DIR/check/check.parquet and DIR/check/check.md.
"""

from __future__ import annotations

from w2s_jax.cli.common import (
    add_cell_argument,
    add_directory_argument,
    cell_keys,
    check_count,
    check_directory,
    match_cells,
)
from w2s_jax.model.config import ConfigError
from w2s_jax.sweeping.places import check_writable_dir

#: The variants (`w2s_jax.analysis.check.VARIANTS`), named here so that `w2s check --help`
#: does not load JAX; a test holds them equal.
VARIANT_NAMES = ("small_step", "long_T", "wide", "small_init", "float64", "rerun")
DEFAULT_VARIANTS = ("small_step", "long_T", "wide", "small_init", "float64")

#: The most cells one check reruns when chosen by closeness to a cutoff.
N_CELLS_MAX = 1000


def register(sub):
    p = sub.add_parser(
        "check",
        help="rerun cells of a finished study under numerical variants",
        description=__doc__,
    )
    add_directory_argument(p, "study")
    p.add_argument("--cells", default=None, metavar="K[,K]", help="cell indices, e.g. 3,17")
    add_cell_argument(p, "a cell by its values, e.g. --cell n_st_snr=3,d_over_n=10 (repeatable)")
    p.add_argument(
        "--n-cells",
        type=int,
        default=4,
        metavar="N",
        help="without --cells/--cell: the N cells nearest a class cutoff (default 4)",
    )
    p.add_argument(
        "--variants",
        default=",".join(DEFAULT_VARIANTS),
        metavar="NAME[,NAME]",
        help=f"of {', '.join(VARIANT_NAMES)} (default {','.join(DEFAULT_VARIANTS)})",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--force", action="store_true", help="replace earlier check results")
    p.set_defaults(execute=execute)


def _indices(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        try:
            out.append(int(part))
        except ValueError:
            raise ConfigError(
                f"--cells: expected cell indices separated by commas, e.g. 3,17; got {text!r}"
            ) from None
    return out


def _by_values(texts, summary) -> list[int]:
    matches = match_cells(texts, summary, cell_keys(summary), where="study", rtol=1e-6)
    return [c for _, mask in matches for c in sorted(set(summary.loc[mask, "cell"].astype(int)))]


def execute(args) -> int:
    check_directory(args.directory, "study")
    check_count(args.n_cells, "--n-cells", N_CELLS_MAX)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    cells = _indices(args.cells) if args.cells else []
    from w2s_jax.analysis.check import run_check
    from w2s_jax.sweeping.results import load_results

    if args.cell:
        summary, _, _ = load_results(args.directory)
        if "cell" not in summary:
            raise ConfigError("--cell: the study has no cell column; rerun it with `w2s sweep`")
        cells += _by_values(args.cell, summary)
    check_writable_dir(args.directory / "check", "DIR")
    table = run_check(
        args.directory, cells or None, variants, args.n_cells, quiet=args.quiet, force=args.force
    )
    folder = args.directory / "check"
    agree = int(table["agrees"].sum())
    print(f"{agree} of {len(table)} cell × variant rows agree with the original")
    print(f"wrote {folder / 'check.parquet'} and {folder / 'check.md'}")
    return 0
