"""A small synthetic phase plane for the explorer's tests: 3 x 3 cells of `(n_st·snr, d/n_st)`
at one `n_st`, 3 seeds, known classes (`_synthetic.curves`), and the limit engine's `d = ∞`
row, in the layout of summary.parquet and trajectories.parquet."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from _synthetic import FIXED, frames

SNR = (0.3, 3.0, 30.0)
OVER = (1.0, 55.0, 3000.0)
N_ST = 300
SEEDS = 3
INFINITE = 1e6


def _kind(snr: float, over: float, seed: int) -> str:
    """Harmful where `tau` is small, label correction at the largest `n_st·snr`, benign
    between; one cell whose seeds disagree."""
    if snr == 30.0 and over < INFINITE:
        return "label_correction"
    if (snr, over) == (3.0, 1.0):
        return ("harmful", "benign", "benign")[seed]
    return "harmful" if snr * snr * over < 5 else "benign"


def plane(n_st: int = N_ST, limit: bool = True, hard_labels: str = "coin"):
    """`(summary, trajectories)` of the plane (with its `d = ∞` row when `limit`)."""
    overs = OVER + ((INFINITE,) if limit else ())
    params, kinds = [], {}
    for over in overs:
        for snr in SNR:
            d = over * n_st
            nu = float(np.sqrt(snr * FIXED["sigma_p"] ** 2 * d / n_st))
            engine = "limit" if over == INFINITE else "wishart"
            params.append(dict(n_st=n_st, d=d, nu_norm=nu, engine=engine, hard_labels=hard_labels))
            for seed in range(SEEDS):
                kinds[len(params) - 1, seed] = _kind(snr, over, seed)
    summary, trajectories = frames(kinds, params, SEEDS)
    for table in (summary, trajectories):
        table["snr"] = table["nu_norm"] ** 2 / (table["sigma_p"] ** 2 * table["d"])
        table["n_st_snr"] = table["n_st"] * table["snr"]
        table["d_over_n"] = table["d"] / table["n_st"]
        table["tau"] = table["p_b"] ** 2 * table["n_st_snr"] ** 2 * table["d_over_n"]
    summary["gain_final"] = summary["final_test_acc"] - summary["weak_test_acc"]
    summary["gain_best"] = summary["best_test_acc"] - summary["weak_test_acc"]
    summary["teacher_rule_share"] = 0.5 + 0.01 * summary["seed"]
    summary["imitation_final"] = 0.6 - 0.01 * summary["cell"]
    return summary, trajectories


def write(folder, summary: pd.DataFrame, trajectories: pd.DataFrame, name: str = "synthetic"):
    """The tables as `w2s sweep --out folder` leaves them."""
    folder.mkdir(parents=True, exist_ok=True)
    summary.to_parquet(folder / "summary.parquet")
    trajectories.to_parquet(folder / "trajectories.parquet")
    (folder / "manifest.json").write_text(json.dumps(dict(name=name, status="complete")))
    return folder
