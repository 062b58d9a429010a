"""`make figures`: every generated figure and page from the studies' data in `studies/`,
without a sweep.

    python scripts/figures.py            # figures into docs/figures/, pages from docs/templates/
    python scripts/figures.py --check    # render the pages and fail where a committed one differs

Figures of a study whose data is not committed yet are skipped and listed; a page's facts
about such a study say that it waits for its data and name the command that makes it.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pages  # noqa: E402
import plane_figure as pf  # noqa: E402

from w2s_jax.analysis import classes, maps, paper, plots  # noqa: E402
from w2s_jax.analysis.report import markdown_table  # noqa: E402
from w2s_jax.sweeping.results import load_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ROOT / "studies"
FIGURES = ROOT / "docs" / "figures"
LIMIT = 1e6  # the limit engine's d/n_st: its row is drawn apart as d = ∞
CLASS_NAMES = {"harmful": "harmful", "benign": "benign", "label_correction": "label correction"}


def have(name: str) -> bool:
    return (STUDIES / name / "summary.parquet").exists()


def waiting(name: str, command: str | None = None) -> str:
    """What a number shows while its study is not there: the command that makes it."""
    command = command or f"python scripts/studies.py {name}"
    return f"*(waiting for its data: `{command}` writes `studies/{name}`)*"


#: Digits as exponents: `10` followed by `str(e).translate(SUPERSCRIPTS)`.
SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power(v: float) -> str:
    """A number as a power of ten: `30000` as `3·10⁴`, `0.001` as `10⁻³`."""
    e = math.floor(math.log10(v) + 1e-9)
    mantissa = v / 10**e
    text = f"10{str(e).translate(SUPERSCRIPTS)}"
    return text if abs(mantissa - 1) < 1e-9 else f"{mantissa:g}·{text}"


def num(v: float, digits: int = 2) -> str:
    """A number as the pages print it: a true minus sign, `digits` decimals."""
    return f"{v:.{digits}f}".replace("-", "−")


def interval(lo: float, hi: float, digits: int = 2) -> str:
    return f"{num(lo, digits)} to {num(hi, digits)}"


def listing(items: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# -- the headline figure -----------------------------------------------------------------


def headline_figure(runs: pd.DataFrame, edges: dict[int, dict], path: Path) -> None:
    """The coin plane's classes, one panel per n_st, at the README's width: the d = ∞ row
    apart on top, undecided cells hatched, and the fitted lower edge `tau = C` with its
    interval as an iso-`tau` line (slope −2 in these coordinates)."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    sizes = sorted(runs["n_st"].unique())
    fig = Figure(figsize=(max(7.6, 2.9 * len(sizes) + 0.4), 3.9), layout="constrained")
    grid = fig.add_gridspec(2, len(sizes), height_ratios=[1, 8.5], hspace=0.02)
    names = [c for c in classes.CLASSES if c in CLASS_NAMES]
    for i, n_st in enumerate(sizes):
        cells = maps.graded_cells(runs[runs["n_st"] == n_st], "n_st_snr", "d_over_n")
        finite = cells[cells["d_over_n"] < LIMIT]
        top = cells[cells["d_over_n"] >= LIMIT]
        xs = np.sort(cells["n_st_snr"].unique())
        ys = np.sort(finite["d_over_n"].unique())
        xe, ye = plots._edges(xs, True), plots._edges(ys, True)
        ax_inf = fig.add_subplot(grid[0, i])
        ax = fig.add_subplot(grid[1, i], sharex=ax_inf)
        for frame, target, rows, row_edges in (
            (finite, ax, ys, ye),
            (top, ax_inf, np.array([1.0]), np.array([0.0, 1.0])),
        ):
            if frame.empty:
                continue
            for _, c in frame.iterrows():
                r = 0 if target is ax_inf else int(np.searchsorted(rows, c["d_over_n"]))
                k = int(np.searchsorted(xs, c["n_st_snr"]))
                span = ([xe[k], xe[k + 1]], row_edges[r], row_edges[r + 1])
                colour = plots.CLASS_COLORS[c["class"]]
                target.fill_between(*span, color=colour, edgecolor="white", lw=0.6)
                if c["undecided"]:
                    target.fill_between(*span, facecolor="none", edgecolor="0.1", hatch="///", lw=0)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(xe[0], xe[-1])
        ax.set_ylim(ye[0], ye[-1])
        ax_inf.set_ylim(0, 1)
        ax_inf.set_yticks([0.5], ["∞"])
        ax_inf.tick_params(axis="x", labelbottom=False)
        ax_inf.set_title(f"n_st = {n_st}  ({int(cells['n_seeds'].max())} seeds)", fontsize=10)
        p_b = float(runs["p_b"].iloc[0])
        edge = edges.get(n_st)
        if edge is not None:
            line_x = np.geomspace(xe[0], xe[-1], 50)
            for key, style, width in (("crossing", "-", 1.6), ("lo", ":", 1.0), ("hi", ":", 1.0)):
                ax.plot(line_x, edge[key] / (p_b**2 * line_x**2), "k", ls=style, lw=width)
            ax.text(
                0.97,
                0.03,
                f"τ = {edge['crossing']:.1f}",
                transform=ax.transAxes,
                ha="right",
                va="bottom",
                fontsize=9,
                bbox=dict(facecolor="white", alpha=0.85, edgecolor="none", pad=1.5),
            )
        ax.set_xlabel("data abundance  n_st·snr", fontsize=9)
        if i == 0:
            ax.set_ylabel("over-parameterization  d/n_st", fontsize=9)
        for a in (ax, ax_inf):
            a.tick_params(labelsize=8.5)
    handles = [Patch(color=plots.CLASS_COLORS[c], label=CLASS_NAMES[c]) for c in names]
    handles.append(Patch(facecolor="white", edgecolor="0.3", hatch="///", label="undecided"))
    handles.append(Line2D([], [], color="k", label="lower edge τ = C (dotted: 95% CI)"))
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=9, frameon=False)
    fig.suptitle("Coin teacher (fixed): the student's class at the end of training", fontsize=10.5)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path.with_suffix(".png"), dpi=110)


# -- the planes ---------------------------------------------------------------------------


def plane_facts(teacher: str, draw: bool = True) -> tuple[dict[str, str], list[str]]:
    """The facts of one teacher's planes, and the studies it waits for; `draw` also draws
    its figures."""
    names = [f"plane_{teacher}", f"plane_{teacher}_1000", f"plane_{teacher}_3000"]
    missing = [n for n in names if not have(n)]
    if teacher != "trained" and not have(f"plane_limit_{teacher}"):
        missing.append(f"plane_limit_{teacher}")
    t = teacher
    if not pf.plane_folders(STUDIES, teacher):
        text = waiting(names[0])
        keys = ("n_st", "overview", "edges", "collapse", "limit", "lower_edge", "slope")
        keys += ("lc_edge", "benign_gain", "ridge", "harmful", "undecided", "agree")
        return {f"{t}_{k}": text for k in keys} | {f"{t}_figure": ""}, missing
    runs = pf.plane_runs(STUDIES, teacher)
    sizes = sorted(int(n) for n in runs["n_st"].unique())
    per = pf.per_n_st(runs)
    finite = runs[runs["engine"] != "limit"]
    facts = {f"{t}_n_st": listing([str(n) for n in sizes])}
    over = pf.overview(runs, per)
    facts[f"{t}_overview"] = _overview_table(over)
    facts[f"{t}_undecided"] = listing(
        [f"{int(r.undecided)} ({int(r.n_st)})" for r in over.itertuples()]
    )
    facts[f"{t}_harmful"] = listing(
        [f"{int(r.harmful)} of {int(r.cells)} ({int(r.n_st)})" for r in over.itertuples()]
    )
    collapse = pf.collapse(per) if len(sizes) > 1 else pd.DataFrame()
    facts[f"{t}_collapse"] = (
        markdown_table(collapse) if len(collapse) else f"*(one `n_st` only: {waiting(names[1])})*"
    )
    edge_rows, ridge_rows, edge_of = {}, [], {}
    for n_st in sizes:
        at = finite[finite["n_st"] == n_st]
        if teacher == "trained":
            fit = pf.ridge_slope(at)
            ridge_rows.append(f"{num(fit['slope'])} ({interval(fit['lo'], fit['hi'])}) at {n_st}")
        else:
            found = pf.edges(at)
            if found.empty:  # every cell on one side: no edge to fit
                found = pd.DataFrame(columns=["region", "crossing", "lo", "hi"])
            edge_rows[n_st] = found
            benign = found[found["region"] == "benign"]
            if len(benign):
                edge_of[n_st] = benign.iloc[0].to_dict()
    facts[f"{t}_ridge"] = listing(ridge_rows) if ridge_rows else "no ridge fitted"
    facts[f"{t}_edges"] = _edges_table(edge_rows) if edge_rows else "No edge fitted."
    facts[f"{t}_lower_edge"] = _edge_text(edge_rows, "benign", "tau", 1)
    facts[f"{t}_slope"] = _edge_text(edge_rows, "benign (line)", None, 2)
    facts[f"{t}_lc_edge"] = _edge_text(edge_rows, "label_correction", "n_st_snr", 1)
    facts[f"{t}_benign_gain"] = _benign_gain(per, sizes)
    facts[f"{t}_limit"] = _limit_table(per, sizes)
    facts[f"{t}_agree"] = _imitation(teacher)
    facts[f"{t}_figure"] = f"figures/plane_{teacher}.png"
    title = f"n_st = {', '.join(str(n) for n in sizes)} (one row each), {pf.WHO[teacher]}"
    if (runs["engine"] == "limit").any():
        title += "; top row of each: d = ∞ (limit engine)"
    if not draw:
        return facts, missing
    maps.graded_map(
        runs.drop(columns=["engine"]),
        "n_st_snr",
        "d_over_n",
        annotate=False,  # per-cell numbers do not fit at 9 x 9; the explorer shows them
        title=title,
        path=FIGURES / f"plane_{teacher}",
    )
    if teacher == "coin":
        headline_figure(runs, edge_of, FIGURES / "headline_coin")
    return facts, missing


def _imitation(teacher: str) -> str:
    """Per n_st: the finite-d cells whose seed-mean final imitation (agreement with the
    teacher on hard-only test points) is at least 0.999."""
    parts = []
    for folder in pf.plane_folders(STUDIES, teacher):
        summary = load_results(folder).summary
        if "imitation_final" not in summary:
            continue
        cells = summary.groupby(["n_st_snr", "d_over_n"])["imitation_final"].mean()
        n_st = int(summary["n_st"].iloc[0])
        parts.append(f"{int((cells >= 0.999).sum())} of {len(cells)} ({n_st})")
    return listing(parts) if parts else "not recorded"


def _overview_table(over: pd.DataFrame) -> str:
    table = over.rename(
        columns={
            "label_correction": "label correction",
            "not_converged": "not converged",
            "median_se_gain_final": "median seed SE of the final gain",
        }
    )
    return markdown_table(table)


def _edges_table(edge_rows: dict[int, pd.DataFrame]) -> str:
    """Edges of the plane per n_st: rows the edge, columns n_st."""
    what = {
        "benign": "benign/harmful, as a crossing in `tau` (columns without label correction)",
        "benign (line)": "the same edge as a line: slope of `log(d/n_st)` on `log(n_st·snr)`",
        "label_correction": "label correction, as a crossing in `n_st·snr` (all `d/n_st`)",
    }
    rows = []
    for region, label in what.items():
        row = {"edge": label}
        for n, found in sorted(edge_rows.items()):
            hit = found[found["region"] == region]
            digits = 2 if region == "benign (line)" else 1
            row[f"`n_st = {n}`"] = (
                f"{num(hit.iloc[0].crossing, digits)} "
                f"({interval(hit.iloc[0].lo, hit.iloc[0].hi, digits)})"
                if len(hit)
                else "no edge (one side only)"
            )
        rows.append(row)
    return markdown_table(pd.DataFrame(rows))


def _edge_text(edge_rows: dict[int, pd.DataFrame], region: str, along, digits: int) -> str:
    parts = []
    for n, found in sorted(edge_rows.items()):
        hit = found[found["region"] == region]
        if len(hit):
            r = hit.iloc[0]
            parts.append(f"{num(r.crossing, digits)} ({interval(r.lo, r.hi, digits)}) at {n}")
    return listing(parts) if parts else "no edge (cells on one side only)"


def _benign_gain(per: dict[int, pd.DataFrame], sizes: list[int]) -> str:
    parts = []
    for n in sizes:
        cells = per[n][per[n]["class"] == "benign"]
        if len(cells):
            parts.append(
                f"{num(cells['gain_final'].min(), 3)} to {num(cells['gain_final'].max(), 3)} at {n}"
            )
    return listing(parts) if parts else "no benign cell"


def _limit_table(per: dict[int, pd.DataFrame], sizes: list[int]) -> str:
    """The d = ∞ row per n_st: its class per n_st·snr column."""
    rows = []
    for n in sizes:
        top = per[n][per[n]["d_over_n"] >= LIMIT].sort_values("n_st_snr")
        if top.empty:
            continue
        rows.append(
            dict(n_st=n)
            | {
                f"{x:g}": CLASS_NAMES.get(c, c) + (" (undecided)" if u else "")
                for x, c, u in zip(top["n_st_snr"], top["class"], top["undecided"])
            }
        )
    if not rows:
        return "*(no `d = ∞` row: the limit study is not committed yet)*"
    return "Columns: `n_st·snr`.\n\n" + markdown_table(pd.DataFrame(rows))


# -- the main job --------------------------------------------------------------------------


def paper_facts(draw: bool = True) -> tuple[dict[str, str], list[str]]:
    keys = ("paper_table", "paper_wall", "paper_seeds", "paper_figure")
    if not have("paper"):
        return {k: waiting("paper") for k in keys}, ["paper"]
    summary, trajectories, manifest = load_results(STUDIES / "paper")
    runs = paper.paper_rows(classes.classify(summary, trajectories))
    rows = []
    for n_st, group in runs.groupby("n_st"):
        group = group.sort_values("seed")
        regime, reported, _ = paper.PAPER[n_st]
        first = group.iloc[0]
        rows.append(
            {
                "n_st": n_st,
                "(n_st·snr, d/n_st), tau": f"({first.n_st_snr:g}, {first.d_over_n:g}), "
                f"{first.tau:.2g}",
                "paper reports": f"{reported}: {regime}",
                "weak test": _per_seed(group, "weak_test_acc"),
                "best test (step)": ", ".join(
                    f"{a:.3f} ({int(s)})"
                    for a, s in zip(group["best_test_acc"], group["best_step"])
                ),
                "wrong labels corrected at best": _per_seed(group, "label_correction_best", 2),
                "final test": _per_seed(group, "final_test_acc"),
                "gain at the end": ", ".join(num(v, 3) for v in group["gain_final"]),
                "meets": f"{int(group['meets'].sum())}/{len(group)}",
            }
        )
    wall = manifest.get("wall_s")
    facts = {
        "paper_table": markdown_table(pd.DataFrame(rows)),
        "paper_wall": f"{wall:.0f} s" if wall else "not recorded",
        "paper_seeds": str(runs["seed"].nunique()),
        "paper_figure": "docs/figures/paper_trajectories.png",
    }
    if draw:
        plots.trajectories(trajectories, summary, path=FIGURES / "paper_trajectories")
    return facts, []


def _per_seed(group: pd.DataFrame, column: str, digits: int = 3) -> str:
    return ", ".join(f"{v:.{digits}f}" for v in group[column])


# -- the study list ------------------------------------------------------------------------


def studies_facts() -> dict[str, str]:
    """A table of the committed studies: runs, wall time, code commit, size on disk."""
    rows, total = [], 0
    for folder in sorted(p.parent for p in STUDIES.glob("*/summary.parquet")):
        manifest = json.loads((folder / "manifest.json").read_text())
        size = sum(p.stat().st_size for p in folder.glob("*.*") if p.is_file())
        total += size
        code = manifest.get("code") or {}
        commit = code.get("commit", "not recorded")[:10] + (" (dirty)" if code.get("dirty") else "")
        wall = manifest.get("wall_s")
        rows.append(
            {
                "study": f"`{folder.name}`",
                "runs": manifest.get("n_runs"),
                "wall time": f"{wall:.0f} s" if wall else "unfinished",
                "commit": commit,
                "size": f"{size / 1e6:.2f} MB",
            }
        )
    table = markdown_table(pd.DataFrame(rows)) if rows else "*(no study committed yet)*"
    return {"studies_table": table, "studies_total": f"{total / 1e6:.1f} MB"}


def facts(draw: bool = False) -> tuple[dict[str, str], list[str]]:
    """Every template field's text from the committed data, and the studies still missing;
    `draw` also redraws the figures."""
    out, missing = {}, []
    for teacher in pf.TEACHERS:
        f, m = plane_facts(teacher, draw)
        out |= f
        missing += m
    f, m = paper_facts(draw)
    out |= f
    missing += m
    out |= studies_facts()
    for module in page_fact_modules():
        f, m = module.facts(draw)
        out |= f
        missing += m
    return out, missing


def page_fact_modules() -> list:
    """The modules of `scripts/page_facts/`, one per page (or group of sections): each has
    `facts(draw) -> (facts, missing studies)` over the helpers of this module."""
    import importlib

    folder = Path(__file__).resolve().parent / "page_facts"
    names = sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_"))
    return [importlib.import_module(f"page_facts.{name}") for name in names]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write pages")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    found, missing = facts(draw=not args.check)
    stale = []
    for template in pages.templates():
        page = pages.target(template)
        text = pages.render(template, found)
        if args.check:
            if not page.exists() or page.read_text() != text:
                stale.append(str(page.relative_to(ROOT)))
        else:
            page.write_text(text)
            print(f"wrote {page.relative_to(ROOT)}")
    if missing:
        print("waiting for data: " + ", ".join(sorted(set(missing))))
    print(f"{time.perf_counter() - start:.0f} s")
    if stale:
        print("pages that differ from the data: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
