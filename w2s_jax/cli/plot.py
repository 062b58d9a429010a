"""`w2s plot DIR`: figures of a finished sweep (PNG and PDF) under `DIR/figures`.

Kinds: `phase` (phase diagram over `--x` and `--y` with the theory's line tau = C),
`collapse` (against tau), `trajectories` and `signal` (for `--cell` choices or a spread of
cells), `window` (early-stopping window), or `all`.
"""

from __future__ import annotations

from pathlib import Path

from w2s_jax.analysis.report import KINDS, analyse, load_results, make_figures
from w2s_jax.cli.common import parse_assignment
from w2s_jax.model.config import ConfigError


def register(sub):
    p = sub.add_parser("plot", help="figures of a finished sweep", description=__doc__)
    p.add_argument("directory", type=Path, help="sweep directory (holds summary.parquet)")
    p.add_argument("--kind", default="all", choices=KINDS + ("all",), help="figure (default all)")
    p.add_argument("--x", default=None, help="horizontal axis of phase/window (default n_st)")
    p.add_argument("--y", default=None, help="vertical axis (default the largest other grid axis)")
    p.add_argument(
        "--cell",
        action="append",
        default=None,
        metavar="KEY=VALUE[,KEY=VALUE]",
        help="a cell for trajectories/signal, e.g. --cell n_st=75 (repeatable)",
    )
    p.add_argument("--out", type=Path, default=None, help="folder (default DIR/figures)")
    p.add_argument(
        "--rule",
        default="class",
        choices=("end", "class", "label_correction"),
        help="benign indicator for the fit of C (see fit.benign_outcome; default class)",
    )
    p.set_defaults(execute=execute)


def _cells(texts):
    if not texts:
        return None
    return [dict(parse_assignment(part) for part in text.split(",")) for text in texts]


def execute(args) -> int:
    summary, trajectories, _ = load_results(args.directory)
    results = analyse(summary, trajectories, rule=args.rule)
    for axis in (args.x, args.y):
        if axis is not None and axis not in results["runs"]:
            raise ConfigError(f"--x/--y: {axis!r} is not a column of the sweep")
    kinds = KINDS if args.kind == "all" else (args.kind,)
    out = args.out or args.directory / "figures"
    paths = make_figures(
        results, trajectories, summary, out, kinds, args.x, args.y, _cells(args.cell)
    )
    for path in paths.values():
        print(f"wrote {path} and {path.with_suffix('.pdf').name}")
    return 0
