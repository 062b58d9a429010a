"""`w2s plot DIR`: figures of a finished sweep (PNG and PDF) under `DIR/figures`.

Kinds: `phase` (phase diagram over `--x` and `--y` with the theory's line tau = C),
`collapse` (against tau), `trajectories` and `signal` (for `--cell` choices or a spread of
cells), `window` (early-stopping window), or `all`.
"""

from __future__ import annotations

import sys

from w2s_jax.cli.common import (
    RULES,
    RULES_HELP,
    add_cell_argument,
    add_directory_argument,
    cell_keys,
    check_directory,
    match_cells,
    output_place,
)
from w2s_jax.model.config import ConfigError
from w2s_jax.sweeping.places import check_writable_dir

#: The figures (`w2s_jax.analysis.report.KINDS`), named here so that `w2s plot --help` loads
#: no plotting library; a test holds them equal.
KINDS = ("phase", "collapse", "trajectories", "window", "signal")


def register(sub):
    p = sub.add_parser("plot", help="figures of a finished sweep", description=__doc__)
    add_directory_argument(p)
    p.add_argument(
        "--kind", default="all", choices=KINDS + ("all",), help="which figure (default all)"
    )
    p.add_argument(
        "--x", default=None, help="horizontal axis of phase and window, a column (default n_st)"
    )
    p.add_argument(
        "--y",
        default=None,
        help="vertical axis (default: the other grid axis with the most values)",
    )
    add_cell_argument(
        p,
        "a cell for trajectories/signal by its values, e.g. --cell n_st=75 or --cell tau=10 "
        "(any config field or coordinate of the sweep; repeatable)",
    )
    p.add_argument("--out", default=None, metavar="DIR", help="folder (default DIR/figures)")
    p.add_argument("--rule", default="class", choices=tuple(RULES), help=RULES_HELP)
    p.set_defaults(execute=execute)


def _cells(texts, summary):
    """The `--cell` choices, each matched against the cells of the sweep."""
    if not texts:
        return None
    return [cell for cell, _ in match_cells(texts, summary, cell_keys(summary))]


def execute(args) -> int:
    out, key = output_place(args.out, args.directory, "figures")
    check_directory(args.directory)
    check_writable_dir(out, key)
    from w2s_jax.analysis.report import analyse, make_figures
    from w2s_jax.sweeping.results import load_results

    summary, trajectories, _ = load_results(args.directory)
    cells = _cells(args.cell, summary)
    results = analyse(summary, trajectories, rule=args.rule)
    for axis in (args.x, args.y):
        if axis is not None and axis not in results["runs"]:
            raise ConfigError(f"--x/--y: {axis!r} is not a column of the sweep")
    kinds = KINDS if args.kind == "all" else (args.kind,)
    # `all` leaves out a figure with too many panels and says so; one kind asked for by name
    # is refused instead (exit 2, the message names the axes to narrow).
    skipped: dict[str, str] | None = {} if args.kind == "all" else None
    paths = make_figures(
        results, trajectories, summary, out, kinds, args.x, args.y, cells, skipped=skipped
    )
    for path in paths.values():
        print(f"wrote {path} and {path.with_suffix('.pdf').name}")
    for kind, reason in (skipped or {}).items():
        print(f"skipped {kind}: {reason}", file=sys.stderr)
    return 0
