"""Golden trajectories of the model before the beyond-the-theorems switches existed: the
defaults (full batch, fixed second layer, two classes) must reproduce them bit for bit.

XLA compiles for the host CPU, so the last bits of a float32 run differ between processors
(an AMD EPYC and the machine that made `golden_default.npz` differ in 22 of the 92 arrays, by
float32 rounding). A golden file is therefore kept per machine kind (`fingerprint()`): on a
machine that has one the defaults are held bit for bit; elsewhere they are held to float32
rounding against `golden_default.npz`.

Regenerate only on purpose, from the commit whose numbers are the reference:
`PYTHONPATH=. python tests/_golden.py` (writes tests/data/golden_<fingerprint>.npz).
"""

import platform
import re
from pathlib import Path

import jax
import numpy as np

import w2s_jax as w2s
from tests._exact import USERS_EMITTERS
from w2s_jax.engines.run import run_key

PATH = Path(__file__).parent / "data" / "golden_default.npz"
#: XLA's defaults for what the suite's conftest turns down, whatever `XLA_FLAGS` says.
USERS_COMPILE = {"xla_backend_optimization_level": 3} | USERS_EMITTERS


def fingerprint() -> str:
    """The machine kind whose compiled programs give the same bits: backend, architecture,
    CPU vendor and vector width, and the jaxlib build."""
    vendor, wide = "unknown", "avx2"
    try:
        info = Path("/proc/cpuinfo").read_text()
        vendor = re.search(r"vendor_id\s*:\s*(\S+)", info).group(1)
        wide = "avx512" if re.search(r"\bavx512f\b", info) else "avx2"
    except (OSError, AttributeError):
        pass
    version = jax.lib.__version__ if hasattr(jax.lib, "__version__") else jax.__version__
    return f"{jax.default_backend()}-{platform.machine()}-{vendor}-{wide}-jaxlib{version}"


def machine_path() -> Path:
    return PATH.with_name(f"golden_{fingerprint()}.npz")


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
        key = run_key(0, 7)
        # XLA's default optimization level (the suite's conftest turns it down to compile
        # faster): the bits are those a user's program gives.
        compiled = (
            jax.jit(w2s.run, static_argnums=0)
            .lower(static, params, key)
            .compile(compiler_options=USERS_COMPILE)
        )
        traj = compiled(params, key)
        for field in traj._fields:
            out[f"{name}/{field}"] = np.asarray(getattr(traj, field))
    return out


if __name__ == "__main__":
    PATH.parent.mkdir(exist_ok=True)
    np.savez(machine_path(), **golden_runs())
    print(machine_path())
