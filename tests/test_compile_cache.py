"""The persistent compile cache: where it lives, how to turn it off, and that a second process
running the same sweep loads its program instead of compiling it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest
from _sweep_cases import TINY_TOML

from w2s_jax.sweeping import compile_cache


@pytest.fixture
def restore_cache_dir():
    before = jax.config.jax_compilation_cache_dir
    yield
    compile_cache.enable(before) if before else compile_cache._set_dir(None)


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("W2S_CACHE_DIR", str(tmp_path / "mine"))
    assert compile_cache.cache_dir() == tmp_path / "mine"
    for off in ("off", "0", "None"):
        monkeypatch.setenv("W2S_CACHE_DIR", off)
        assert compile_cache.cache_dir() is None
    monkeypatch.delenv("W2S_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compile_cache.cache_dir() == tmp_path / "xdg" / "w2s_jax" / "jax"


def test_enable_and_disable(monkeypatch, tmp_path, restore_cache_dir):
    monkeypatch.setenv("W2S_CACHE_DIR", "off")
    assert compile_cache.enable() is None
    assert not jax.config.jax_compilation_cache_dir
    monkeypatch.setenv("W2S_CACHE_DIR", str(tmp_path / "c"))
    assert compile_cache.enable() == str(tmp_path / "c")
    assert jax.config.jax_compilation_cache_dir == str(tmp_path / "c")
    assert (tmp_path / "c").is_dir()


def _sweep_in_a_new_process(config: Path, out: Path, cache: Path) -> dict:
    env = dict(os.environ, W2S_CACHE_DIR=str(cache))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "w2s_jax.cli",
            "sweep",
            str(config),
            "--out",
            str(out),
            "--quiet",
            "--chunk-size",
            "4",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    return json.loads((out / "manifest.json").read_text())


@pytest.mark.slow
def test_a_second_process_loads_the_program_from_the_cache(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_TOML)
    first = _sweep_in_a_new_process(config, tmp_path / "a", tmp_path / "cache")
    second = _sweep_in_a_new_process(config, tmp_path / "b", tmp_path / "cache")
    assert first["compile_cache"] == second["compile_cache"] == str(tmp_path / "cache")
    assert [t["cache"] for t in first["tiers"]] == ["miss"]
    assert [t["cache"] for t in second["tiers"]] == ["hit"]
    assert second["tiers"][0]["compile_s"] < first["tiers"][0]["compile_s"]
    assert any((tmp_path / "cache").iterdir())


def test_the_library_leaves_jax_settings_alone(monkeypatch, tmp_path, restore_cache_dir):
    """`w2s.sweep` from Python does not turn on a compilation cache the caller did not ask
    for; given a folder, it uses that one."""
    import jax

    import w2s_jax as w2s

    compile_cache._set_dir(None)
    monkeypatch.setenv(compile_cache.ENV_VAR, str(tmp_path / "default"))
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_TOML)
    w2s.sweep(config, tmp_path / "a", quiet=True)
    assert jax.config.jax_compilation_cache_dir in (None, "")
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["compile_cache"] is None
    w2s.sweep(config, tmp_path / "b", quiet=True, compile_cache_dir=tmp_path / "mine")
    assert jax.config.jax_compilation_cache_dir == str(tmp_path / "mine")
