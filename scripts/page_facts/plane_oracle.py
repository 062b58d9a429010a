"""docs/plane.md's main-job section: the main job's rows with the coin teacher, searched over
`d × snr` (`paper_search_oracle`), and its `n_st = 20000` row at `T = 400` and `T = 1000`
(`paper_oracle`, `paper_oracle_long`). Whether a run meets its row's target is
`analysis.paper`'s rule (`paper_rows(...).meets`)."""

from __future__ import annotations

import pandas as pd
from figures import have, num, power, waiting

from w2s_jax.analysis import classes, paper
from w2s_jax.analysis.report import markdown_table
from w2s_jax.analysis.rules import WEAK_MARGIN
from w2s_jax.sweeping.results import load_results

SEARCH, ROW, LONG = "paper_search_oracle", "paper_oracle", "paper_oracle_long"


def facts(draw: bool) -> tuple[dict[str, str], list[str]]:
    del draw  # no figure of its own
    missing = [name for name in (SEARCH, ROW, LONG) if not have(name)]
    out = {"oracle_row_table": _row_table(ROW), "oracle_long_table": _row_table(LONG)}
    out["oracle_margin"] = f"{WEAK_MARGIN:g}"
    if not have(SEARCH):
        keys = ("table", "summary", "seeds", "wall")
        return out | {f"oracle_search_{k}": waiting(SEARCH) for k in keys}, missing
    runs = _rows(SEARCH)
    manifest = load_results(SEARCH).manifest
    out["oracle_search_seeds"] = str(runs["seed"].nunique())
    out["oracle_search_wall"] = (
        f"{manifest['wall_s']:.0f} s" if manifest.get("wall_s") else "not timed"
    )
    out["oracle_search_table"] = _search_table(runs)
    out["oracle_search_summary"] = _search_summary(runs)
    return out, missing


def _rows(name: str) -> pd.DataFrame:
    r = load_results(name)
    return paper.paper_rows(classes.classify(r.summary, r.trajectories))


def _cells(runs: pd.DataFrame):
    return runs.groupby(["d", "snr"], sort=True)


def _search_table(runs: pd.DataFrame) -> str:
    rows = []
    for (d, snr), cell in _cells(runs):
        small = cell[cell.n_st == 75].sort_values("seed")
        large = cell[cell.n_st == 2000].sort_values("seed")
        g = small.gain_final
        rows.append(
            {
                "`d`": power(d),
                "`snr`": power(snr),
                "75: final gain, mean (min, max)": (
                    f"{num(g.mean(), 3)} ({num(g.min(), 3)}, {num(g.max(), 3)})"
                ),
                "75 meets": f"{int(small.meets.sum())}/{len(small)}",
                "2000: final gain": num(large.gain_final.mean(), 3),
                "2000: test error per seed": ", ".join(
                    f"{1 - a:.3f}" for a in large.final_test_acc
                ),
                "2000 meets": f"{int(large.meets.sum())}/{len(large)}",
            }
        )
    return markdown_table(pd.DataFrame(rows))


def _search_summary(runs: pd.DataFrame) -> str:
    per_cell = _cells(runs).apply(
        lambda c: pd.Series(
            {
                "small": c[c.n_st == 75].meets.mean(),
                "large": c[c.n_st == 2000].meets.mean(),
            }
        )
    )
    both = per_cell[(per_cell.small == 1) & (per_cell.large == 1)]
    small_all = int((per_cell.small == 1).sum())
    best = per_cell.assign(total=per_cell.small + per_cell.large).sort_values("total").iloc[-1]
    seeds = runs["seed"].nunique()
    cell = f"`d` = {power(best.name[0])}, `snr` = {power(best.name[1])}"
    return (
        f"Cells where every seed meets both rows' targets: {len(both)} of {len(per_cell)}; "
        f"where every seed of the 75 row does: {small_all}. The best cell is {cell} "
        f"({round(best.small * seeds)}/{seeds} and {round(best.large * seeds)}/{seeds})."
    )


def _row_table(name: str) -> str:
    if not have(name):
        return waiting(name)
    runs = _rows(name)
    row = runs[runs.n_st == 20000].sort_values("seed")
    if row.empty:
        return "*(no n_st = 20000 run in this study)*"
    table = pd.DataFrame(
        {
            "seed": row.seed,
            "teacher": row.weak_test_acc.map(lambda v: f"{v:.3f}"),
            "best test acc (step)": [
                f"{a:.3f} ({int(s)})" for a, s in zip(row.best_test_acc, row.best_step, strict=True)
            ],
            "final test acc": row.final_test_acc.map(lambda v: f"{v:.3f}"),
            "lost after the peak": (row.best_test_acc - row.final_test_acc).map(
                lambda v: f"{v:.3f}"
            ),
            "corrected at the best step": row.label_correction_best.map(lambda v: f"{v:.2f}"),
            "final train acc on pseudo-labels": row.final_train_acc_pseudo.map(
                lambda v: f"{v:.3f}"
            ),
            "end class": row.end_class,
            "meets the row's target": row.meets.map({True: "yes", False: "no"}),
        }
    )
    return markdown_table(table)
