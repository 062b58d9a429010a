"""The Ray engine on a local cluster started by the test gives the local engine's results."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from _sweep_cases import TINY_TOML, assert_same_results, tiny

from w2s_jax.cli.main import main
from w2s_jax.sweeping.driver import run_sweep

ray = pytest.importorskip("ray")
# Ray starts its processes with fork + exec, which JAX's fork warning cannot tell apart.
pytestmark = pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")


def test_unreachable_address_exits_2_with_one_line(tmp_path, capsys):
    assert not ray.is_initialized()  # the cluster fixture's is down after its test
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_TOML)
    out = tmp_path / "out"
    assert (
        main(
            ["sweep", str(config), "--out", str(out), "--engine", "ray", "--address", "127.0.0.1:1"]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "address: cannot reach" in err, err
    assert not out.exists()


@pytest.fixture
def cluster():
    """A one-CPU local cluster: one worker process, so each tier compiles once. Down again
    after its test, whatever order the tests run in."""
    ray.init(
        num_cpus=1,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=100 * 1024 * 1024,
    )
    yield
    ray.shutdown()


@pytest.mark.slow
def test_ray_engine_equals_local_engine(cluster, tmp_path):
    out = tmp_path / "ray"
    config = tiny(sweep=dict(lanes=1))  # one run a call on each device
    result = run_sweep(config, out, engine="ray", chunk_size=3, quiet=True)
    local = run_sweep(config, chunk_size=3, devices=1, quiet=True)
    assert_same_results(result.summary, local.summary)
    assert_same_results(result.trajectories, local.trajectories, ("cell", "seed", "step"))

    # One task per chunk (a worker's four devices take one run each: chunks of 3 round up to
    # 4), each writing its own parts; the driver merged them.
    parts = sorted(p.name for p in (out / "parts").glob("*.summary.parquet"))
    assert parts == ["0000000-0000003.summary.parquet", "0000004-0000007.summary.parquet"]
    pd.testing.assert_frame_equal(pd.read_parquet(out / "summary.parquet"), result.summary)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["engine"] == "ray" and manifest["status"] == "complete"
    assert [t["chunks"] for t in manifest["tiers"]] == [2]
    assert manifest["devices"]  # the workers' devices

    # Rerunning on the same DIR resumes: no task is submitted.
    again = run_sweep(config, out, engine="ray", chunk_size=3, quiet=True)
    assert (again.manifest["runs_computed"], again.manifest["runs_resumed"]) == (0, 8)
    assert_same_results(again.summary, result.summary)
