"""Run the studies whose data the README and docs draw on, in order, into `studies/<name>/`
(tracked: summary, trajectories, manifest). Each is resumable: rerun after an interruption
and finished chunks are kept; a finished study costs only its planning.

    python scripts/studies.py                 # every study below, headline planes first
    python scripts/studies.py plane_coin paper  # just these
    python scripts/studies.py --into ../main/studies  # run this checkout's code, write there

`--into` lets a clean checkout of a commit (a git worktree) compute while the main checkout
is edited: the manifests then name that commit, not a dirty tree.

A study is `sweeps/<name>.toml`, or another study's config with some values changed
(`VARIANTS`: the planes at n_st = 1000 and 3000 are the n_st = 300 planes with
`--set grid.n_st=[1000]`, and the traces at n_st = 1000, 3000 and 10000 are the n_st = 300
trace with its columns and seeds set: not copies of their files).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: What each fixed-size plane's teacher is, in its description.
_PLANE_TEACHERS = {
    "plane_coin": "oracle teacher (coin on hard-only data)",
    "plane_rule": "oracle teacher (rule on hard-only data)",
    "plane_trained": "teacher trained on each cell's distribution",
}


def _at(base: str, n_st: int, seeds: int, name: str, description: str, *more: str):
    """Study `name`: `sweeps/<base>.toml` at another `n_st` and seed count, with `more`
    assignments and its own description (a `VARIANTS` entry)."""
    sets = (f"grid.n_st=[{n_st}]", *more, f"seeds={seeds}", f"name={name}")
    return base, (*sets, f'description="{description}"')


#: Studies that are another config with values changed: name -> (config in sweeps/, the
#: `w2s sweep --set` assignments). Every other study is `sweeps/<name>.toml` as it is.
VARIANTS = (
    {
        f"{base}_{n_st}": _at(
            base,
            n_st,
            seeds,
            f"{base}_{n_st}",
            f"n_st = {n_st} plane, 9 x 9 cells, {seeds} seeds, {_PLANE_TEACHERS[base]}",
        )
        for n_st, seeds in ((1000, 8), (3000, 4))
        for base in _PLANE_TEACHERS
    }
    | {
        # the teacher axis at the larger n_st, with 4 seeds (its ends: plane_coin_*, plane_rule_*)
        f"plane_mix_{n_st}": _at(
            "plane_mix",
            n_st,
            4,
            f"plane_mix_{n_st}",
            f"n_st = {n_st} plane, 9 x 9 cells x 4 rule shares (0 and 1: plane_coin_{n_st}, "
            f"plane_rule_{n_st}), 4 seeds, oracle teacher (rule with probability q on hard-only "
            "data, coin otherwise)",
        )
        for n_st in (1000, 3000)
    }
    | {
        # the coin plane's lower edge traced at the larger n_st, reduced where a run costs more
        f"trace_coin_{n_st}": _at(
            "trace_coin_300",
            n_st,
            seeds,
            f"trace_coin_{n_st}",
            f"lower edge of the n_st = {n_st} coin plane, traced along d/n_st per n_st·snr "
            f"column, {seeds} seeds",
            f"grid.n_st_snr={columns}",
        )
        for n_st, seeds, columns in (
            (1000, 8, "[0.3,0.53,0.95,1.7,3.0,5.3,9.5,17.0,30.0]"),  # the n_st = 300 trace's
            (3000, 4, "[0.95,1.7,3.0,5.3]"),  # the columns crossed at 300 and 1000 (11x a run)
            (10000, 2, "[1.7,3.0]"),  # sized for a GPU (a run costs about 11x one at 3000)
        )
    }
)

#: Headline planes first (README's figure), then the main job, then the other n_st.
ORDER = (
    "plane_coin",
    "plane_rule",
    "plane_limit_coin",
    "plane_limit_rule",
    "plane_trained",
    "paper",
    "plane_mix",
    "trace_coin_300",
    "plane_trained_1000",
    "plane_coin_1000",
    "plane_rule_1000",
    "trace_coin_1000",
    "boundary_d_coin",
    "mnist_coin",
    "paper_oracle",
    "boundary_d",
    "early_stopping_law",
    "plane_coin_3000",
    "plane_rule_3000",
    "plane_trained_3000",
    "plane_mix_1000",
    "plane_mix_3000",
    "trace_coin_3000",
    "trace_coin_10000",
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
    "paper_search",
    "paper_table",
    "early_stopping",
)

#: Studies that trace a class edge (`w2s trace`) rather than sweep a grid: name -> edge.
TRACES = {f"trace_coin_{n}": "lower" for n in (300, 1000, 3000, 10000)}


def sweep_args(name: str) -> list[str]:
    """The config file and `--set` flags of study `name` (the arguments of `w2s sweep` and
    `w2s trace`)."""
    base, overrides = VARIANTS.get(name, (name, ()))
    return [str(ROOT / "sweeps" / f"{base}.toml")] + [f for o in overrides for f in ("--set", o)]


def main(args: list[str]) -> int:
    into = ROOT / "studies"
    if args[:1] == ["--into"]:
        into, args = Path(args[1]).resolve(), args[2:]
    env = dict(os.environ, PYTHONPATH=str(ROOT))  # this checkout's package, not an editable one
    for name in args or ORDER:
        out = into / name
        print(f"== {name} -> {out}", flush=True)
        if name in TRACES:
            command = [sys.executable, "-m", "w2s_jax.cli", "trace", *sweep_args(name)]
            command += ["--edge", TRACES[name], "--out", str(out)]
        else:
            command = [sys.executable, "-m", "w2s_jax.cli", "sweep", *sweep_args(name)]
            command += ["--out", str(out)]
        code = subprocess.call(command, env=env)
        if code:
            return code
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
