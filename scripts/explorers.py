"""The explorers of the headline studies for the docs site, from the committed data in
`studies/` (part of `make docs`; the pages are generated, not committed):

    docs/explorers/plane_coin.html     plane_coin (and plane_coin_<n_st>) with plane_limit_coin
    docs/explorers/plane_rule.html     the same for the rule teacher
    docs/explorers/plane_trained.html  the plane of the trained teacher (and its d = ∞ row)
    docs/explorers/paper.html          the main job

    python scripts/explorers.py            # all of them
    python scripts/explorers.py paper      # some

Each plane takes the limit engine's `d = ∞` row at the `n_st` of its finite planes. A page
whose data is not committed yet is written as a short page that says so (the docs link every
page), and listed.
"""

from __future__ import annotations

import argparse
import html
import sys
import time
from pathlib import Path

from w2s_jax.analysis.explore import explore
from w2s_jax.sweeping.results import load_results

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ROOT / "studies"
OUT = ROOT / "docs" / "explorers"
PAGES = ("plane_coin", "plane_rule", "plane_trained", "paper")


def have(name: str) -> bool:
    return (STUDIES / name / "summary.parquet").exists()


def studies(page: str) -> list:
    """What the page draws: study folders, or `(summary, trajectories, manifest)` of the
    limit engine's runs at the finite planes' `n_st`."""
    if page == "paper":
        return [STUDIES / "paper"] if have("paper") else []
    finite = [STUDIES / page] if have(page) else []
    finite += sorted(p.parent for p in STUDIES.glob(f"{page}_[0-9]*/summary.parquet"))
    limit = STUDIES / page.replace("plane_", "plane_limit_")
    if not finite or not have(limit.name):
        return finite
    sizes = set()
    for folder in finite:
        sizes |= set(load_results(folder).summary["n_st"].unique())
    summary, trajectories, manifest = load_results(limit)
    keep = summary["n_st"].isin(sizes), trajectories["n_st"].isin(sizes)
    return [*finite, (summary[keep[0]], trajectories[keep[1]], manifest)]


WAITING = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{name}: waiting for its data</title></head>
<body style="font-family: sans-serif"><p>The explorer of <code>{name}</code> waits for its
data: <code>python scripts/studies.py {name}</code> writes <code>studies/{name}</code>, then
<code>python scripts/explorers.py {name}</code>.</p></body></html>
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="*", help=f"some of {', '.join(PAGES)} (default all)")
    args = parser.parse_args(argv)
    unknown = [p for p in args.pages if p not in PAGES]
    if unknown:
        parser.error(f"unknown page {', '.join(unknown)}; choose from {', '.join(PAGES)}")
    OUT.mkdir(parents=True, exist_ok=True)
    missing = []
    for name in args.pages or PAGES:
        path = OUT / f"{name}.html"
        drawn = studies(name)
        if not drawn:
            path.write_text(WAITING.format(name=html.escape(name)), encoding="utf-8")
            missing.append(name)
            continue
        start = time.perf_counter()
        explore(*drawn).save(path)
        size = path.stat().st_size / 1e6
        print(
            f"wrote {path.relative_to(ROOT)} ({size:.1f} MB, {time.perf_counter() - start:.0f} s)"
        )
    if missing:
        print(f"waiting for their data (a placeholder page each): {', '.join(missing)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
