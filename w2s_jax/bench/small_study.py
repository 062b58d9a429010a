"""A start that does not keep users waiting: a small study's compile time, as `w2s sweep`.

`SMALL_STUDY` is the reference study of a user's first look: 4 `n_st` x 4 `p_b` x 2 seeds
(32 runs) at `d = 500`, `T = 300`, `m = 20`, with the other fields as in
`sweeps/plane_coin.toml` (Wishart Gram engine, 40 log-spaced records, `n_test = 1000`,
`n_wk = 1000`) but the default trained teacher. `small_study` writes it to a TOML file and
runs the `w2s sweep` command on it twice, each time in a fresh process: first with an empty
persistent compile cache (`cold`), then with the cache the first run filled (`warm`). Per
way: the command's wall time (imports and writing the store included: what the user waits),
the manifest's compile and running seconds, the programs compiled (one per tier) and the
compile share (compile seconds over the command's wall time). The two ways' summary and
trajectory tables are compared with `check_exact` (a program loaded from the cache must give
the numbers that the compiled one gave).

`XLA_FLAGS` of the calling process pass through to both commands, so the same study measures
an XLA flag against the default (run it twice, side by side).

Alone: `python -m w2s_jax.bench.small_study OUT.json [--smoke]`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["SMALL_STUDY", "SMALL_STUDY_SMOKE", "TARGET_SHARE", "small_study", "format_small_study"]

#: The reference small study (issue 33): 32 runs, one tier per n_max the planner chooses.
SMALL_STUDY = dict(
    name="small_study",
    description="a user's first study: 4 n_st x 4 p_b x 2 seeds at d = 500, T = 300",
    seeds=2,
    data=dict(d=500, nu_norm=1.0, mu_over_nu=1.0, p_h=0.3),
    train=dict(
        m=20, sigma_0=0.01, n_wk=1000, eta=2.0, T=300, record_schedule="log",
        record_points=40, n_test=1000, engine="gram", gram_noise="wishart",
    ),
    grid=dict(n_st=[100, 300, 1000, 3000], p_b=[0.2, 0.3, 0.4, 0.5]),
)  # fmt: skip
SMALL_STUDY_SMOKE = SMALL_STUDY | dict(
    name="small_study_smoke",
    seeds=1,
    data=SMALL_STUDY["data"] | dict(d=32),
    train=SMALL_STUDY["train"] | dict(m=2, n_wk=8, T=2, T_wk=2, n_test=16, record_points=2),
    grid=dict(n_st=[4, 8]),
)
#: The target: compile at most this share of the study's wall time, warm cache (a second
#: start of the same shapes). A cold cache is reported against it too.
TARGET_SHARE = 0.25


def _toml(config: dict) -> str:
    """A sweep config (top-level scalars, tables of scalars and lists) as TOML."""

    def value(v) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, str):
            return json.dumps(v)
        return repr(v)

    top = [f"{k} = {value(v)}" for k, v in config.items() if not isinstance(v, dict)]
    tables = [
        f"[{k}]\n" + "\n".join(f"{kk} = {value(vv)}" for kk, vv in v.items())
        for k, v in config.items()
        if isinstance(v, dict)
    ]
    return "\n".join(top) + "\n" + "\n".join(tables) + "\n"


def _sweep_command(config_file: Path, out: Path, cache: str) -> dict[str, Any]:
    """`w2s sweep CONFIG --out OUT --quiet` in a fresh process; its wall time and manifest."""
    env = dict(os.environ, W2S_CACHE_DIR=cache)
    command = [sys.executable, "-m", "w2s_jax.cli", "sweep", str(config_file)]
    start = time.perf_counter()
    done = subprocess.run(
        [*command, "--out", str(out), "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"w2s sweep failed:\n{done.stderr[-2000:]}")
    m = json.loads((out / "manifest.json").read_text())
    return dict(
        wall_s=wall,
        sweep_wall_s=m["wall_s"],
        compile_s=m["compile_s"],
        run_s=m["run_s"],
        programs=len(m["tiers"]),
        compile_share=m["compile_s"] / wall,
        tiers=[
            {k: t.get(k) for k in ("n_max", "runs", "lanes", "compile_s", "lower_s", "cache")}
            for t in m["tiers"]
        ],
    )


def _identical(a: Path, b: Path) -> bool:
    """The two stores' summary and trajectory tables, equal to the last bit."""
    import pandas as pd

    for table in ("summary.parquet", "trajectories.parquet"):
        try:
            pd.testing.assert_frame_equal(
                pd.read_parquet(a / table), pd.read_parquet(b / table), check_exact=True
            )
        except AssertionError:
            return False
    return True


def small_study(grid: dict = SMALL_STUDY, log=print) -> dict[str, Any]:
    """The study as `w2s sweep` twice, cold cache then warm, each in a fresh process."""
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="w2s-bench-small-") as folder:
        root = Path(folder)
        config_file = root / "small_study.toml"
        config_file.write_text(_toml(grid))
        cache = str(root / "cache")
        cold = _sweep_command(config_file, root / "cold", cache)
        log(
            f"  small study, cold cache: {cold['wall_s']:.1f} s, compile {cold['compile_s']:.1f} s "
            f"({cold['programs']} programs, share {cold['compile_share']:.2f})"
        )
        warm = _sweep_command(config_file, root / "warm", cache)
        log(
            f"  small study, warm cache: {warm['wall_s']:.1f} s, compile {warm['compile_s']:.1f} s "
            f"({warm['programs']} programs, share {warm['compile_share']:.2f})"
        )
        identical = _identical(root / "cold", root / "warm")
    return dict(
        fields=grid,
        runs=len(grid["grid"]["n_st"]) * len(grid["grid"].get("p_b", [0])) * grid["seeds"],
        cpu_count=os.cpu_count(),
        loadavg_start=load_start,
        loadavg_end=os.getloadavg(),
        xla_flags=os.environ.get("XLA_FLAGS", ""),
        cold=cold,
        warm=warm,
        target_share=TARGET_SHARE,
        warm_meets_target=warm["compile_share"] <= TARGET_SHARE,
        cold_meets_target=cold["compile_share"] <= TARGET_SHARE,
        cold_warm_identical=identical,
    )


def format_small_study(result: dict) -> str:
    """The small study as a Markdown table and its target line."""
    r = result
    lines = [
        f"small study ({r['runs']} runs as `w2s sweep`, each way in a fresh process; load "
        f"average {r['loadavg_start'][0]:.1f} -> {r['loadavg_end'][0]:.1f})",
        "",
        "| cache | wall s | compile s | run s | programs | compile share |",
        "|---|---|---|---|---|---|",
    ]
    for name in ("cold", "warm"):
        w = r[name]
        lines.append(
            f"| {name} | {w['wall_s']:.2f} | {w['compile_s']:.2f} | {w['run_s']:.2f} | "
            f"{w['programs']} | {w['compile_share']:.2f} |"
        )
    lines.append(
        f"\ntarget: compile <= {r['target_share']:.2f} of the wall time; warm "
        f"{'met' if r['warm_meets_target'] else 'NOT met'}, cold "
        f"{'met' if r['cold_meets_target'] else 'not met'}; cold and warm results "
        f"{'identical' if r['cold_warm_identical'] else 'DIFFER'}"
    )
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    """`python -m w2s_jax.bench.small_study OUT.json [--smoke]`: this part of `w2s bench`."""
    out = argv[0]
    result = small_study(SMALL_STUDY_SMOKE if "--smoke" in argv else SMALL_STUDY)
    print(format_small_study(result))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1:])
