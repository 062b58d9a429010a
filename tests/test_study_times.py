"""scripts/study_times.py: the docs' table of what each study cost."""

import importlib.util
import json
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def script():
    path = Path(__file__).parents[1] / "scripts" / "study_times.py"
    spec = importlib.util.spec_from_file_location("study_times", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _manifest(folder: Path, name: str, wall_s: float) -> None:
    folder.mkdir(parents=True)
    manifest = {"name": name, "n_runs": 4, "wall_s": wall_s, "compile_s": wall_s / 4}
    manifest |= {"config": {"train": {"engine": "limit"}}, "platform": "cpu", "devices": ["0"]}
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_rows_of_absent_studies_are_kept_and_present_ones_remeasured(script, tmp_path, capsys):
    """A results folder does not outlive its machine: a study missing from RESULTS keeps the
    row it had; one present is written from its manifest; --fresh drops the absent ones."""
    results, out = tmp_path / "results", tmp_path / "times.md"
    _manifest(results / "alpha", "alpha", 100.0)
    _manifest(results / "beta", "beta", 30.0)
    assert script.main([str(results), "--out", str(out)]) == 0
    (results / "alpha" / "manifest.json").unlink()
    (results / "beta" / "manifest.json").write_text(
        json.dumps({"name": "beta", "n_runs": 4, "wall_s": 60.0, "compile_s": 6.0})
    )
    assert script.main([str(results), "--out", str(out)]) == 0
    rows = [line for line in out.read_text().splitlines() if line.startswith("| ")]
    by_name = {row.split("|")[1].strip(): row for row in rows[1:]}
    assert set(by_name) == {"alpha" + script.EARLIER, "beta"}  # the kept row says so
    by_name["alpha"] = by_name.pop("alpha" + script.EARLIER)
    assert "100 s" in by_name["alpha"] and "25%" in by_name["alpha"]  # kept as measured
    assert "60 s" in by_name["beta"] and "10%" in by_name["beta"]  # measured again
    assert script.main([str(results), "--out", str(out)]) == 0  # marked once, not twice
    assert out.read_text().count(script.EARLIER) == 1
    assert script.main([str(results), "--out", str(out), "--fresh"]) == 0
    assert "alpha" not in out.read_text()
    capsys.readouterr()


def test_the_main_job_section_is_the_committed_manifest(script, monkeypatch):
    """docs/study_times.md's main-job section is what studies/paper/manifest.json gives: a page
    and its data cannot disagree (rerun `make figures` after committing a new paper run)."""
    root = Path(__file__).parents[1]
    monkeypatch.chdir(root)  # the section names the folder as `make figures` gives it
    section = script.main_job(Path("studies"))
    manifest = json.loads((root / "studies" / "paper" / "manifest.json").read_text())
    assert manifest.get("flop_floor_s"), "the committed main job records its flop floor"
    page = (root / "docs" / "study_times.md").read_text()
    assert section and section in page
    ratio = manifest["run_s"] / manifest["flop_floor_s"]
    assert f"**{ratio:.2f}×**" in section


def test_no_main_job_section_without_a_floor(script, tmp_path):
    _manifest(tmp_path / "paper", "paper", 100.0)  # written before the efficiency fields
    assert script.main_job(tmp_path) == ""
