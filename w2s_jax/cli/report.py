"""`w2s report DIR`: a Markdown report (`DIR/report.md`) of a finished sweep: class counts,
the fitted constant C of tau >= C, the free exponents against (1, 2, 4, -4), per-slice
boundaries, early-stopping windows and the figures."""

from __future__ import annotations

from w2s_jax.cli.common import (
    RULES,
    RULES_HELP,
    add_directory_argument,
    check_count,
    check_directory,
    output_place,
)
from w2s_jax.sweeping.places import check_writable_dir, check_writable_file


def register(sub):
    p = sub.add_parser("report", help="Markdown report of a finished sweep", description=__doc__)
    add_directory_argument(p)
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
    check_count(args.bootstrap, "--bootstrap", BOOTSTRAP_MAX)
    out, key = output_place(args.out, args.directory, "report.md")
    check_directory(args.directory)
    check_writable_file(out, key)  # before any figure is drawn: they go beside the report
    check_writable_dir(out.parent / "figures", key)
    from w2s_jax.analysis.report import write_report

    path = write_report(args.directory, out, args.rule, args.bootstrap)
    print(f"wrote {path}")
    return 0
