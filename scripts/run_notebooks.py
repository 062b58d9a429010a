"""Execute notebooks in place (full size, reading the committed studies in studies/), so they
are committed with their outputs: `python scripts/run_notebooks.py [notebooks/NAME.ipynb ...]`."""

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


def main(paths: list[str]) -> None:
    books = [Path(p) for p in paths] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in books:
        start = time.perf_counter()
        book = nbformat.read(path, as_version=4)
        client = NotebookClient(
            book,
            timeout=1800,
            kernel_name="python3",
            # one stream output per cell, with a progress bar's \r updates folded to its last line
            coalesce_streams=True,
            resources={"metadata": {"path": str(path.parent)}},
        )
        client.execute()
        nbformat.write(book, path)
        print(f"{path.name}: executed in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
