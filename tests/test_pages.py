"""The generated pages agree with the committed data: `scripts/figures.py` renders every
template of docs/templates/ from studies/ and the committed page must be that text."""

from pathlib import Path

import pytest
from _scripts import load_script

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def figures():
    return load_script("figures")


@pytest.fixture(scope="module")
def rendered(figures):
    found, _ = figures.facts(draw=False)
    return {t: figures.pages.render(t, found) for t in figures.pages.templates()}


def test_every_generated_page_matches_the_committed_data(figures, rendered):
    assert rendered, "no template in docs/templates"
    for template, text in rendered.items():
        page = figures.pages.target(template)
        assert page.read_text() == text, (
            f"{page.relative_to(ROOT)} differs from what the data in studies/ gives: "
            "run `make figures` and commit the page"
        )


@pytest.mark.slow
def test_a_changed_number_in_the_data_is_caught(figures, rendered, tmp_path):
    """The check can fail: a page rendered from the committed data differs from the page
    rendered after one fact changes."""
    found, _ = figures.facts(draw=False)
    readme = next(t for t in rendered if t.name == "README.md")
    changed = dict(found, coin_lower_edge=found["coin_lower_edge"] + " (changed)")
    assert figures.pages.render(readme, changed) != rendered[readme]


def test_a_field_without_a_fact_is_refused(figures, tmp_path):
    template = tmp_path / "page.md"
    template.write_text("a {known} and an {unknown}\n")
    with pytest.raises(KeyError, match="unknown"):
        figures.pages.render(template, {"known": "1"})


def test_pages_carry_no_unfilled_field(rendered):
    for template, text in rendered.items():
        body = text.replace("{{", "").replace("}}", "")
        assert "{coin_" not in body and "{paper_" not in body, template.name


def test_every_study_a_page_waits_for_can_be_made_by_the_command_it_names(figures):
    """A page's "waiting for its data" names `python scripts/studies.py <study>` (or, for a
    study's checks, `w2s check`): that study must be one the script knows and can run."""
    studies = load_script("studies")
    _, missing = figures.facts(draw=False)
    for name in {m for m in missing if "/" not in m}:  # "<study>/check": a w2s check command
        assert name in studies.ORDER, f"{name}: not in scripts/studies.py's ORDER"
    for name in studies.ORDER:
        base = studies.VARIANTS.get(name, (name, ()))[0]
        assert (ROOT / "sweeps" / f"{base}.toml").exists(), f"{name}: no sweeps/{base}.toml"
