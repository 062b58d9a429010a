"""The results store: atomic parts, resume, refusal of another config, and a SIGKILL mid-sweep."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
from _sweep_cases import TINY, TINY_TOML, tiny

from w2s_jax.model.config import ConfigError
from w2s_jax.sweeping.config_file import load_config
from w2s_jax.sweeping.driver import run_sweep
from w2s_jax.sweeping.store import Store


def _tables(cells, seeds=2, steps=(0, 5)):
    summary = pd.DataFrame(
        {
            "cell": [c for c in cells for _ in range(seeds)],
            "seed": [s for _ in cells for s in range(seeds)],
            "x": 1.0,
        }
    )
    trajectories = summary.loc[summary.index.repeat(len(steps))].reset_index(drop=True)
    trajectories["step"] = list(steps) * len(summary)
    return summary, trajectories


def test_store_refuses_other_contents_unless_forced(tmp_path):
    config = load_config(TINY).to_dict()
    Store(tmp_path / "new").check(config)  # a missing directory is fine
    (tmp_path / "empty").mkdir()
    Store(tmp_path / "empty").check(config)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty and holds no sweep"):
        Store(tmp_path).check(config)
    Store(tmp_path).check(config, force=True)
    with pytest.raises(ConfigError, match="not a directory"):
        Store(tmp_path / "notes.txt").check(config)

    store = Store(tmp_path / "run")
    store.begin({"config": config})
    store.check(config)  # the same config resumes
    store.check(config | {"sweep": {"chunk_size": 7}})  # [sweep] only tunes chunking
    other = load_config(tiny(seeds=3)).to_dict()
    with pytest.raises(ConfigError, match="different config .*seeds.*--force"):
        store.check(other)


def test_force_removes_only_sweep_files(tmp_path):
    store = Store(tmp_path)
    store.begin({"config": {}})
    store.write_chunk("0000000-0000001", *_tables([0]))
    (tmp_path / "notes.txt").write_text("mine")
    store.begin({"config": {"seeds": 3}}, force=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert store.done_runs(2) == set()
    assert json.loads((tmp_path / "manifest.json").read_text()) == {"config": {"seeds": 3}}


def test_chunks_are_atomic_and_merge_ignores_unfinished_parts(tmp_path):
    store = Store(tmp_path)
    store.begin({"config": {}})
    store.write_chunk("0000002-0000003", *_tables([1]))
    store.write_chunk("0000000-0000001", *_tables([0]))
    # A chunk killed between its two writes leaves a trajectory part and no summary part;
    # a killed write leaves a temporary file. Neither counts.
    _, orphan = _tables([2])
    orphan.to_parquet(store.parts / "0000004-0000005.trajectories.parquet")
    (store.parts / ".0000006-0000007.summary.parquet.tmp-1").write_bytes(b"partial")
    assert store.done_runs(seeds=2) == {0, 1, 2, 3}
    summary, trajectories = store.merge()
    assert summary[["cell", "seed"]].values.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert len(trajectories) == 8 and set(trajectories.cell) == {0, 1}
    assert sorted(p.name for p in store.parts.iterdir()) == [
        "0000000-0000001.summary.parquet",
        "0000000-0000001.trajectories.parquet",
        "0000002-0000003.summary.parquet",
        "0000002-0000003.trajectories.parquet",
    ]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "summary.parquet"), summary)


# The sweep runs in a child process that SIGKILLs itself in the middle of the second chunk,
# after its trajectory part is written and before its summary part: one chunk is finished.
KILLER = textwrap.dedent("""
    import os, signal, sys
    from w2s_jax.sweeping.store import Store
    original = Store.write_chunk
    def write_chunk(self, name, summary, trajectories):
        if len(self._finished()) == 1:
            trajectories.to_parquet(self.parts / f"{name}.trajectories.parquet")
            os.kill(os.getpid(), signal.SIGKILL)
        original(self, name, summary, trajectories)
    Store.write_chunk = write_chunk
    from w2s_jax.cli.main import main
    sys.exit(main(sys.argv[1:]))
""")


@pytest.mark.slow
def test_sigkill_mid_sweep_then_rerun_finishes_without_redoing_chunks(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_TOML + "[sweep]\nlanes = 1\n")  # one run a call: chunks of 3
    out = tmp_path / "out"
    env = dict(
        os.environ,
        # the suite's XLA flags (conftest), with one device
        XLA_FLAGS=re.sub(r"count=\d+", "count=1", os.environ["XLA_FLAGS"]),
        JAX_PLATFORMS="cpu",
        JAX_COMPILATION_CACHE_DIR=str(tmp_path / "jax-cache"),
        JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
        JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0",
    )
    args = ["sweep", str(config), "--out", str(out), "--chunk-size", "3", "--quiet"]

    killed = subprocess.run(
        [sys.executable, "-c", KILLER, *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert killed.returncode == -9, killed.stderr
    finished = sorted((out / "parts").glob("*.summary.parquet"))
    assert [p.name for p in finished] == ["0000000-0000002.summary.parquet"]
    assert not (out / "summary.parquet").exists()
    stamp = {
        p.name: (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in (out / "parts").iterdir()
        if p.name.startswith("0000000-")
    }

    # The kill needs a process of its own; the rerun is the same code in this one (one device).
    run_sweep(config, out, chunk_size=3, devices=1, quiet=True)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert (manifest["runs_resumed"], manifest["runs_computed"]) == (3, 5)
    assert {
        p.name: (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in (out / "parts").iterdir()
        if p.name.startswith("0000000-")
    } == stamp  # the finished chunk was not redone

    reference = run_sweep(tiny(sweep=dict(lanes=1)), chunk_size=3, devices=1, quiet=True)
    summary = pd.read_parquet(out / "summary.parquet")
    trajectories = pd.read_parquet(out / "trajectories.parquet")
    pd.testing.assert_frame_equal(summary, reference.summary, check_exact=True)
    pd.testing.assert_frame_equal(trajectories, reference.trajectories, check_exact=True)
    assert len(trajectories) == 8 * 5  # no duplicate rows from the half-written chunk


def test_the_manifest_names_the_commit_it_ran_on():
    """`code_version` is the checkout's HEAD (what a study's manifest records as `code`)."""
    import subprocess
    from pathlib import Path

    from w2s_jax.sweeping.store import code_version

    root = Path(__file__).parents[1]
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    head = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert code_version()["commit"] == head


def test_the_manifest_states_the_sweeps_efficiency(tmp_path):
    """`flop_floor_s` is the computed runs' analytic flops over the matrix-product rate
    measured in the process (`matmul_gflops`), `efficiency` that floor over the running time
    and `compile_share` the compile time over the wall time; a resumed sweep counts only
    the runs it computed."""
    from w2s_jax.engines.cost import run_flops
    from w2s_jax.sweeping.plan import MAX_TIERS, expand, plan_tiers

    config = load_config(tiny(seeds=1))
    run_sweep(config, tmp_path / "out", devices=1, quiet=True)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    tiers = plan_tiers(expand(config), MAX_TIERS, "cpu", 1)
    flops = sum(run_flops(t.static) * len(t.runs) for t in tiers)
    rate = manifest["matmul_gflops"] * 1e9
    assert manifest["flop_floor_s"] == pytest.approx(flops / rate, rel=0.01)
    running = manifest["wall_s"] - manifest["compile_s"]
    assert manifest["efficiency"] == pytest.approx(manifest["flop_floor_s"] / running, rel=0.02)
    assert 0 < manifest["efficiency"] < 1.5
    compile_share = manifest["compile_s"] / manifest["wall_s"]
    assert manifest["compile_share"] == pytest.approx(compile_share, abs=1e-3)

    (tmp_path / "out" / "summary.parquet").unlink()  # resume with nothing left to compute
    run_sweep(config, tmp_path / "out", devices=1, quiet=True)
    resumed = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert resumed["runs_computed"] == 0
    assert resumed["flop_floor_s"] is None and resumed["efficiency"] is None


def test_efficiency_is_not_recorded_where_the_runs_ran_elsewhere():
    """Ray's workers ran the runs on devices of their own: no rate, floor or share."""
    from w2s_jax.sweeping.efficiency import efficiency_fields

    fields = efficiency_fields({"float32": 1e9}, 10.0, 10.0, 30.0, local=False)
    assert set(fields.values()) == {None}
    assert set(fields) == {"flop_floor_s", "matmul_gflops", "efficiency", "compile_share"}
