"""Bad input to the `w2s` commands: exit 2, one line on stderr naming the key the user wrote,
no traceback, no warning before it, and nothing written or changed on disk."""

from __future__ import annotations

import json
import os
import re
import warnings

import _synthetic as S
import pytest
from _sweep_cases import TINY_TOML, refused

from w2s_jax.model.config import ConfigError
from w2s_jax.sweeping import compile_cache
from w2s_jax.sweeping.config_file import load_config


# Theory coordinates beside bad raw fields: the raw field is named, before any arithmetic.
@pytest.mark.parametrize(
    "data, train, grid, message",
    [
        (dict(tau=1.0, snr=0.01), dict(n_st=0), {}, "train.n_st: must be an integer in [1,"),
        (dict(tau=1.0, snr=0.01), {}, dict(n_st=[0]), "grid.n_st: must be an integer in [1,"),
        (dict(tau=1.0, d=100), dict(n_st=-5), {}, "train.n_st: must be an integer in [1,"),
        (dict(tau=1.0, snr=0.01, p_b=float("nan")), {}, {}, "data.p_b: must be finite"),
        ({}, dict(eta_rel=0.5, m="x"), {}, "train.m: expected an integer, got 'x'"),
        (dict(tau=1.0, snr=0.01, p_b="x"), {}, {}, "data.p_b: expected a number"),
        (dict(tau=1.0, snr=0.01, sigma_p=-1.0), {}, {}, "data.sigma_p: must be > 0"),
        (dict(d_over_n=0.1), dict(n_st=20), {}, "data.d_over_n: gives d = 2, below the minimum 8"),
        ({}, dict(eta_rel=0.5, n_st=0), {}, "train.n_st: must be an integer in [1,"),
    ],
)
def test_raw_fields_are_checked_before_coordinates_resolve(data, train, grid, message):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ConfigError) as info:
            load_config(dict(data=data, train=train, grid=grid))
    assert str(info.value).startswith(message), info.value


@pytest.mark.parametrize(
    "section, key, value, message",
    [
        ("train", "eta", 1e39, "eta: must be <= 3.403e+38, the largest float32"),
        ("data", "nu_norm", 1e39, "nu_norm: must be <= 3.403e+38"),
        ("train", "eta_rel", 1e300, "eta_rel: must be <= 3.403e+38"),
        ("data", "tau", 1e300, "tau: must be <= 3.403e+38"),
        ("data", "sigma_p", 1e-300, "sigma_p: must be >= 1.175e-38, the smallest normal float32"),
        ("data", "d", 1e300, "d: must be an integer in [8, 1e+15], got 1e+300"),
    ],
)
def test_values_beyond_the_dtype_arerefused(section, key, value, message):
    fields = dict(snr=0.01) if key == "tau" else {}
    with pytest.raises(ConfigError, match="^" + re.escape(f"{section}.{message}")):
        load_config({section: fields | {key: value}})


def test_a_resolved_value_beyond_the_dtype_names_its_coordinate():
    # tau and d give nu_norm = sigma_p (tau d / (n_st p_b²))^(1/4), far above float32.
    with pytest.raises(ConfigError, match=r"^data\.tau: gives nu_norm = .*float32"):
        load_config(dict(data=dict(tau=1e38, d=10**15, sigma_p=1e30), train=dict(n_st=1)))


@pytest.mark.parametrize(
    "top, message",
    [
        ("seeds = 10000000000000", "seeds: must be an integer in [1, 1e+07], got 1e+13"),
        (
            "seeds = 2\nbase_seed = 18446744073709551615",
            "base_seed: must be an integer in [0, 4294967294]",
        ),
        ("seeds = 3000000", "seeds: 4 cells × 3000000 seeds = 12000000 runs, above the maximum"),
    ],
)
def test_counts_and_seeds_are_bounded_before_anything_is_written(top, message, tmp_path, capsys):
    config = tmp_path / "big.toml"
    config.write_text(TINY_TOML.replace("seeds = 2", top))
    refused(["sweep", config, "--out", tmp_path / "out"], message, capsys, tmp_path)


def test_binary_empty_and_blank_out(tmp_path, capsys, tiny):
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00\x01data")
    refused(["sweep", binary, "--out", tmp_path / "o"], "is not UTF-8 text", capsys, tmp_path)
    empty = tmp_path / "empty.toml"
    empty.write_text("# nothing here\n")
    refused(["run", empty], "config: " + repr(str(empty)) + " is empty;", capsys, tmp_path)
    refused(["sweep", tiny, "--out", ""], "--out: empty path", capsys, tmp_path)


def test_output_places_are_checked_before_computing(tmp_path, capsys, tiny):
    afile = tmp_path / "afile"
    afile.write_text("mine")
    refused(
        ["sweep", tiny, "--out", afile / "out"], "afile' is a file, not a folder", capsys, tmp_path
    )
    refused(["run", tiny, "--save", tmp_path], "--save: ", capsys, tmp_path)
    (tmp_path / "t.csv").mkdir()
    refused(["run", tiny, "--save", tmp_path / "t.csv"], "is a folder", capsys, tmp_path)
    refused(["run", tiny, "--save", afile / "t.csv"], "is a file, not a folder", capsys, tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_out(tmp_path, capsys, tiny):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        refused(["sweep", tiny, "--out", locked / "o"], "not writable", capsys, tmp_path)
    finally:
        locked.chmod(0o755)


def test_an_unusable_cache_folder_warns_once_and_runs_without(tmp_path, capsys, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("mine")
    for bad in (afile, afile / "below"):
        monkeypatch.setenv(compile_cache.ENV_VAR, str(bad))
        assert compile_cache.enable() is None
        assert compile_cache.enable() is None
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "W2S_CACHE_DIR: cannot use" in err, err
    monkeypatch.undo()
    compile_cache.enable()  # back to the suite's folder


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    """A finished sweep's files (planted outcomes; nothing computed)."""
    summary, traj = S.planted_boundary(seeds=2)
    summary, traj = summary[summary["nu_norm"] == 5.0], traj[traj["nu_norm"] == 5.0]
    root = tmp_path_factory.mktemp("sweep")
    summary.to_parquet(root / "summary.parquet", index=False)
    traj.to_parquet(root / "trajectories.parquet", index=False)
    (root / "manifest.json").write_text(json.dumps({"config": {"name": "planted"}}))
    return root


def _copy(root, to):
    to.mkdir()
    for path in root.iterdir():
        if path.is_file():
            (to / path.name).write_bytes(path.read_bytes())
    return to


@pytest.mark.parametrize("command", ["report", "plot"])
def test_folders_that_are_not_finished_sweeps(command, sweep_dir, tmp_path, capsys):
    import pandas as pd

    other = _copy(sweep_dir, tmp_path / "other")
    pd.DataFrame(dict(a=[1, 2])).to_parquet(other / "summary.parquet")
    refused([command, other], "summary.parquet' is not a table of a w2s sweep", capsys, tmp_path)
    (other / "summary.parquet").write_text("not parquet")
    refused([command, other], "is not a readable parquet table", capsys, tmp_path)
    broken = _copy(sweep_dir, tmp_path / "broken")
    (broken / "manifest.json").write_text("{not json")
    refused([command, broken], "manifest.json' is not a readable JSON", capsys, tmp_path)
    empty = _copy(sweep_dir, tmp_path / "empty")
    pd.read_parquet(empty / "summary.parquet").iloc[:0].to_parquet(empty / "summary.parquet")
    refused([command, empty], "summary.parquet' has no rows", capsys, tmp_path)


def test_report_and_plot_flags(sweep_dir, tmp_path, capsys):
    root = sweep_dir
    refused(["report", root, "--bootstrap", "-5"], "--bootstrap: must be", capsys, root)
    refused(["report", root, "--out", tmp_path], "is a folder; give a file name", capsys, root)
    refused(["plot", root, "--cell", "n_st=abc"], "--cell n_st: expected a number", capsys, root)
    err = refused(["plot", root, "--cell", "n_st=99999"], "--cell: no cell with", capsys, root)
    assert "n_st takes " in err
    refused(["plot", root, "--cell", "n_st"], "--cell: expected KEY=VALUE", capsys, root)
    afile = tmp_path / "afile"
    afile.write_text("x")
    refused(["plot", root, "--out", afile], "--out: ", capsys, root)


def test_run_flags(tiny, tmp_path, capsys):
    refused(["run", tiny, "--rows", "0"], "--rows: must be an integer in [1,", capsys, tmp_path)
    refused(["run", tiny, "--rows", "-3"], "--rows: must be", capsys, tmp_path)
    refused(["run", tiny, "--rows", "abc"], "--rows: invalid int value", capsys, tmp_path)
    refused(["run", tiny, "--seed", str(2**40)], "--seed: must be", capsys, tmp_path)
    err = refused(["run", tiny, "--set", "d=1e300"], "d: must be an integer", capsys, tmp_path)
    assert "1e+300" in err and len(err) < 200
    refused(
        ["run", tiny, "--set", "eta_rel=0.5", "--set", "eta=0.1", "--n-st", "0"],
        "n_st: must be an integer in [1,",
        capsys,
        tmp_path,
    )
    refused(["run", tiny, "--set", "n_st=0", "--set", "eta_rel=1"], "n_st: ", capsys, tmp_path)
