"""`w2s report DIR`: a Markdown report (`DIR/report.md`) of a finished sweep: class counts,
the fitted constant C of tau >= C, the free exponents against (1, 2, 4, -4), per-slice
boundaries, early-stopping windows and the figures."""

from __future__ import annotations

from pathlib import Path

from w2s_jax.cli.common import RULES, RULES_HELP
from w2s_jax.model.config import ConfigError
from w2s_jax.sweeping.places import check_writable_dir, check_writable_file, path_arg


def register(sub):
    p = sub.add_parser("report", help="Markdown report of a finished sweep", description=__doc__)
    p.add_argument("directory", type=Path, help="sweep directory (holds summary.parquet)")
    p.add_argument(
        "--out", default=None, metavar="FILE", help="report file (default DIR/report.md)"
    )
    p.add_argument("--rule", default="class", choices=tuple(RULES), help=RULES_HELP)
    p.add_argument(
        "--bootstrap",
        type=int,
        default=200,
        metavar="N",
        help="seed-bootstrap resamples of the fits' intervals (default 200)",
    )
    p.set_defaults(execute=execute)


#: The most bootstrap resamples.
BOOTSTRAP_MAX = 100_000


def execute(args) -> int:
    if not 1 <= args.bootstrap <= BOOTSTRAP_MAX:
        raise ConfigError(
            f"--bootstrap: must be an integer in [1, {BOOTSTRAP_MAX}], got {args.bootstrap}"
        )
    out = path_arg(args.out, "--out")
    key = "--out" if out is not None else "DIR"
    out = out if out is not None else args.directory / "report.md"
    if args.directory.exists() and not args.directory.is_dir():
        raise ConfigError(f"DIR: {str(args.directory)!r} is a file, not a sweep folder")
    check_writable_file(out, key)  # before any figure is drawn: they go beside the report
    check_writable_dir(out.parent / "figures", key)
    from w2s_jax.analysis.report import write_report

    path = write_report(args.directory, out, args.rule, args.bootstrap)
    print(f"wrote {path}")
    return 0
