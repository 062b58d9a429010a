"""The notebooks are committed executed (a reader sees the results without running anything)
and run top to bottom at smoke size in CI."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_the_studies_have_notebooks():
    names = {p.name for p in NOTEBOOKS}
    expected = {
        "01_quick_tour.ipynb",
        "02_paper_table.ipynb",
        "03_phase_boundary.ipynb",
        "04_digits.ipynb",
        "05_phase_plane.ipynb",
    }
    assert expected <= names, sorted(expected - names)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_executed_with_figures(path):
    """Every code cell ran, in order, without an error, and at least one figure is shown."""
    book = nbformat.read(path, as_version=4)
    code = [cell for cell in book.cells if cell.cell_type == "code"]
    counts = [cell.execution_count for cell in code]
    assert None not in counts, f"{path.name}: a code cell was not run"
    assert counts == sorted(counts) and len(set(counts)) == len(counts), path.name
    outputs = [out for cell in code for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"], path.name
    images = [out for out in outputs if "image/png" in out.get("data", {})]
    assert images, f"{path.name}: no figure in the committed outputs"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_at_smoke_size(path, tmp_path, monkeypatch):
    monkeypatch.setenv("W2S_NOTEBOOK_SMOKE", "1")
    monkeypatch.setenv("W2S_NOTEBOOK_OUT", str(tmp_path))
    book = nbformat.read(path, as_version=4)
    NotebookClient(
        book, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    assert list(tmp_path.glob("*.png")), "the notebook drew no figure"
