"""`w2s report DIR`: a Markdown report (`DIR/report.md`) of a finished sweep: class counts,
the fitted constant C of tau >= C, the free exponents against (1, 2, 4, -4), per-slice
boundaries, early-stopping windows and the figures."""

from __future__ import annotations

from pathlib import Path

from w2s_jax.analysis.report import write_report


def register(sub):
    p = sub.add_parser("report", help="Markdown report of a finished sweep", description=__doc__)
    p.add_argument("directory", type=Path, help="sweep directory (holds summary.parquet)")
    p.add_argument("--out", type=Path, default=None, help="report file (default DIR/report.md)")
    p.add_argument(
        "--rule",
        default="class",
        choices=("end", "class", "label_correction"),
        help="benign indicator of the fits (see fit.benign_outcome; default class)",
    )
    p.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples (default 200)")
    p.set_defaults(execute=execute)


def execute(args) -> int:
    path = write_report(args.directory, args.out, args.rule, args.bootstrap)
    print(f"wrote {path}")
    return 0
