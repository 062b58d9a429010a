"""The headline figure: the fixed-teacher phase plane as graded maps, coin and rule side by
side, one row per n_st, each with the plane's d = ∞ column from the limit engine as its top
row; the trained teacher's plane for comparison; and the edge fits with seed-bootstrap
intervals (docs/figures/plane_coin.png, plane_rule.png, plane_trained.png, docs/plane.md's
tables).

    w2s sweep sweeps/plane_coin.toml --out results/plane_coin            # and plane_rule
    w2s sweep sweeps/plane_coin.toml --set grid.n_st=1000 --out results/plane_coin_1000  # 3000
    w2s sweep sweeps/plane_trained.toml --out results/plane_trained      # and at 1000
    w2s sweep sweeps/plane_limit_coin.toml --out results/plane_limit_coin  # and _rule
    python scripts/plane_figure.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from w2s_jax.analysis import classes, maps, plane
from w2s_jax.analysis.fit import BOOTSTRAP, _crossing_log_tau, seed_bootstrap
from w2s_jax.analysis.report import load_results, markdown_table

ROOT = Path(__file__).resolve().parents[1]
TEACHERS = ("coin", "rule", "trained")
KEYS = ("n_st_snr", "d_over_n")
WHO = {
    "coin": "oracle teacher (coin on hard-only data)",
    "rule": "oracle teacher (rule on hard-only data)",
    "trained": "teacher trained on each cell's distribution",
}


def load(results: Path, name: str) -> pd.DataFrame:
    summary, trajectories, _ = load_results(results / name)
    return classes.classify(summary, trajectories)


def plane_folders(results: Path, teacher: str) -> list[Path]:
    """The teacher's finite-d planes present: `plane_<teacher>` (n_st = 300) and
    `plane_<teacher>_<n_st>`."""
    named = [results / f"plane_{teacher}"] + sorted(results.glob(f"plane_{teacher}_[0-9]*"))
    return [f for f in named if (f / "summary.parquet").exists()]


def plane_runs(results: Path, teacher: str) -> pd.DataFrame:
    """Every n_st's plane of the teacher, each with the limit engine's runs at its n_st as
    its top row (d/n_st = 10⁶)."""
    runs = pd.concat([load(results, f.name) for f in plane_folders(results, teacher)])
    limit = results / f"plane_limit_{teacher}"
    if limit.exists():
        column = load(results, f"plane_limit_{teacher}")
        runs = pd.concat([runs, column[column["n_st"].isin(runs["n_st"].unique())]])
    runs = runs.reset_index(drop=True)
    runs["engine"] = runs["engine"].astype(str)
    return runs.drop(columns=["cell"]).assign(cell=0)


def per_n_st(runs: pd.DataFrame) -> dict[int, pd.DataFrame]:
    """`maps.graded_cells` of each n_st's runs (the d = ∞ row included), computed once for
    the tables that read them."""
    return {n: maps.graded_cells(at, *KEYS) for n, at in runs.groupby("n_st")}


def summary_table(cells: pd.DataFrame) -> pd.DataFrame:
    """Per cell: seed means ± standard errors of the graded quantities, and the class."""
    keep = ["n_st_snr", "d_over_n", "n_seeds", "class", "undecided"]
    for q in ("gain_final", "gain_best", "label_correction_best"):
        if q in cells:
            keep += [q, f"{q}_se"]
    return cells[keep]


def overview(runs: pd.DataFrame, per: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """Per n_st, over the finite-d cells: how many cells each class holds (the most common
    class over seeds), how many are undecided, and the median seed standard error of the
    final gain. `per`: `per_n_st(runs)`."""
    limit = runs.loc[runs["engine"] == "limit", "d_over_n"].unique()
    rows = []
    for n_st, at in runs[runs["engine"] != "limit"].groupby("n_st"):
        cells = per[n_st][~per[n_st]["d_over_n"].isin(limit)]
        counts = cells["class"].value_counts()
        rows.append(
            dict(n_st=n_st, cells=len(cells), seeds=at["seed"].nunique())
            | {c: int(counts.get(c, 0)) for c in classes.CLASSES}
            | dict(
                undecided=int(cells["undecided"].sum()),
                median_se_gain_final=float(cells["gain_final_se"].median()),
            )
        )
    return pd.DataFrame(rows)


def collapse(per: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """Consecutive n_st compared cell by cell (the d = ∞ row included): cells with the same
    class, the correlation and mean absolute difference of the seed-mean final gain, and
    the cells whose class differs. `per`: `per_n_st(runs)`."""
    per = {n: cells.set_index(list(KEYS)) for n, cells in per.items()}
    sizes, rows = sorted(per), []
    for a, b in zip(sizes, sizes[1:]):
        both = per[a].merge(per[b], left_index=True, right_index=True, suffixes=("_a", "_b"))
        same = both["class_a"] == both["class_b"]
        gain_a, gain_b = both["gain_final_a"], both["gain_final_b"]
        differ = both.index[~same]
        rows.append(
            dict(
                n_st=f"{a} vs {b}",
                cells=len(both),
                same_class=int(same.sum()),
                gain_corr=float(np.corrcoef(gain_a, gain_b)[0, 1]),
                gain_mean_abs_diff=float((gain_b - gain_a).abs().mean()),
                gain_mean_diff=float((gain_b - gain_a).mean()),
                differ=", ".join(f"({x:g}, {y:g})" for x, y in differ),
            )
        )
    return pd.DataFrame(rows)


def crossing(runs: pd.DataFrame, region: str, along: str, seed: int = 0) -> dict:
    """Where the share of runs in `region` crosses 1/2 along `along` (a logistic fit in
    `log along`), with a seed-bootstrap 95% interval (whole seeds resampled)."""
    z = plane.region_indicator(runs, region)
    kept, z = runs[z.notna()], z[z.notna()].to_numpy()
    x = np.log(kept[along].to_numpy(float))
    point = _crossing_log_tau(x, z)
    boots = seed_bootstrap(
        kept, lambda i: _crossing_log_tau(x[i], z[i]), BOOTSTRAP, np.random.default_rng(seed)
    )
    boots = boots[np.isfinite(boots)]
    lo, hi = np.quantile(boots, [0.025, 0.975]) if len(boots) >= 10 else (np.nan, np.nan)
    return dict(
        region=region,
        along=along,
        runs=len(kept),
        share=float(z.mean()),
        crossing=float(np.exp(point)),
        lo=float(np.exp(lo)),
        hi=float(np.exp(hi)),
    )


def edges(runs: pd.DataFrame) -> pd.DataFrame:
    """The plane's edges at finite d: the lower edge of benign overfitting (a line in the
    plane, and as a crossing in tau) on the columns without label correction, and the label
    correction edge as a crossing in n_st·snr over every d/n_st."""
    no_correction = runs.groupby("n_st_snr")["class"].transform(
        lambda c: (c != "label_correction").all()
    )
    below = runs[no_correction]

    def two_sides(frame: pd.DataFrame, region: str) -> bool:
        """An edge needs cells on both sides: some whose most common class is `region`,
        some whose is not (else a fit only extrapolates)."""
        if frame.empty:
            return False
        cells = maps.graded_cells(frame, "n_st_snr", "d_over_n")["class"]
        return bool((cells == region).any() and (cells != region).any())

    rows = []
    benign_edge = two_sides(below, "benign")
    if benign_edge:
        rows.append(crossing(below, "benign", "tau"))
    if two_sides(runs, "label_correction"):
        rows.append(crossing(runs, "label_correction", "n_st_snr"))
    line = plane.fit_plane_boundary(below, "benign", edge="benign_lower") if benign_edge else None
    if line is not None:
        rows.append(
            dict(
                region="benign (line)",
                along="slope of log(d/n_st) on log(n_st·snr)",
                runs=line.n_runs,
                share=line.share,
                crossing=line.slope,
                lo=line.slope_lo,
                hi=line.slope_hi,
            )
        )
    return pd.DataFrame(rows)


def ridge(runs: pd.DataFrame) -> pd.DataFrame:
    """Per `n_st·snr` column: the `d/n_st` where the seed-mean final gain over the teacher
    peaks (a parabola in `log d/n_st` through the largest value and its two neighbours; the
    grid value itself at an end of the column), the gain there and `tau` there."""
    rows = []
    for snr, column in runs.groupby("n_st_snr"):
        gain = column.groupby("d_over_n")["gain_final"].mean()
        x, y = np.log(gain.index.to_numpy(float)), gain.to_numpy(float)
        i = int(np.argmax(y))
        top = x[i]
        if 0 < i < len(y) - 1:
            a, b, _ = np.polyfit(x[i - 1 : i + 2], y[i - 1 : i + 2], 2)
            top = -b / (2 * a) if a < 0 else top
        p_b = float(column["p_b"].iloc[0])
        rows.append(
            dict(
                n_st_snr=snr,
                ridge_d_over_n=float(np.exp(top)),
                gain_final=float(y[i]),
                tau=p_b**2 * snr**2 * float(np.exp(top)),
                inside=bool(0 < i < len(y) - 1),
            )
        )
    return pd.DataFrame(rows)


def ridge_slope(runs: pd.DataFrame, seed: int = 0) -> dict:
    """The slope of the gain ridge's `log d/n_st` on `log n_st·snr`, over the columns whose
    peak lies inside the grid (−2 is a line of constant `tau`), with a seed-bootstrap 95%
    interval."""

    def slope(frame: pd.DataFrame) -> float:
        r = ridge(frame)
        r = r[r["inside"]]
        if len(r) < 3:
            return np.nan
        return float(np.polyfit(np.log(r["n_st_snr"]), np.log(r["ridge_d_over_n"]), 1)[0])

    rng = np.random.default_rng(seed)
    boots = seed_bootstrap(runs, lambda rows: slope(runs.iloc[rows]), BOOTSTRAP, rng)
    lo, hi = np.nanquantile(boots, [0.025, 0.975])
    return dict(slope=slope(runs), lo=float(lo), hi=float(hi))


def main(results: Path = ROOT / "results", out: Path = ROOT / "docs" / "figures") -> None:
    for teacher in TEACHERS:
        if not plane_folders(results, teacher):
            continue
        runs = plane_runs(results, teacher)
        sizes = sorted(runs["n_st"].unique())
        title = f"n_st = {', '.join(str(n) for n in sizes)} (one row each), {WHO[teacher]}"
        if (runs["engine"] == "limit").any():
            title += "; top row of each: d/n_st = 10⁶, the limit engine (d = ∞)"
        maps.graded_map(
            runs.drop(columns=["engine"]),
            "n_st_snr",
            "d_over_n",
            title=title,
            path=out / f"plane_{teacher}",
        )
        per = per_n_st(runs)
        print(f"# {teacher}\n")
        print(markdown_table(overview(runs, per)))
        print()
        if len(sizes) > 1:
            print(markdown_table(collapse(per)))
            print()
        for n_st in sizes:
            at = runs[runs["n_st"] == n_st]
            finite = at[at["engine"] != "limit"]
            print(f"## {teacher}, n_st = {n_st} ({finite['seed'].nunique()} seeds)\n")
            if teacher != "trained":  # a band, not a half-plane: its gain ridge instead
                found = edges(finite)
                print(markdown_table(found) if len(found) else "No edge: no cell on one side.")
                print()
            else:
                fit = ridge_slope(finite)
                print(f"Gain ridge: slope {fit['slope']:.2f} ({fit['lo']:.2f}, {fit['hi']:.2f})\n")
                print(markdown_table(ridge(finite)))
                print()
            print(markdown_table(summary_table(per[n_st])))
            print()
    return None


if __name__ == "__main__":
    main(*(Path(a) for a in sys.argv[1:]))
