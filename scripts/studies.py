"""Run the studies whose data the README and docs draw on, in order, into `studies/<name>/`
(tracked: summary, trajectories, manifest). Each is resumable: rerun after an interruption
and finished chunks are kept; a finished study costs only its planning.

    python scripts/studies.py                 # every study below, headline planes first
    python scripts/studies.py plane_coin paper  # just these
"""

from __future__ import annotations

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
    "plane_trained_1000",
    "plane_coin_1000",
    "plane_rule_1000",
    "paper_oracle",
    "boundary_d",
    "early_stopping_law",
    "plane_coin_3000",
    "plane_rule_3000",
    "plane_trained_3000",
)


def main(names: list[str]) -> int:
    w2s = Path(sys.executable).with_name("w2s")
    for name in names or ORDER:
        out = ROOT / "studies" / name
        print(f"== {name} -> {out.relative_to(ROOT)}", flush=True)
        code = subprocess.call(
            [str(w2s), "sweep", str(ROOT / "sweeps" / f"{name}.toml"), "--out", str(out)]
        )
        if code:
            return code
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
