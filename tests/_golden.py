"""Golden trajectories of the model before the beyond-the-theorems switches existed: the
defaults (full batch, fixed second layer, two classes) must reproduce them bit for bit.

Regenerate only on purpose: `PYTHONPATH=. python tests/_golden.py` (writes tests/data/).
"""

from pathlib import Path

import jax
import numpy as np

import w2s_jax as w2s
from w2s_jax.engines.run import run_key

PATH = Path(__file__).parent / "data" / "golden_default.npz"
DATA = dict(d=48, mu_norm=4.0, nu_norm=4.0, sigma_p=1.0)
TRAIN = dict(n_st=20, m=4, n_wk=64, T_wk=30, n_test=128, T=30, record_every=5)
#: (name, train overrides, n_max)
CASES = (
    ("direct32", dict(), 24),
    ("gram32", dict(engine="gram"), 24),
    ("wishart32", dict(engine="gram", gram_noise="wishart"), 24),
    ("direct32_momentum", dict(optimizer="momentum", output_scale="1"), None),
)


def golden_runs() -> dict[str, np.ndarray]:
    out = {}
    for name, train, n_max in CASES:
        static, params = w2s.split(
            w2s.DataConfig(**DATA), w2s.TrainConfig(**(TRAIN | train)), n_max=n_max
        )
        traj = jax.jit(w2s.run, static_argnums=0)(static, params, run_key(0, 7))
        for field in traj._fields:
            out[f"{name}/{field}"] = np.asarray(getattr(traj, field))
    return out


if __name__ == "__main__":
    PATH.parent.mkdir(exist_ok=True)
    np.savez(PATH, **golden_runs())
