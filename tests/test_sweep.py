"""The sweep engine against reference implementations (STYLE: vmapped == loop, chunked ==
unchunked, sharded == unsharded), plus its planning and failure modes."""

from __future__ import annotations

import jax
import numpy as np
import pandas as pd
import pytest
from _sweep_cases import SUMMARY_COLUMNS, TINY, assert_same_results, tiny

import w2s_jax as w2s
from w2s_jax.engines.run import run, run_key
from w2s_jax.model.config import ConfigError, split
from w2s_jax.sweeping import chunk as chunk_module
from w2s_jax.sweeping import local as local_module
from w2s_jax.sweeping.chunk import OutOfMemoryError
from w2s_jax.sweeping.config_file import load_config
from w2s_jax.sweeping.driver import run_sweep
from w2s_jax.sweeping.memory import MAX_AUTO_CHUNK, auto_chunk_size
from w2s_jax.sweeping.plan import expand, n_max_tiers, plan_tiers, smoke_config
from w2s_jax.sweeping.tables import summarize
from w2s_jax.training.records import RECORD_FIELDS

PARAMS = ["n_st", "p_b", "seed"]  # identify a run independently of its cell index


@pytest.fixture(scope="module")
def chunk3():
    """The reference sweep: chunks of 3 runs (8 runs: 3 + 3 + a remainder of 2), one device."""
    return run_sweep(TINY, chunk_size=3, devices=1, quiet=True)


# --- planning -------------------------------------------------------------------------------


def test_n_max_tiers_minimize_padding_plus_compiles():
    assert n_max_tiers([75, 300, 2000, 20000], 3) == [300, 2000, 20000]
    assert n_max_tiers([75, 300, 2000, 20000], 1) == [20000]
    assert n_max_tiers([100] * 5 + [10_000], 3) == [100, 10_000]
    # A compile that costs more than the padding it saves merges tiers.
    assert n_max_tiers([32, 64, 128, 256], 3, tier_cost=0) == [64, 128, 256]
    assert len(n_max_tiers([32, 64, 128, 256], 3, tier_cost=200)) == 2
    assert n_max_tiers([32, 64, 128, 256], 3, tier_cost=10_000) == [256]


def test_plan_tiers_split_static_shapes_and_n_max():
    config = load_config(tiny(grid=dict(n_st=[16, 100, 1000], d=[32, 64], T=[20, 40])))
    runs = expand(config)
    tiers = plan_tiers(runs, max_tiers=2, platform="cpu")
    shapes = {(t.static.d, t.static.T) for t in tiers}
    assert shapes == {(32, 20), (32, 40), (64, 20), (64, 40)}
    for tier in tiers:
        assert all(r.train.n_st <= tier.static.n_max for r in tier.runs)
        assert all((r.data.d, r.train.T) == (tier.static.d, tier.static.T) for r in tier.runs)
    assert sorted(r.index for t in tiers for r in t.runs) == list(range(config.n_cells * 2))
    # Tiny shapes on a CPU: the padding costs less than a compile, one tier per shape.
    assert len(tiers) == 4
    # On a slow device every n_max gets its own tier, up to max_tiers per shape.
    slow = plan_tiers(runs, max_tiers=2, platform="unknown", n_devices=1e-9)
    assert sorted({t.static.n_max for t in slow}) == [100, 1000] and len(slow) == 8


def test_auto_chunk_size_fits_budget_and_devices():
    assert auto_chunk_size(per_run_bytes=100, budget_bytes=1000, n_devices=1, n_runs=50) == 10
    assert auto_chunk_size(100, 1000, 4, 50) == 40  # ten per device, four devices
    assert auto_chunk_size(100, 10**12, 4, 50) == 52  # no larger than the padded tier
    assert auto_chunk_size(100, 10**12, 1, 10**9) == MAX_AUTO_CHUNK
    assert auto_chunk_size(10**9, 1, 4, 50) == 4  # at least one run per device


def test_smoke_config_shrinks_and_stays_valid():
    config = load_config("sweeps/calibration.toml")
    small = smoke_config(config)
    runs = expand(small)
    assert small.name == "calibration-smoke" and small.seeds == 2
    assert max(r.data.d for r in runs) <= 64 and max(r.train.n_st for r in runs) <= 256
    assert max(r.train.T for r in runs) <= 60 and max(r.train.n_test for r in runs) <= 256
    assert set(small.grid) == set(config.grid)


# --- the engine against references ----------------------------------------------------------


def test_vmapped_sweep_equals_loop_of_single_runs(chunk3):
    config = load_config(TINY)
    single = jax.jit(run, static_argnums=0)
    summary, trajectories = chunk3.summary, chunk3.trajectories
    assert len(summary) == config.n_cells * config.seeds == 8
    for c, cell in enumerate(config.cells()):
        data, train = config.configs(cell)
        static, params = split(data, train)  # unpadded: n_max = n_st
        for seed in range(config.seeds):
            traj = single(static, params, run_key(config.base_seed, seed))
            row = summary[(summary.cell == c) & (summary.seed == seed)].iloc[0]
            expected = summarize(static.record_steps, traj)
            for key in (
                "weak_test_acc",
                "pseudo_label_acc",
                "final_test_acc",
                "final_train_acc_pseudo",
                "best_test_acc",
            ):
                np.testing.assert_allclose(row[key], expected[key], atol=1e-6, err_msg=key)
            assert row["status"] == expected["status"]
            rows = trajectories[(trajectories.cell == c) & (trajectories.seed == seed)]
            assert rows["step"].tolist() == list(static.record_steps)
            for key in RECORD_FIELDS:
                np.testing.assert_allclose(
                    rows[key].to_numpy(),
                    np.asarray(getattr(traj, key)),
                    rtol=1e-4,
                    atol=1e-5,
                    err_msg=key,
                )


def test_chunk_sizes_agree_bit_for_bit(chunk3, monkeypatch):
    # Two lanes a call, so chunk sizes 1, 3 and auto make 4, 2 and 1 chunks of the same groups.
    monkeypatch.setattr(chunk_module, "LANE_BUDGET", {"cpu": (1 << 40, 2)})
    traces = []
    monkeypatch.setattr(chunk_module, "run", lambda *a: traces.append(1) or run(*a))
    one = run_sweep(TINY, chunk_size=1, devices=1, quiet=True)
    assert len(traces) <= 1  # four chunks, at most one trace (none if already cached)
    three = run_sweep(TINY, chunk_size=3, devices=1, quiet=True)
    auto = run_sweep(TINY, devices=1, quiet=True)
    assert [t["lanes"] for t in one.manifest["tiers"]] == [2]
    assert [t["chunks"] for t in one.manifest["tiers"]] == [4]
    assert [t["chunk_size"] for t in three.manifest["tiers"]] == [4]  # rounded up to groups
    assert [t["chunks"] for t in auto.manifest["tiers"]] == [1]
    for other in (three, auto):
        pd.testing.assert_frame_equal(other.summary, one.summary, check_exact=True)
        pd.testing.assert_frame_equal(other.trajectories, one.trajectories, check_exact=True)
    # Another width is another order of summation: equal up to float32 rounding only.
    assert_same_results(one.trajectories, chunk3.trajectories, ("cell", "seed", "step"))


def test_a_width_of_one_is_the_run_itself():
    # Not a vmap of one, which XLA runs at another rate and with other last bits: the one-lane
    # program's outputs are `run`'s on the tier's (padded) shapes, bit for bit.
    config = load_config(TINY)
    (tier,) = plan_tiers(expand(config), platform="cpu")
    program = chunk_module.program_for(tier.static, 1, jax.local_devices()[:1], tier.runs)
    single = jax.jit(run, static_argnums=0)
    for r in tier.runs[:3]:
        (out,) = program([r], config.base_seed)
        params, _ = chunk_module.stack_params([r], 1, tier.static.dtype)
        params = jax.tree.map(lambda a: a[0], params)
        traj = single(tier.static, params, run_key(config.base_seed, r.seed))
        for key in chunk_module.OUTPUT_FIELDS:
            np.testing.assert_array_equal(out[key][0], getattr(traj, key), err_msg=key)


def test_lanes_depend_on_the_tier_and_platform_only():
    config = load_config(TINY)
    (tier,) = plan_tiers(expand(config), platform="cpu")
    assert chunk_module.lanes_for(tier.static, len(tier.runs), "cpu") == 8  # 8 runs
    assert chunk_module.lanes_for(tier.static, 1000, "cpu") == 64
    assert chunk_module.lanes_for(tier.static, 1000, "gpu") == 1024
    assert chunk_module.lanes_for(tier.static, 8, "cpu", n_devices=4) == 2
    assert chunk_module.lanes_for(tier.static._replace(n_max=10**6, d=10**5), 10, "cpu") == 1


def test_cells_do_not_depend_on_the_rest_of_the_grid(chunk3):
    # More cells, and the axes listed in another order: the original cells are unchanged.
    bigger = run_sweep(
        tiny(grid=dict(p_b=[0.4, 0.6, 0.2], n_st=[24, 16])), chunk_size=3, devices=1, quiet=True
    )
    assert len(bigger.summary) == 12
    common = bigger.summary.merge(chunk3.summary[PARAMS], on=PARAMS)
    assert len(common) == 8
    drop = ["cell"]
    assert_same_results(common.drop(columns=drop), chunk3.summary.drop(columns=drop), PARAMS)
    traj = bigger.trajectories.merge(chunk3.trajectories[PARAMS + ["step"]], on=PARAMS + ["step"])
    assert_same_results(
        traj.drop(columns=drop), chunk3.trajectories.drop(columns=drop), PARAMS + ["step"]
    )


def test_sharded_over_four_devices_equals_unsharded(chunk3):
    assert len(jax.local_devices()) == 4
    sharded = run_sweep(TINY, chunk_size=3, quiet=True)  # 8 runs: two lanes on each device
    assert len(sharded.manifest["devices"]) == 4
    assert [(t["lanes"], t["chunk_size"]) for t in sharded.manifest["tiers"]] == [(2, 8)]
    assert_same_results(sharded.summary, chunk3.summary)
    assert_same_results(sharded.trajectories, chunk3.trajectories, ("cell", "seed", "step"))


def test_diverged_cell_is_marked_and_does_not_disturb_others(chunk3):
    result = run_sweep(
        tiny(grid=dict(n_st=[24], p_b=[0.4], eta=[3e38, 0.5])), chunk_size=3, devices=1, quiet=True
    )
    summary = result.summary
    assert (summary[summary.eta > 1].status == "diverged").all()
    records = result.trajectories
    assert not records[(records.eta > 1) & (records.step > 0)].finite.any()
    assert records[records.eta == 0.5].finite.all()
    fine = summary[summary.eta == 0.5].drop(columns=["cell"])
    reference = chunk3.summary[(chunk3.summary.n_st == 24) & (chunk3.summary.p_b == 0.4)]
    assert (fine.status == "ok").all()
    assert_same_results(fine, reference.drop(columns=["cell"]), ["seed"])


def test_python_api_returns_frames_with_spec_columns(chunk3):
    summary, trajectories = w2s.sweep(TINY, chunk_size=3, devices=1, quiet=True)
    assert isinstance(summary, pd.DataFrame) and isinstance(trajectories, pd.DataFrame)
    for column in SUMMARY_COLUMNS:
        assert column in summary.columns, column
    for column in ("n_st", "p_b", "p_e", "seed", "step", *RECORD_FIELDS):
        assert column in trajectories.columns, column
    expected_tau = (
        summary.n_st * summary.p_b**2 * summary.nu_norm**4 / (summary.sigma_p**4 * summary.d)
    )
    np.testing.assert_allclose(summary.tau, expected_tau)
    np.testing.assert_allclose(summary.p_e, 1 - summary.p_h - summary.p_b)
    assert_same_results(summary, chunk3.summary)


# --- memory ---------------------------------------------------------------------------------


def test_auto_chunk_shrinks_to_the_memory_budget(chunk3, monkeypatch):
    monkeypatch.setattr(local_module, "memory_budget", lambda device, n: 1)
    result = run_sweep(TINY, devices=1, quiet=True)
    assert [t["chunk_size"] for t in result.manifest["tiers"]] == [8]  # one group of 8 lanes
    assert_same_results(result.summary, chunk3.summary)


def test_out_of_memory_says_what_fits_and_keeps_finished_chunks(chunk3, tmp_path, monkeypatch):
    calls = []
    original = chunk_module.ChunkProgram.__call__

    def failing(self, runs, base_seed):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 9 GB")
        return original(self, runs, base_seed)

    monkeypatch.setattr(chunk_module.ChunkProgram, "__call__", failing)
    monkeypatch.setattr(chunk_module, "LANE_BUDGET", {"cpu": (1 << 40, 4)})
    with pytest.raises(OutOfMemoryError, match=r"group of 4 run\(s\) per device .*wishart"):
        run_sweep(TINY, tmp_path, chunk_size=3, devices=1, quiet=True)
    assert len(list((tmp_path / "parts").glob("*.summary.parquet"))) == 1


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="chunk_size"):
        run_sweep(TINY, chunk_size=0, quiet=True)
    with pytest.raises(ConfigError, match="max_tiers"):
        run_sweep(TINY, max_tiers=-1, quiet=True)
    with pytest.raises(ConfigError, match="engine"):
        run_sweep(TINY, engine="spark", quiet=True)
    with pytest.raises(ConfigError, match="devices"):
        run_sweep(TINY, devices=99, quiet=True)


def test_split_matches_config_objects():
    # The sweep fills Params from the configs exactly as `split` does.
    from w2s_jax.sweeping.plan import stack_params

    config = load_config(TINY)
    runs = expand(config)
    params, seeds = stack_params(runs[:3], 4, "float32")
    for i, r in enumerate(runs[:3] + [runs[2]]):
        _, expected = split(r.data, r.train)
        for name, leaf in zip(expected._fields, expected):
            np.testing.assert_allclose(getattr(params, name)[i], np.asarray(leaf), rtol=1e-7)
        assert seeds[i] == r.seed
