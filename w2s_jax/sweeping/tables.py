"""Recorded trajectories as tables: the summary.parquet and trajectories.parquet rows of
docs/model.md#config.

Stopping times are derived from the recorded curves (STYLE: fixed-length scans, no
run-until-converged loops). `summarize` works on one trajectory or a batch (leading axes kept).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from w2s_jax.model.config import DATA_FIELDS, TRAIN_FIELDS
from w2s_jax.model.coordinates import step_scale, theory_coordinates
from w2s_jax.sweeping.plan import Run
from w2s_jax.training.records import RECORD_FIELDS, Trajectory

__all__ = ["summarize", "trajectory_table", "chunk_tables", "PARAMETER_COLUMNS"]

#: Every data and training field, in SPEC order: the parameter columns of both tables.
PARAMETER_COLUMNS = DATA_FIELDS + TRAIN_FIELDS


def summarize(steps, traj: Trajectory) -> dict[str, np.ndarray]:
    """Final and best accuracies, the best step and the status of each run.

    `best_step` is the first recorded step with the highest test accuracy. A run whose
    loss or weights became non-finite at any record point has status `diverged`. The gain
    over the teacher is the test accuracy minus the teacher's (`gain_best`, `gain_final`);
    `imitation_*` is the student's agreement with the teacher on hard-only test points.
    """
    steps = np.asarray(steps)
    test_acc = np.asarray(traj.test_acc)
    finite = np.asarray(traj.finite).all(axis=-1)
    safe = np.where(np.isfinite(test_acc), test_acc, -np.inf)
    best = safe.argmax(axis=-1)
    best_acc = np.take_along_axis(safe, best[..., None], axis=-1)[..., 0]
    best_acc = np.where(np.isfinite(best_acc), best_acc, np.nan)
    weak = np.asarray(traj.weak_test_acc)
    imitation = np.asarray(traj.imitation)
    return dict(
        weak_test_acc=weak,
        pseudo_label_acc=np.asarray(traj.pseudo_label_acc),
        final_test_acc=test_acc[..., -1],
        final_train_acc_pseudo=np.asarray(traj.train_acc_pseudo)[..., -1],
        final_train_acc_true=np.asarray(traj.train_acc_true)[..., -1],
        best_test_acc=best_acc,
        best_step=steps[best],
        status=np.where(finite, "ok", "diverged"),
        gain_best=best_acc - weak,
        gain_final=test_acc[..., -1] - weak,
        imitation_best=np.take_along_axis(imitation, best[..., None], axis=-1)[..., 0],
        imitation_final=imitation[..., -1],
    )


def trajectory_table(steps, traj: Trajectory) -> pd.DataFrame:
    """One run's recorded metrics as a table with one row per recorded step."""
    columns = {"step": np.asarray(steps)}
    columns |= {k: np.asarray(getattr(traj, k)) for k in RECORD_FIELDS}
    return pd.DataFrame(columns)


def chunk_tables(
    runs: Sequence[Run], steps: Sequence[int], outputs: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The summary rows (one per run) and trajectory rows (one per run × record) of a chunk."""
    n, steps = len(runs), np.asarray(steps)
    if isinstance(outputs, list):  # the groups of a chunk (`ChunkProgram.__call__`)
        outputs = {k: np.concatenate([np.asarray(g[k]) for g in outputs]) for k in outputs[0]}
    host = {k: np.asarray(v)[:n] for k, v in outputs.items()}
    summary = summarize(steps, Trajectory(**host, gamma=None))
    columns: dict[str, Any] = {
        "cell": np.array([r.cell for r in runs], dtype=np.int64),
        "seed": np.array([r.seed for r in runs], dtype=np.int64),
    }
    for name in PARAMETER_COLUMNS:
        source = "data" if name in DATA_FIELDS else "train"
        columns[name] = np.asarray([getattr(getattr(r, source), name) for r in runs])
    columns |= theory_coordinates(
        columns["n_st"],
        columns["p_b"],
        columns["nu_norm"],
        columns["mu_norm"],
        columns["sigma_p"],
        columns["d"].astype(float),
    )
    for name in {k for r in runs for k, _ in r.requested}:  # as requested, not recomputed
        given = [dict(r.requested).get(name) for r in runs]
        columns[name] = np.where(
            [v is None for v in given], columns[name], [np.nan if v is None else v for v in given]
        )
    columns["eta_max"] = step_scale(columns)
    columns["eta_over_max"] = columns["eta"] / columns["eta_max"]
    parameters = dict(columns)
    columns |= summary
    for name in ("weak_test_acc_easy", "weak_test_acc_hard", "weak_test_acc_both"):
        columns[name] = host[name]
    columns["teacher_rule_share"] = host["teacher_rule_share"]
    columns["n_wrong_pseudo"] = host["n_wrong_pseudo"].astype(np.int64)
    records = len(steps)
    trajectories = {k: np.repeat(v, records) for k, v in parameters.items()}
    trajectories["step"] = np.tile(steps.astype(np.int64), n)
    trajectories |= {k: host[k].reshape(-1) for k in RECORD_FIELDS}
    trajectories["finite"] = host["finite"].reshape(-1)  # where a diverged run broke down
    return pd.DataFrame(columns), pd.DataFrame(trajectories)
