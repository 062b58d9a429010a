"""`w2s sweep`: the result files of docs/model.md#config, resuming, and every bad input as exit 2
with one
line and the results already in DIR untouched."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from _sweep_cases import SUMMARY_COLUMNS, TINY_TOML, snapshot, write_tiny

from w2s_jax.cli.main import main
from w2s_jax.training.records import RECORD_FIELDS


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A DIR holding a finished sweep of the tiny config (4 fake devices, chunks of 3)."""
    root = tmp_path_factory.mktemp("cli")
    config = write_tiny(root)
    out = root / "out"
    assert main(["sweep", str(config), "--out", str(out), "--chunk-size", "3", "--quiet"]) == 0
    return config, out


def test_sweep_writes_the_spec_files(finished):
    _, out = finished
    summary = pd.read_parquet(out / "summary.parquet")
    trajectories = pd.read_parquet(out / "trajectories.parquet")
    assert len(summary) == 4 * 2
    assert set(SUMMARY_COLUMNS) <= set(summary.columns)
    assert set(summary.status) == {"ok"}
    assert {"step", *RECORD_FIELDS, "n_st", "p_b", "p_e", "p_h", "seed"} <= set(
        trajectories.columns
    )
    assert len(trajectories) == 8 * 5  # steps 0, 5, 10, 15, 20
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["config"]["grid"] == {"n_st": [16, 24], "p_b": [0.2, 0.4]}
    assert manifest["grid"] == {"n_st": [16, 24], "p_b": [0.2, 0.4]}
    assert {"python", "jax", "jaxlib", "w2s_jax"} <= set(manifest["versions"])
    assert len(manifest["devices"]) == 4
    assert manifest["compile_s"] >= 0 and manifest["run_s"] >= 0
    assert [(t["lanes"], t["chunk_size"]) for t in manifest["tiers"]] == [(2, 8)]  # 4 devices


def test_rerun_resumes_and_shows_progress(finished, capsys):
    config, out = finished
    before = pd.read_parquet(out / "summary.parquet")
    assert main(["sweep", str(config), "--out", str(out), "--chunk-size", "3"]) == 0
    captured = capsys.readouterr()
    assert "8/8" in captured.err and "cell" in captured.err  # the tqdm bar, on stderr
    assert "0 computed, 8 resumed" in captured.out
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["runs_computed"], manifest["runs_resumed"]) == (0, 8)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "summary.parquet"), before)
    assert main(["sweep", str(config), "--out", str(out), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def _variant(old: str, new: str) -> str:
    assert old in TINY_TOML
    return TINY_TOML.replace(old, new)


BAD_CONFIGS = {
    "unknown key": (_variant("d = 32\n", "d = 32\nfoo = 1\n"), "data.foo: unknown key"),
    "wrong type": (_variant("m = 4\n", 'm = "four"\n'), "m: expected an integer"),
    "empty grid": (_variant("n_st = [16, 24]", "n_st = []"), "grid.n_st: empty list"),
    "p_h + p_b above one": (_variant("p_b = [0.2, 0.4]", "p_b = [0.2, 0.8]"), "p_h + p_b"),
    "p_e + p_h + p_b not one": (
        _variant("p_h = 0.3\n", "p_h = 0.3\np_e = 0.5\np_b = 0.4\n").replace(
            "p_b = [0.2, 0.4]\n", ""
        ),
        "must sum to 1",
    ),
    "fixed p_e against a swept p_b": (
        _variant("p_h = 0.3\n", "p_h = 0.3\np_e = 0.3\n"),
        "p_e + p_h + p_b: must sum to 1",
    ),
    "p_e as a grid axis": (
        _variant("p_b = [0.2, 0.4]", "p_e = [0.2, 0.4]"),
        "grid.p_e: unknown key",
    ),
    "non-positive size": (_variant("n_test = 64", "n_test = 0"), "n_test: must be"),
    "non-positive n_st": (_variant("n_st = [16, 24]", "n_st = [0, 24]"), "grid.n_st: must be"),
    "non-positive norm": (
        _variant("p_h = 0.3\n", "p_h = 0.3\nnu_norm = 0.0\n"),
        "nu_norm: must be > 0",
    ),
    "n_st above the maximum": (
        _variant("n_st = [16, 24]", "n_st = [16, 2000000]"),
        "n_st: must be an integer in [1, 1000000]",
    ),
    "malformed TOML": (_variant("[grid]", "[grid\n"), "is not valid TOML"),
    "another config in DIR": (_variant("seeds = 2", "seeds = 3"), "different config"),
}


def _check_refused(argv, out, message, capsys):
    before = snapshot(out)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert message in err, err
    assert err.startswith("w2s sweep: error: ") and "Traceback" not in err
    assert snapshot(out) == before


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_exits_2_with_one_line(case, finished, tmp_path, capsys):
    _, out = finished
    text, message = BAD_CONFIGS[case]
    config = tmp_path / "bad.toml"
    config.write_text(text)
    _check_refused(["sweep", str(config), "--out", str(out), "--quiet"], out, message, capsys)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--chunk-size", "0"], "--chunk-size: must be an integer in [1, 1e+07], got 0"),
        (["--address", "127.0.0.1:6379"], "address: only used with --engine ray"),
    ],
)
def test_bad_option_exits_2_with_one_line(extra, message, finished, capsys):
    config, out = finished
    _check_refused(
        ["sweep", str(config), "--out", str(out), "--quiet", *extra], out, message, capsys
    )


def test_unreadable_config_and_non_sweep_dir(finished, tmp_path, capsys):
    config, out = finished
    _check_refused(
        ["sweep", str(tmp_path / "missing.toml"), "--out", str(out)],
        out,
        "config: cannot read",
        capsys,
    )
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    _check_refused(
        ["sweep", str(config), "--out", str(other)], other, "not empty and holds no sweep", capsys
    )


def test_missing_ray_exits_2(finished, tmp_path, capsys, monkeypatch):
    config, out = finished
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    fresh = tmp_path / "fresh"
    _check_refused(
        ["sweep", str(config), "--out", str(fresh), "--engine", "ray"],
        fresh,
        "pip install 'w2s_jax[ray]'",
        capsys,
    )
    assert not fresh.exists()


@pytest.mark.parametrize("case", ["malformed TOML", "another config in DIR"])
def test_bad_input_in_a_real_process_has_no_traceback(case, finished, tmp_path):
    _, out = finished
    text, message = BAD_CONFIGS[case]
    config = tmp_path / "bad.toml"
    config.write_text(text)
    before = snapshot(out)
    done = subprocess.run(
        [sys.executable, "-m", "w2s_jax.cli", "sweep", str(config), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr
    assert snapshot(out) == before
