"""Host-side summaries of recorded trajectories: the summary.parquet columns of SPEC §6.

Stopping times are derived from the recorded curves (STYLE: fixed-length scans, no
run-until-converged loops). Works on one trajectory or a batch (leading axes kept).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from w2s_jax.run import RECORD_FIELDS, Trajectory

__all__ = ["summarize", "trajectory_table"]


def summarize(steps, traj: Trajectory) -> dict[str, np.ndarray]:
    """Final and best accuracies, the best step and the status of each run.

    `best_step` is the first recorded step with the highest test accuracy. A run whose
    loss or weights became non-finite at any record point has status `diverged`.
    """
    steps = np.asarray(steps)
    test_acc = np.asarray(traj.test_acc)
    finite = np.asarray(traj.finite).all(axis=-1)
    safe = np.where(np.isfinite(test_acc), test_acc, -np.inf)
    best = safe.argmax(axis=-1)
    best_acc = np.take_along_axis(safe, best[..., None], axis=-1)[..., 0]
    return dict(
        weak_test_acc=np.asarray(traj.weak_test_acc),
        pseudo_label_acc=np.asarray(traj.pseudo_label_acc),
        final_test_acc=test_acc[..., -1],
        final_train_acc_pseudo=np.asarray(traj.train_acc_pseudo)[..., -1],
        final_train_acc_true=np.asarray(traj.train_acc_true)[..., -1],
        best_test_acc=np.where(np.isfinite(best_acc), best_acc, np.nan),
        best_step=steps[best],
        status=np.where(finite, "ok", "diverged"),
    )


def trajectory_table(steps, traj: Trajectory) -> pd.DataFrame:
    """One run's recorded metrics as a table with one row per recorded step."""
    columns = {"step": np.asarray(steps)}
    columns |= {k: np.asarray(getattr(traj, k)) for k in RECORD_FIELDS}
    return pd.DataFrame(columns)
