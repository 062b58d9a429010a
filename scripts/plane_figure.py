"""The headline figure: the fixed-teacher phase plane as graded maps, coin and rule side by
side, one row per n_st, each with the plane's d = ∞ column from the limit engine as its top
row; the trained teacher's plane for comparison; and the edge fits with seed-bootstrap
intervals (docs/figures/plane_coin.png, plane_rule.png, plane_trained.png, docs/plane.md's
tables).

    w2s sweep sweeps/plane_coin.toml --out results/plane_coin            # and plane_rule
    w2s sweep sweeps/plane_coin_1000.toml --out results/plane_coin_1000  # and the other n_st
    w2s sweep sweeps/plane_trained.toml --out results/plane_trained      # and _1000
    w2s sweep sweeps/plane_limit_coin.toml --out results/plane_limit_coin  # and _rule
    python scripts/plane_figure.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from w2s_jax.analysis import classes, maps, plane
from w2s_jax.analysis.fit import BOOTSTRAP, _crossing_log_tau, _seed_bootstrap
from w2s_jax.analysis.report import load_results, markdown_table

ROOT = Path(__file__).resolve().parents[1]
TEACHERS = ("coin", "rule", "trained")
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


def summary_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per cell: seed means ± standard errors of the graded quantities, and the class."""
    cells = maps.graded_cells(runs, "n_st_snr", "d_over_n")
    keep = ["n_st_snr", "d_over_n", "n_seeds", "class", "undecided"]
    for q in ("gain_final", "gain_best", "label_correction_best"):
        if q in cells:
            keep += [q, f"{q}_se"]
    return cells[keep]


def crossing(runs: pd.DataFrame, region: str, along: str, seed: int = 0) -> dict:
    """Where the share of runs in `region` crosses 1/2 along `along` (a logistic fit in
    `log along`), with a seed-bootstrap 95% interval (whole seeds resampled)."""
    z = plane.region_indicator(runs, region)
    kept, z = runs[z.notna()], z[z.notna()].to_numpy()
    x = np.log(kept[along].to_numpy(float))
    point = _crossing_log_tau(x, z)
    boots = _seed_bootstrap(
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
    rows = [crossing(below, "benign", "tau"), crossing(runs, "label_correction", "n_st_snr")]
    line = plane.fit_plane_boundary(below, "benign", edge="benign_lower")
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
        for n_st in sizes:
            at = runs[runs["n_st"] == n_st]
            finite = at[at["engine"] != "limit"]
            print(f"## {teacher}, n_st = {n_st} ({finite['seed'].nunique()} seeds)\n")
            print(markdown_table(edges(finite)))
            print()
            print(markdown_table(summary_table(at)))
            print()
    return None


if __name__ == "__main__":
    main(*(Path(a) for a in sys.argv[1:]))
