"""The explorer in a real browser: headless Chromium (Debian's package) driven by playwright.
The page loads with no console error and requests nothing but itself; choosing a metric in
the dropdown recolours the map; clicking a cell draws exactly that cell's seeds' curves
(checked against the trajectories); the screenshot of docs/explore.md is written from the
committed coin plane (from the synthetic one where it is not committed).

Without Chromium the tests skip and say how to install it, except in CI (`CI=true`), where
they fail: there .ci/run installs it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _explore_cases import plane

from w2s_jax.analysis import maps, plots
from w2s_jax.analysis.classes import CLASSES
from w2s_jax.analysis.explore import explore
from w2s_jax.sweeping.results import study_names

CHROMIUM = "/usr/bin/chromium"
INSTALL = "apt-get update && apt-get install -y chromium (Debian's package; .ci/run does this)"
ALLOWED = ("file:", "data:", "about:", "blob:")
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "figures" / "explorer.png"

#: The data of every item of the marks whose name starts with `prefix` (the units' names
#: of explore_page), in the order the SVG draws them.
ITEMS = """prefix => {
  const out = [];
  const walk = node => {
    if (!node || !node.items) return;
    if (node.marktype !== undefined && node.marktype !== "group") {
      if ((node.name || "").startsWith(prefix)) node.items.forEach(i => out.push({...i.datum}));
      return;
    }
    node.items.forEach(walk);
  };
  walk(window.explorerView.scenegraph().root);
  return out;
}"""


@pytest.fixture(scope="module")
def chromium():
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "playwright is not installed: make install"
    if missing is None and not os.path.exists(CHROMIUM):
        missing = f"{CHROMIUM} is missing: {INSTALL}"
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser test cannot run in CI: {missing}")
        pytest.skip(missing)
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


class Opened:
    """A page of the browser with what it logged and requested."""

    def __init__(self, browser, path: Path):
        self.page = browser.new_page(viewport={"width": 1500, "height": 800})
        self.errors, self.requests = [], []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else 0)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(path.as_uri())
        self.page.wait_for_function("window.explorerView !== undefined", timeout=30_000)

    def items(self, prefix: str) -> list[dict]:
        return self.page.evaluate(ITEMS, prefix)

    def fills(self, unit: str) -> list[str]:
        return self.page.eval_on_selector_all(
            f'g[class*="{unit}"] path', "paths => paths.map(p => p.getAttribute('fill'))"
        )

    def click_cell(self, cell: int):
        order = [d["cell"] for d in self.items("map_pick")]
        self.page.locator('g[class*="map_pick"] path').nth(order.index(cell)).click()
        self.page.wait_for_function(
            "window.explorerView.data('pick_store').length > 0", timeout=10_000
        )


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    tables = plane()
    page = explore(tables)
    return tables, page, page.save(tmp_path_factory.mktemp("explorer") / "page.html")


@pytest.fixture(scope="module")
def opened(chromium, synthetic):
    opened = Opened(chromium, synthetic[2])
    yield opened
    opened.page.close()


def test_loads_without_error_or_request(opened):
    assert opened.errors == []
    assert opened.requests and all(u.startswith(ALLOWED) for u in opened.requests), opened.requests
    assert len(opened.fills("map_value")) == 12  # 3 x 3 cells and the d = ∞ row


def test_choosing_a_metric_changes_the_colours(opened, synthetic):
    page = synthetic[1]
    before = opened.fills("map_value")
    opened.page.select_option('select[name="metric"]', "label_correction_best")
    opened.page.wait_for_function(
        f"JSON.stringify({before!r}) !== JSON.stringify(Array.from(document.querySelectorAll("
        "'g[class*=\"map_value\"] path')).map(p => p.getAttribute('fill')))",
        timeout=10_000,
    )
    assert opened.fills("map_value") != before
    # The class colours are each cell's class (undecided cells grey), cell by cell.
    opened.page.select_option('select[name="metric"]', "class")
    opened.page.wait_for_function(
        "document.querySelectorAll('g[class*=\"map_class\"] path').length > 0", timeout=10_000
    )
    colours = dict(zip([c.replace("_", " ") for c in CLASSES], plots.CLASS_COLORS.values()))
    colours |= {maps.UNDECIDED[0]: maps.UNDECIDED[1], plots.TIE[0]: plots.TIE[1]}
    shown = [d["cell"] for d in opened.items("map_class")]
    cells = page.cells.set_index("cell")
    expected = [
        colours[maps.UNDECIDED[0]]
        if cells.loc[c, "undecided"]
        else colours[cells.loc[c, "class"].replace("_", " ")]
        for c in shown
    ]
    assert [f.lower() for f in opened.fills("map_class")] == expected
    assert expected.count(maps.UNDECIDED[1]) == 1 and opened.fills("map_value") == []
    assert opened.errors == []


def test_clicking_a_cell_shows_its_runs(opened, synthetic):
    (summary, trajectories), page, _ = synthetic
    assert opened.items("runs_test_acc") == []  # nothing before a click
    for cell in (4, 9):  # the cell whose seeds split, and a label-correction cell
        opened.click_cell(cell)
        where = page.cells.set_index("cell").loc[cell]
        mine = trajectories[
            np.isclose(trajectories["n_st_snr"], where["n_st_snr"], rtol=1e-3)
            & np.isclose(trajectories["d_over_n"], where["d_over_n"], rtol=1e-3)
        ]
        shown = pd.DataFrame(opened.items("runs_test_acc"))
        assert sorted(shown["cell"].unique()) == [cell]
        key = ["seed", "step"]
        shown = shown.sort_values(key).reset_index(drop=True)
        mine = mine.sort_values(key).reset_index(drop=True)
        assert shown[key].astype(int).values.tolist() == mine[key].values.tolist()
        assert np.allclose(shown["test_acc"], mine["test_acc"], atol=1e-3)
        corrected = pd.DataFrame(opened.items("runs_label_correction"))
        assert np.allclose(
            corrected.sort_values(key)["label_correction"], mine["label_correction"], atol=1e-3
        )
        assert len(opened.items("runs_signal")) == 3 * len(mine)
        heading = opened.page.text_content('g[class*="picked_cell"] text')
        assert heading == where["heading"]
        levels = opened.page.eval_on_selector_all(
            'g[class*="mark-text"] text', "ts => ts.map(t => t.textContent)"
        )
        assert "teacher" in levels
    assert opened.errors == [] and all(u.startswith(ALLOWED) for u in opened.requests)


def test_screenshot_for_the_docs(chromium, synthetic, tmp_path):
    """docs/figures/explorer.png: the committed coin plane with a cell clicked."""
    if {"plane_coin", "plane_limit_coin"} <= set(study_names()):
        page = explore("plane_coin", "plane_limit_coin")
        path = page.save(tmp_path / "coin.html")
    else:
        page, path = synthetic[1], synthetic[2]
    opened = Opened(chromium, path)
    first = (
        page.cells[page.cells[page.tables.slices[0]] == page.cells[page.tables.slices[0]].min()]
        if page.tables.slices
        else page.cells
    )
    picked = first[first["class"] == "label_correction"]
    opened.click_cell(int((picked if len(picked) else first)["cell"].iloc[0]))
    opened.page.mouse.move(0, 0)
    # The export menu's button changes with focus and hover: not part of the picture.
    opened.page.add_style_tag(content=".vega-embed details { display: none; }")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    opened.page.locator("#explorer").screenshot(path=str(SCREENSHOT))
    assert opened.errors == [] and SCREENSHOT.stat().st_size > 10_000
    opened.page.close()
