"""What a results folder promises under faults: one writer at a time, one config per folder,
and a sweep killed anywhere (before, during or after a part's write, during the merge) and
resumed with another chunk size gives every column bit for bit as an uninterrupted run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
from _sweep_cases import TINY_TOML, tiny

from w2s_jax.cli.main import main
from w2s_jax.model.config import ConfigError
from w2s_jax.sweeping.driver import run_sweep
from w2s_jax.sweeping.store import Store

# One run a call, so chunk sizes 1, 2 and 7 cut the 8 runs into 8, 4 and 2 chunks.
CONFIG = TINY_TOML + "[sweep]\nlanes = 1\n"

# A child sweep that SIGKILLs itself at `point` of the second chunk's write (or the merge).
KILLER = textwrap.dedent("""
    import os, signal, sys
    from w2s_jax.sweeping.store import Store, atomic_write_parquet
    import w2s_jax.sweeping.store as store_module
    point = os.environ["KILL_AT"]
    die = lambda: os.kill(os.getpid(), signal.SIGKILL)
    write_chunk, merge = Store.write_chunk, Store.merge
    def killing_write_chunk(self, name, summary, trajectories):
        if len(self._finished()) == 1:
            if point == "before_part":
                die()
            if point == "inside_part":
                (self.parts / f".{name}.summary.parquet.tmp-{os.getpid()}").write_bytes(b"PAR1")
                die()
        write_chunk(self, name, summary, trajectories)
        if point == "after_part" and len(self._finished()) == 2:
            die()
    def killing_merge(self):
        if point == "merge":
            original = store_module.atomic_write_parquet
            def write_one_then_die(frame, path, numbers=None):
                original(frame, path, numbers)
                die()
            store_module.atomic_write_parquet = write_one_then_die
        return merge(self)
    Store.write_chunk, Store.merge = killing_write_chunk, killing_merge
    from w2s_jax.cli.main import main
    sys.exit(main(sys.argv[1:]))
""")


def _env(tmp_path, **extra):
    return dict(
        os.environ,
        # the suite's XLA flags (conftest), with one device
        XLA_FLAGS=re.sub(r"count=\d+", "count=1", os.environ["XLA_FLAGS"]),
        JAX_PLATFORMS="cpu",
        **extra,
    )


@pytest.fixture(scope="module")
def reference():
    """The uninterrupted sweep, in memory."""
    return run_sweep(tiny(sweep=dict(lanes=1)), devices=1, quiet=True)


def _assert_identical(out, reference):
    summary = pd.read_parquet(out / "summary.parquet")
    trajectories = pd.read_parquet(out / "trajectories.parquet")
    pd.testing.assert_frame_equal(summary, reference.summary, check_exact=True)
    pd.testing.assert_frame_equal(trajectories, reference.trajectories, check_exact=True)


@pytest.mark.parametrize("point", ["before_part", "inside_part", "after_part", "merge"])
def test_killed_anywhere_then_resumed_with_another_chunk_size(tmp_path, reference, point):
    config = tmp_path / "tiny.toml"
    config.write_text(CONFIG)
    out = tmp_path / "out"
    sweep = ["sweep", str(config), "--out", str(out), "--quiet"]
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, *sweep, "--chunk-size", "2"],
        env=_env(tmp_path, KILL_AT=point),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -9, killed.stderr
    # The kill needs a process of its own; the resume is the same code in this one (one device,
    # as in the child), and reuses this process's compiled program instead of a new interpreter.
    resumed = run_sweep(tiny(sweep=dict(lanes=1)), out, chunk_size=7, devices=1, quiet=True)
    done = dict(before_part=2, inside_part=2, after_part=4, merge=8)[point]  # chunks of 2
    assert (resumed.manifest["runs_resumed"], resumed.manifest["runs_computed"]) == (done, 8 - done)
    _assert_identical(out, reference)
    assert not [p for p in (out / "parts").iterdir() if p.name.startswith(".")]


def test_resume_at_chunk_size_1_then_7_mixes_nothing(tmp_path, reference, monkeypatch):
    out = tmp_path / "out"
    config = tiny(sweep=dict(lanes=1))
    calls = []
    original = Store.write_chunk

    def stop_after_three(self, name, summary, trajectories):
        original(self, name, summary, trajectories)
        calls.append(name)
        if len(calls) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(Store, "write_chunk", stop_after_three)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(config, out, chunk_size=1, devices=1, quiet=True)
    monkeypatch.setattr(Store, "write_chunk", original)
    result = run_sweep(config, out, chunk_size=7, devices=1, quiet=True)
    assert (result.manifest["runs_resumed"], result.manifest["runs_computed"]) == (3, 5)
    _assert_identical(out, reference)


def test_a_second_writer_is_refused_with_the_holders_pid(tmp_path, capsys):
    config = tmp_path / "tiny.toml"
    config.write_text(CONFIG)
    out = tmp_path / "out"
    out.mkdir()
    holder = Store(out)
    holder.acquire()  # another sweep at work in this folder
    try:
        code = main(["sweep", str(config), "--out", str(out), "--quiet"])
    finally:
        holder.release()
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert f"in use by another sweep (pid {os.getpid()})" in err[0]
    assert sorted(p.name for p in out.iterdir()) == [".w2s.lock"]  # nothing else written


def test_two_configs_into_one_folder_never_mix(tmp_path, capsys):
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    first.write_text(CONFIG)
    second.write_text(CONFIG.replace("T = 20", "T = 25"))
    out = tmp_path / "out"
    assert main(["sweep", str(first), "--out", str(out), "--quiet"]) == 0
    before = pd.read_parquet(out / "summary.parquet")
    assert main(["sweep", str(second), "--out", str(out), "--quiet"]) == 2
    assert "holds a sweep of a different config (differs in train)" in capsys.readouterr().err
    pd.testing.assert_frame_equal(pd.read_parquet(out / "summary.parquet"), before)


def test_a_stale_lock_of_a_killed_process_is_taken_over(tmp_path, reference):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".w2s.lock").write_text("999999999\n")  # a pid that holds no lock
    run_sweep(tiny(sweep=dict(lanes=1)), out, devices=1, quiet=True)
    _assert_identical(out, reference)


def test_a_part_of_another_config_is_refused(tmp_path, capsys):
    config = tmp_path / "tiny.toml"
    config.write_text(CONFIG)
    other = tmp_path / "other.toml"
    other.write_text(CONFIG.replace("T = 20", "T = 25"))
    out, foreign = tmp_path / "out", tmp_path / "foreign"
    assert main(["sweep", str(config), "--out", str(out), "--chunk-size", "4", "--quiet"]) == 0
    assert main(["sweep", str(other), "--out", str(foreign), "--chunk-size", "2", "--quiet"]) == 0
    part = sorted((foreign / "parts").glob("*.summary.parquet"))[0]
    shutil.copy(part, out / "parts" / part.name)  # a part the manifest does not account for
    capsys.readouterr()
    assert main(["sweep", str(config), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "was computed by another sweep" in err[0]


def test_a_corrupted_part_is_computed_again(tmp_path, reference):
    out = tmp_path / "out"
    config = tiny(sweep=dict(lanes=1))
    run_sweep(config, out, chunk_size=2, devices=1, quiet=True)
    part = sorted((out / "parts").glob("*.summary.parquet"))[1]
    part.write_bytes(b"not parquet at all")
    (out / "summary.parquet").unlink()
    result = run_sweep(config, out, chunk_size=2, devices=1, quiet=True)
    assert (result.manifest["runs_resumed"], result.manifest["runs_computed"]) == (6, 2)
    _assert_identical(out, reference)


def test_results_of_another_device_count_are_not_resumed(tmp_path):
    out = tmp_path / "out"
    config = tiny(sweep=dict(lanes=1))
    run_sweep(config, out, devices=1, quiet=True)
    with pytest.raises(ConfigError, match="computed on cpu with 1 device"):
        run_sweep(config, out, devices=2, quiet=True)
