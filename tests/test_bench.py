"""`w2s bench --smoke` runs and writes every field; no timing is asserted (shared CI machines)."""

import json

import pytest

from w2s_jax.bench.limit import LIMIT, grid_runs
from w2s_jax.cli.main import main
from w2s_jax.sweeping.config_file import load_config
from w2s_jax.sweeping.plan import expand

MODE_FIELDS = {
    "mode",
    "cells",
    "n_st",
    "d",
    "seconds",
    "cells_per_s",
    "compile_s",
    "flops",
    "flop_share",
    "peak_bytes",
}


@pytest.mark.slow
def test_bench_smoke_writes_every_field(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "--smoke", "--out", str(out)]) == 0
    assert "cells/s" in capsys.readouterr().out
    result = json.loads(out.read_text())
    assert {
        "device",
        "matmul",
        "grid",
        "wide",
        "scaling",
        "profile",
        "wishart_flatness",
        "max_rss_bytes",
        "loadavg_start",
    } <= set(result)
    assert result["matmul"]["flops_per_s"] > 0
    assert set(result["grid"]["modes"]) == {"loop", "vmap_direct", "vmap_gram"}
    assert set(result["wide"]["modes"]) == {"loop", "vmap_direct", "vmap_gram", "vmap_wishart"}
    for study in ("grid", "wide"):
        for key in ("ratio_b_over_a", "ratio_c_over_a"):
            assert result[study][key] > 0
        for row in result[study]["modes"].values():
            assert set(row) >= MODE_FIELDS
            assert row["cells_per_s"] > 0
    assert result["wide"]["ratio_c_over_b"] > 0
    for axis in ("cells", "n_st", "d", "d_wishart"):
        assert result["scaling"][axis]
        for row in result["scaling"][axis]:
            assert set(row) >= MODE_FIELDS
    assert {p["engine"] for p in result["profile"]} == {"direct", "gram"}
    (profile,) = result["wishart_profile"]
    for part in ("run", "factor", "gram_blocks", "noise_product"):
        assert profile[part]["seconds"] >= 0, part
    path = result["sweep_path"]
    assert path["run_s"] > 0 and path["flop_floor_s"] > 0 and path["efficiency"] > 0
    assert set(path["parts"]) == {"sample", "teacher", "noise_gram", "train"}
    assert all(p["later_s"] > 0 for p in path["parts"].values())
    for part in ("step", "evaluation", "host_transfer"):  # differences: None if not separable
        assert profile[part]["seconds"] is None or profile[part]["seconds"] > 0, part
    assert profile["run"]["share"] > 0 and profile["noise_product"]["share"] > 0
    cold = result["cold_start"]
    assert cold["runs"] == 2 and cold["loop"]["compiles"] == 2 and cold["sweep"]["compiles"] == 1
    assert cold["sweep"]["cache"] == ["miss"] and cold["sweep_cached"]["cache"] == ["hit"]
    assert cold["max_final_test_acc_difference"] < 1e-6  # the loop and the sweep agree
    assert cold["ratio_sweep_over_loop"] > 0 and cold["second_sweep_compile_s"] >= 0
    small = result["small_study"]
    assert small["runs"] == 2 and small["cold_warm_identical"]
    for way in ("cold", "warm"):
        fields = {"wall_s", "compile_s", "run_s", "programs", "compile_share", "tiers"}
        assert fields <= set(small[way]), way
        assert small[way]["programs"] == 1 and small[way]["wall_s"] > small[way]["compile_s"] > 0
        assert 0 < small[way]["compile_share"] < 1
    assert [t["cache"] for t in small["cold"]["tiers"]] == ["miss"]
    assert [t["cache"] for t in small["warm"]["tiers"]] == ["hit"]
    assert {"target_share", "warm_meets_target", "cold_meets_target"} <= set(small)
    limit = result["limit"]
    assert set(limit["equal_n_st"]["seconds"]) == {"limit", "wishart"}
    assert min(limit["equal_n_st"]["seconds"].values()) > 0
    assert limit["equal_n_st"]["ratio_wishart_over_limit"] > 0
    assert limit["grid"]["runs"] == 4 and limit["grid"]["runs_per_s"] > 0


def test_a_profile_part_within_the_timings_spread_is_not_separable():
    from w2s_jax.bench.wishart_profile import Timing, difference

    assert difference(Timing(3.0, 0.1), Timing(1.0, 0.1), per=4) == 0.5
    # 49.6 s against a 47 s setup, each with a 2 s spread: 40 steps cannot be read from it
    assert difference(Timing(49.6, 2.0), Timing(47.0, 2.0), per=40) is None
    assert difference(Timing(1.0, 0.0), Timing(1.0, 0.0)) is None


def test_the_limit_study_compares_at_n_st_4000_and_times_a_grid_of_10_4_runs():
    assert LIMIT.equal["n_st"] == 4000
    config = load_config(LIMIT.grid)  # a valid sweep, on the limit engine, of 10^4 runs
    assert config.train["engine"] == "limit"
    assert len(expand(config)) == grid_runs(LIMIT.grid) >= 10**4


def test_profile_fusions_script_lists_the_step_operations(capsys):
    """scripts/profile_fusions.py: the profiler's operations of one tiny limit run, each a
    table row with its count; an operation of the training loop runs once a step."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "scripts" / "profile_fusions.py"
    spec = importlib.util.spec_from_file_location("profile_fusions", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.main(["--n-st", "8", "--T", "5", "--top", "40"])
    out = capsys.readouterr().out
    total = float(out.splitlines()[0].split(":")[-1].split("ms")[0])
    assert total > 0
    lines = out.splitlines()
    rows = [line.split("|") for line in lines if line.startswith("| ") and "---" not in line]
    counts = [int(row[2]) for row in rows[1:]]
    assert 5 in counts  # the step's operations, once for each of the T = 5 steps
