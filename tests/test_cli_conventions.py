"""Command-line conventions (issue 33): a bad config is refused before JAX loads, `--set
KEY=VALUE` changes a config's values before they are checked (and the manifest records the
result), the studies at other `n_st` are their base config with values changed, `w2s run`
prints its regime, `--cell` takes the same keys in `w2s plot` and `w2s check`, the help texts
name no internal function, and the refusals of issue 33 item 6 come before any work."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import _synthetic as S
import pytest
from _sweep_cases import refused

import w2s_jax
from w2s_jax.cli import check, common, explore, main, plot, sweep
from w2s_jax.cli.main import main as w2s
from w2s_jax.sweeping.config_file import LANES_MAX, load_config

ROOT = Path(__file__).resolve().parent.parent

#: Run `w2s ARGV` in a fresh interpreter and say which heavy libraries it loaded.
PROBE = """
import json, sys
from w2s_jax.cli.main import main
code = main(sys.argv[1:])
heavy = sorted(m for m in ("jax", "jaxlib", "pandas", "matplotlib", "scipy") if m in sys.modules)
print(json.dumps(dict(code=code, heavy=heavy)))
"""


def _probe(*argv) -> tuple[dict, str]:
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *map(str, argv)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=ROOT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


# --- a refusal does not wait for JAX ---------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (["sweep", "{bad}", "--out", "{tmp}/out"], "data.bogus: unknown key"),
        (["run", "{bad}"], "data.bogus: unknown key"),
        (["sweep", "{tiny}", "--out", "{tmp}/out", "--set", "train.T=-1"], "train.T: must be"),
        (["run", "{tiny}", "--set", "bogus=1"], "--set bogus: unknown key"),
        (["sweep", "{tiny}", "--out", "{tmp}/out", "--set", "sweep.lanes=0"], "sweep.lanes"),
    ],
)
def test_a_bad_config_is_refused_before_jax_loads(argv, message, tiny, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[data]\nd = 100\nbogus = 3\n")
    argv = [a.format(bad=bad, tiny=tiny, tmp=tmp_path) for a in argv]
    result, err = _probe(*argv)
    assert result == dict(code=2, heavy=[]), err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


def test_the_package_and_the_version_load_no_jax():
    result, err = _probe("--version")
    assert result == dict(code=0, heavy=[]), err
    code = "import sys, w2s_jax; w2s_jax.tau; print(sorted(m for m in sys.modules if m == 'jax'))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stderr


def test_every_public_name_loads_on_first_use():
    assert set(w2s_jax.__all__) <= set(dir(w2s_jax))
    for name in w2s_jax.__all__:
        assert getattr(w2s_jax, name) is not None, name
    assert w2s_jax.run.__module__ == "w2s_jax.engines.run"
    from w2s_jax import load_results, sweep  # noqa: F401 (the `from` form works too)

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        w2s_jax.nope  # noqa: B018


def test_version_flag(capsys):
    assert w2s(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"w2s {metadata.version('w2s_jax')}"
    assert metadata.version("w2s_jax") == w2s_jax.__version__


# --- --set -------------------------------------------------------------------------------------


def test_set_changes_the_file_before_it_is_checked(tiny):
    config = load_config(
        tiny,
        [
            "grid.n_st=[16, 32]",
            "train.T=10",
            "name=other",
            "seeds=3",
            "sweep.lanes=2",
            "hard_sign=antipodal",
        ],
    )
    assert config.grid["n_st"] == (16, 32) and config.train["T"] == 10
    assert (config.name, config.seeds, config.sweep) == ("other", 3, {"lanes": 2})
    assert config.data["hard_sign"] == "antipodal"
    # One number, or numbers with commas, for a grid axis; a bare field fixes it in every cell.
    assert load_config(tiny, ["grid.n_st=24"]).grid["n_st"] == (24,)
    assert load_config(tiny, ["grid.n_st=16,24,32"]).grid["n_st"] == (16, 24, 32)
    fixed = load_config(tiny, ["n_st=20"])
    assert "n_st" not in fixed.grid and fixed.train["n_st"] == 20
    assert load_config(tiny, []) == load_config(tiny)


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("bogus=1", "--set bogus: unknown key; give name, seeds"),
        ("data.bogus=1", "data.bogus: unknown key (allowed:"),
        ("grid.bogus=[1]", "grid.bogus: unknown key"),
        ("other.n_st=1", "--set other.n_st: unknown key; TABLE.KEY takes TABLE from"),
        ("train.n_st.x=1", "--set train.n_st.x: unknown key"),
        ("train.n_st", "--set: expected KEY=VALUE (e.g. --set train.n_st=1000)"),
        ("=3", "--set: expected KEY=VALUE"),
        ("grid.n_st=[]", "grid.n_st: empty list"),
        ("grid.n_st=abc", "grid.n_st: expected a list of numbers, got 'abc'"),
        ("seeds=0", "seeds: must be an integer in [1,"),
        ("grid.n_st=" + "[" * 3000 + "]" * 3000, "--set grid.n_st: the value nests lists"),
    ],
)
def test_bad_set_is_refused_with_its_key(assignment, message, tiny, tmp_path, capsys):
    out = tmp_path / "out"
    refused(["sweep", tiny, "--out", out, "--set", assignment], message, capsys, tmp_path)


def test_set_is_recorded_in_the_manifest_and_a_resume_needs_it(tiny, tmp_path, capsys):
    out = tmp_path / "out"
    flags = ["--set", "grid.n_st=[16]", "--set", "grid.p_b=[0.4]", "--set", "seeds=1"]
    assert w2s(["sweep", str(tiny), "--out", str(out), "--quiet", *flags]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["grid"] == {"n_st": [16], "p_b": [0.4]}
    assert manifest["config"]["seeds"] == 1 and manifest["n_runs"] == 1
    assert w2s(["sweep", str(tiny), "--out", str(out), *flags]) == 0
    assert "0 computed, 1 resumed" in capsys.readouterr().out
    err = refused(["sweep", tiny, "--out", out], "holds a sweep of a different config", capsys, out)
    assert "grid" in err and "seeds" in err


# --- the studies at other n_st are their base config with values changed ----------------------


def _studies_script():
    spec = importlib.util.spec_from_file_location("studies", ROOT / "scripts" / "studies.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_folded_studies_keep_their_names_and_committed_configs():
    studies = _studies_script()
    assert set(studies.VARIANTS) <= set(studies.ORDER)
    for name, (base, overrides) in studies.VARIANTS.items():
        assert not (ROOT / "sweeps" / f"{name}.toml").exists(), name  # no copied file
        config = load_config(ROOT / "sweeps" / f"{base}.toml", overrides)
        assert config.name == name
        argv = studies.sweep_args(name)
        assert argv[0] == str(ROOT / "sweeps" / f"{base}.toml") and argv[1::2] == ["--set"] * len(
            overrides
        )
        manifest = ROOT / "studies" / name / "manifest.json"
        if manifest.exists():  # committed data: a rerun resumes it, description included
            assert json.loads(manifest.read_text())["config"] == config.to_dict(), name
    assert studies.sweep_args("paper") == [str(ROOT / "sweeps" / "paper.toml")]


# --- w2s run prints the run's regime -----------------------------------------------------------


def test_run_prints_its_regime(tiny, capsys):
    assert w2s(["run", str(tiny), "--set", "train.T=10", "--rows", "2"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("regime"))
    assert re.search(r"regime +(harmful|benign|label_correction|not_converged)  \(tau = ", line)
    assert "n_st·snr = " in line and "d/n_st = 2" in line  # d = 32, n_st = 16


# --- --cell: the same keys in plot and check ---------------------------------------------------


def test_cell_takes_config_fields_and_coordinates_in_plot_and_check(tmp_path, capsys):
    summary, traj = S.planted_boundary(seeds=2)
    summary = summary[summary["nu_norm"] == 5.0]
    traj = traj.merge(summary[["cell", "seed", "tau"]], on=["cell", "seed"])
    keys = common.cell_keys(summary)
    assert {"tau", "n_st", "nu_norm", "p_b"} <= set(keys)
    assert not {"cell", "seed", "final_test_acc", "best_step"} & set(keys)
    root = tmp_path / "sweep"
    root.mkdir()
    summary.to_parquet(root / "summary.parquet", index=False)
    traj.to_parquet(root / "trajectories.parquet", index=False)
    (root / "manifest.json").write_text(json.dumps({"config": {"name": "planted"}}))
    tau = float(summary["tau"].iloc[0])
    cells = check._by_values([f"tau={tau!r}"], summary)
    assert cells == sorted(set(summary.loc[summary["tau"] == tau, "cell"]))
    argv = ["plot", str(root), "--kind", "trajectories", "--cell", f"tau={tau!r}"]
    assert w2s(argv) == 0, capsys.readouterr().err
    refused(
        ["plot", root, "--cell", "final_test_acc=1"], "--cell final_test_acc: unknown", capsys, root
    )
    refused(["check", root, "--cell", "best_step=3"], "--cell best_step: unknown", capsys, root)


# --- help texts --------------------------------------------------------------------------------


def test_the_choices_of_the_flags_are_the_librarys():
    from w2s_jax.analysis import check as analysis_check
    from w2s_jax.analysis import explore as analysis_explore
    from w2s_jax.analysis import report
    from w2s_jax.sweeping import driver

    assert plot.KINDS == report.KINDS
    assert tuple(analysis_explore.METRICS) == explore.METRICS
    assert tuple(analysis_check.VARIANTS) == check.VARIANT_NAMES
    assert check.DEFAULT_VARIANTS == analysis_check.DEFAULT_VARIANTS
    assert sweep.EXECUTORS == driver.EXECUTORS
    assert set(common.RULES) == {"end", "class", "label_correction"}  # fit.benign_outcome's


@pytest.mark.parametrize("command", ["run", "sweep", "bench", "plot", "report", "check", "explore"])
def test_help_speaks_the_users_terms(command, capsys):
    with pytest.raises(SystemExit):
        main.build_parser((command,)).parse_args([command, "--help"])
    text = capsys.readouterr().out
    internal = re.findall(
        r"(?<!/)\b(?:w2s_jax|analysis|sweeping|engines|fit|model)\.[a-z_]+\b", text
    )
    assert internal == [], internal


# --- issue 33 item 6: refused before any work --------------------------------------------------


def test_lanes_are_bounded(tiny, tmp_path, capsys):
    out = tmp_path / "out"
    big = f"sweep.lanes={2**31}"
    err = refused(["sweep", tiny, "--out", out, "--set", big], "sweep.lanes:", capsys, tmp_path)
    assert f"[1, {LANES_MAX}]" in err and "leave it out" in err
    assert not out.exists()


def test_deeply_nested_toml_is_one_line(tmp_path, capsys):
    deep = tmp_path / "deep.toml"
    deep.write_text("[grid]\nn_st = " + "[" * 5000 + "]" * 5000 + "\n")
    refused(
        ["sweep", deep, "--out", tmp_path / "out"], "nests lists or tables too", capsys, tmp_path
    )
    refused(["run", deep], "nests lists or tables too deeply", capsys, tmp_path)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="no /proc")
def test_places_that_refuse_the_write_are_refused_first(tiny, tmp_path, capsys):
    refused(
        ["sweep", tiny, "--out", "/proc/w2s-test/out"], "--out: cannot create", capsys, tmp_path
    )
    refused(["run", tiny, "--save", "/proc/w2s-test.csv"], "--save: cannot write", capsys, tmp_path)
    refused(["report", tmp_path, "--out", "/proc/version"], "--out: cannot write", capsys, tmp_path)
    assert not list(tmp_path.glob(".w2s-write-check-*"))
