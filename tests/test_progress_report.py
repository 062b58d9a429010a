"""What the docs say about a sweep's speed and its progress bar comes from data: the study
table's efficiency columns from the manifests (old ones say "not recorded"), and the
progress-error table of docs/performance.md from benchmarks/progress_error.json."""

import json
from pathlib import Path

import pytest
from _scripts import load_script

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def study_times():
    return load_script("study_times")


@pytest.fixture(scope="module")
def progress_error():
    return load_script("progress_error")


def _row(table: str, name: str) -> dict[str, str]:
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    for line in lines[1:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0].startswith(name):
            return dict(zip(head, cells, strict=True))
    raise KeyError(name)


def test_the_study_table_shows_efficiency_and_says_when_it_was_not_recorded(study_times, tmp_path):
    new = dict(name="new", n_runs=4, wall_s=100.0, compile_s=20.0, efficiency=0.0123)
    new |= dict(flop_floor_s=0.5, matmul_gflops=150.0, compile_share=0.2)
    old = dict(name="old", n_runs=4, wall_s=100.0, compile_s=20.0)
    for manifest in (new, old):
        (tmp_path / manifest["name"]).mkdir()
        (tmp_path / manifest["name"] / "manifest.json").write_text(json.dumps(manifest))
    table = study_times.table(tmp_path)
    assert _row(table, "new")["share of matmul rate"] == "1.2%"
    assert _row(table, "new")["wall / flop floor"] == "200×"
    assert _row(table, "old")["share of matmul rate"] == "not recorded"
    assert _row(table, "old")["wall / flop floor"] == "not recorded"


def test_a_kept_row_of_the_earlier_layout_gets_the_new_columns(study_times, tmp_path):
    """Rows of studies whose data is gone are kept from the previous table; one written
    before the efficiency columns existed is not dropped."""
    earlier = (
        "| study | runs | wall time | compile share | GFLOP/s running | engine | machine |\n"
        "|---|---|---|---|---|---|---|\n"
        "| gone | 8 | 4.1 min | 67% | 12 | limit | cpu × 1 device |\n"
    )
    row = _row(study_times.table(tmp_path, earlier), "gone")
    assert row["study"] == "gone" + study_times.EARLIER
    assert row["share of matmul rate"] == row["wall / flop floor"] == "not recorded"
    assert (row["GFLOP/s running"], row["engine"]) == ("12", "limit")


def test_the_performance_page_shows_the_measured_progress_error(progress_error, tmp_path):
    """The block of docs/performance.md is what the script writes from the committed JSON."""
    page = ROOT / "docs" / "performance.md"
    data = json.loads((ROOT / "benchmarks" / "progress_error.json").read_text())
    for study in data["studies"]:
        study["estimates"] = [progress_error.estimate(study, t) for t in progress_error.TARGETS]
    copy = tmp_path / "performance.md"
    copy.write_text(page.read_text())
    json_path = ROOT / "benchmarks" / "progress_error.json"
    progress_error.write_page(copy, json_path, data)
    assert copy.read_text() == page.read_text(), (
        "docs/performance.md differs from benchmarks/progress_error.json: "
        "run `python scripts/progress_error.py` and commit the page"
    )
    assert len(data["studies"]) >= 3


def test_the_progress_error_reading(progress_error):
    """On given updates: the estimate read is the update nearest the target, its error is
    against the time the bar then took, and tqdm's flops and cells estimates sit beside it."""
    study = dict(
        total_units=100,
        runs=10,
        bar_s=50.0,
        updates=[[10.0, 10, 5, 45.0], [30.0, 60, 8, 15.0], [50.0, 100, 10, 0.0]],
    )
    near_10, near_50, near_90 = (progress_error.estimate(study, t) for t in (0.1, 0.5, 0.9))
    assert near_10["done"] == 0.1 and near_10["actual_s"] == 40.0
    assert near_10["error"] == pytest.approx(45 / 40 - 1)
    assert near_10["flops_only_s"] == pytest.approx(10 * 90 / 10)
    assert near_10["cells_s"] == pytest.approx(10 * 5 / 5)
    assert near_50["done"] == near_90["done"] == 0.6  # the last update before 100 %
    assert near_90["error"] == pytest.approx(15 / 20 - 1)
    assert progress_error.estimate(dict(study, updates=study["updates"][-1:]), 0.5) is None
