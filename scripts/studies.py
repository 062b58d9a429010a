"""Run the studies whose data the README and docs draw on, in order, into `studies/<name>/`
(tracked: summary, trajectories, manifest). Each is resumable: rerun after an interruption
and finished chunks are kept; a finished study costs only its planning.

    python scripts/studies.py                 # every study below, headline planes first
    python scripts/studies.py plane_coin paper  # just these
    python scripts/studies.py --into ../main/studies  # run this checkout's code, write there

`--into` lets a clean checkout of a commit (a git worktree) compute while the main checkout
is edited: the manifests then name that commit, not a dirty tree.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Headline planes first (README's figure), then the main job, then the other n_st.
ORDER = (
    "plane_coin",
    "plane_rule",
    "plane_limit_coin",
    "plane_limit_rule",
    "plane_trained",
    "paper",
    "plane_mix",
    "plane_trained_1000",
    "plane_coin_1000",
    "plane_rule_1000",
    "paper_oracle",
    "boundary_d",
    "early_stopping_law",
    "plane_coin_3000",
    "plane_rule_3000",
    "plane_trained_3000",
    # the studies behind the other pages (results, images, checks, notebooks)
    "paper_search_oracle",
    "paper_oracle_long",
    "phase_boundary",
    "calibration",
    "digits",
    "mnist_table",
    "mnist_table_20000",
    "mnist_pools",
    "batch_size",
    "second_layer",
    "classes",
)


def main(args: list[str]) -> int:
    into = ROOT / "studies"
    if args[:1] == ["--into"]:
        into, args = Path(args[1]).resolve(), args[2:]
    env = dict(os.environ, PYTHONPATH=str(ROOT))  # this checkout's package, not an editable one
    for name in args or ORDER:
        out = into / name
        print(f"== {name} -> {out}", flush=True)
        config = str(ROOT / "sweeps" / f"{name}.toml")
        command = [sys.executable, "-m", "w2s_jax.cli", "sweep", config, "--out", str(out)]
        code = subprocess.call(command, env=env)
        if code:
            return code
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
