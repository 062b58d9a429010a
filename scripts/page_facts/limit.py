"""docs/limit.md: the limit engine's speed, from `w2s bench`'s committed measurement
(`benchmarks/bench-cpu-2core.json`). The page's convergence table is a one-off measurement that
no committed data holds; it stays in the template, said to be so."""

from __future__ import annotations

import json

from figures import ROOT, power

BENCH = ROOT / "benchmarks" / "bench-cpu-2core.json"
FIELDS = ("run", "limit_s", "wishart_s", "ratio", "runs", "axes", "seeds", "rate")


def facts(draw: bool = False) -> tuple[dict[str, str], list[str]]:
    if not BENCH.exists():
        text = "*(not measured: `w2s bench` writes `benchmarks/bench-cpu-2core.json`)*"
        return {f"limit_bench_{k}": text for k in FIELDS}, []
    limit = json.loads(BENCH.read_text())["limit"]
    one, grid = limit["equal_n_st"], limit["grid"]
    f = one["fields"]
    run = f"`n_st = {f['n_st']}`, `m = {f['m']}`, `n_wk = {f['n_wk']}`, `T = {f['T']}`"
    if f.get("record_schedule") == "log":
        run += f", {f['record_points']} log-spaced records"
    axes = grid["axes"]
    n_st = axes.get("n_st", [])
    others = [f"`{a}`" for a in axes if a != "n_st"]
    return {
        "limit_bench_run": run,
        "limit_bench_limit_s": f"{one['seconds']['limit']:.3g} s",
        "limit_bench_wishart_s": f"{one['seconds']['wishart']:.3g} s",
        "limit_bench_ratio": f"{one['ratio_wishart_over_limit']:.1f}×",
        "limit_bench_runs": _power(grid["runs"]),
        "limit_bench_axes": f"`n_st` {min(n_st)}–{max(n_st)} × " + " × ".join(others),
        "limit_bench_seeds": str(grid["seeds"]),
        "limit_bench_rate": f"{grid['runs_per_s']:.1f} runs/s",
    }, []


def _power(n: int) -> str:
    """10⁴ for 10000, else the number."""
    digits = str(n)
    if digits.startswith("1") and set(digits[1:]) == {"0"}:
        return power(n)
    return f"{n:,}"
