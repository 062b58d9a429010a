"""`w2s explore DIR_OR_STUDY... --out PAGE.html`: the explorer of one or more finished sweeps,
one self-contained HTML page that opens offline (docs/explore.md).

The map over the two axes the study swept (or `--x`, `--y`), its colour chosen on the page,
a dropdown for each other axis; a click on a cell draws its seeds' trajectories. Several
folders or study names are concatenated (the limit engine's `d = ∞` row beside its plane).
"""

from __future__ import annotations

from w2s_jax.model.config import ConfigError
from w2s_jax.sweeping.places import check_writable_file, path_arg

#: The colours the page opens with (`w2s_jax.analysis.explore.METRICS`), named here so that
#: `w2s explore --help` loads no plotting library; a test holds them equal.
METRICS = (
    "class",
    "gain_final",
    "gain_best",
    "label_correction_best",
    "best_step",
    "teacher_rule_share",
    "imitation_final",
)


def register(sub):
    p = sub.add_parser(
        "explore", help="interactive HTML page of finished sweeps", description=__doc__
    )
    p.add_argument(
        "studies",
        nargs="+",
        metavar="DIR_OR_STUDY",
        help="sweep folder (holds summary.parquet) or committed study name",
    )
    p.add_argument("--out", required=True, metavar="PAGE", help="the page to write (PAGE.html)")
    p.add_argument("--x", default=None, help="horizontal axis (default: the swept axes)")
    p.add_argument("--y", default=None, help="vertical axis (default: the swept axes)")
    p.add_argument(
        "--metric",
        default="gain_final",
        choices=METRICS,
        help="what the colour shows when the page opens (default gain_final)",
    )
    p.set_defaults(execute=execute)


def execute(args) -> int:
    out = path_arg(args.out, "--out")
    if out.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"--out: {str(out)!r} is not an .html file; name the page PAGE.html")
    check_writable_file(out, "--out")
    for study in args.studies:
        if not str(study).strip():
            raise ConfigError("DIR_OR_STUDY: empty; give a sweep folder or a study name")
    from w2s_jax.analysis.explore import explore

    page = explore(*args.studies, x=args.x, y=args.y, metric=args.metric)
    path = page.save(out)
    size = path.stat().st_size / 1e6
    print(f"wrote {path} ({size:.1f} MB, {len(page.cells)} cells)")
    for note in page.tables.notes[1:]:
        print(note)
    return 0
