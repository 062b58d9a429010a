"""Synthetic sweep results with known answers, in the layout of summary.parquet and
trajectories.parquet (docs/model.md#config), for the analysis, fit and plot tests."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from w2s_jax.model.theory import tau as tau_of

FIXED = dict(d=1000, mu_norm=5.0, nu_norm=5.0, sigma_p=1.0, p_h=0.3, p_b=0.4, m=20, eta=0.2, T=200)
STEPS = np.arange(0, 201, 10)
WEAK = 0.85


def curves(kind: str, steps=STEPS) -> dict[str, np.ndarray]:
    """Recorded metrics of one run of a known class."""
    t = steps.astype(float)
    rise = 1 - np.exp(-t / 15)
    if kind == "harmful":
        test = 0.5 + (WEAK + 0.01 - 0.5) * rise
        pseudo, lc = 0.5 + 0.5 * rise, 0.5 * np.exp(-t / 10)
    elif kind == "benign":
        test = 0.5 + (0.985 - 0.5) * rise
        pseudo, lc = 0.5 + 0.5 * rise, 0.5 * np.exp(-t / 10)
    elif kind == "label_correction":
        test = np.where(
            t <= 40,
            0.5 + 0.495 * (1 - np.exp(-t / 8)),
            0.995 - 0.065 * (1 - np.exp(-(t - 40) / 60)),
        )
        fit = 1 / (1 + np.exp(-(t - 120) / 15))
        pseudo = np.minimum(0.5 + 0.35 * rise + 0.15 * fit, 1.0)
        lc = np.where(t <= 60, 0.5 + 0.45 * (1 - np.exp(-t / 8)), 0.95 * (1 - fit) + 0.05)
        pseudo[-1] = 1.0
    elif kind == "not_converged":
        test, pseudo, lc = 0.5 + 0.3 * rise, 0.5 + 0.2 * rise, 0.5 + 0 * t
    else:
        raise ValueError(kind)
    hard = (test - 0.7) / 0.3
    return dict(
        test_acc=test,
        test_acc_easy=np.minimum(test + 0.1, 1.0),
        test_acc_hard=hard,
        test_acc_both=np.minimum(test + 0.1, 1.0),
        train_acc_pseudo=pseudo,
        train_acc_true=pseudo * 0.9 + 0.1 * lc,
        train_loss=np.log(2) * (1 - rise) + 1e-3,
        label_correction=lc,
        gamma_mu=5 * rise,
        gamma_nu_pos=3 * rise,
        gamma_nu_neg=2 * rise,
        rho_correct=0.5 * rise,
        rho_wrong=0.8 * rise,
    )


def frames(kinds: dict[tuple, str], params: list[dict], seeds: int):
    """(summary, trajectories) for cells `params`; run (cell, seed) has class kinds[cell, seed]."""
    shapes = {k: curves(k) for k in ("harmful", "benign", "label_correction", "not_converged")}
    summary, columns = [], {}
    for cell, p in enumerate(params):
        row = FIXED | p
        row["p_e"] = 1 - row["p_h"] - row["p_b"]
        for seed in range(seeds):
            c = shapes[kinds[cell, seed]]
            best = int(np.argmax(c["test_acc"]))
            summary.append(
                row
                | dict(
                    cell=cell,
                    seed=seed,
                    tau=float(
                        tau_of(row["n_st"], row["p_b"], row["nu_norm"], row["sigma_p"], row["d"])
                    ),
                    weak_test_acc=WEAK,
                    pseudo_label_acc=0.85,
                    final_test_acc=c["test_acc"][-1],
                    final_train_acc_pseudo=c["train_acc_pseudo"][-1],
                    final_train_acc_true=c["train_acc_true"][-1],
                    best_test_acc=c["test_acc"][best],
                    best_step=int(STEPS[best]),
                    status="ok",
                )
            )
            for k, v in (row | dict(cell=cell, seed=seed, step=STEPS) | c).items():
                columns.setdefault(k, []).append(np.broadcast_to(v, STEPS.shape))
    trajectories = pd.DataFrame({k: np.concatenate(v) for k, v in columns.items()})
    return pd.DataFrame(summary), trajectories


def planted_boundary(C=2.0, k=4.0, seeds=6, exponents=(1, 2, 4, -4), rng=0):
    """A grid over n_st, p_b, nu_norm, sigma_p whose runs are benign with probability
    σ(k·(log t - log C)), t = n_st^a p_b^b nu_norm^c sigma_p^e / d, harmful otherwise."""
    rng = np.random.default_rng(rng)
    a, b, c, e = exponents
    grid = dict(
        n_st=[25, 50, 100, 200, 400, 800, 1600, 3200, 6400],
        p_b=[0.2, 0.4],
        nu_norm=[3.0, 5.0],
        sigma_p=[0.8, 1.2],
    )
    params = [dict(zip(grid, v)) for v in itertools.product(*grid.values())]
    kinds = {}
    for cell, p in enumerate(params):
        t = p["n_st"] ** a * p["p_b"] ** b * p["nu_norm"] ** c * p["sigma_p"] ** e / FIXED["d"]
        prob = 1 / (1 + np.exp(-k * (np.log(t) - np.log(C))))
        for seed in range(seeds):
            kinds[cell, seed] = "benign" if rng.random() < prob else "harmful"
    return frames(kinds, params, seeds)
