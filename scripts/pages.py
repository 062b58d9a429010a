"""Pages whose numbers come from the committed study data.

A page's text lives in `docs/templates/<page>` with `{fields}`; `render` fills them from the
facts that `scripts/figures.py` computes from `studies/` and writes the page (README.md at the
repository root, the others under docs/). A literal brace is written `{{` or `}}`. A test
renders every page again from the committed data and fails where a committed page differs.
"""

from __future__ import annotations

import string
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "docs" / "templates"
HEADER = (
    "<!-- Written by `make figures` from docs/templates/{name} and the data in studies/: "
    "edit the template, not this page. -->\n"
)


def target(template: Path) -> Path:
    """Where a template's page goes: README.md to the root, the rest to docs/."""
    return ROOT / template.name if template.name == "README.md" else ROOT / "docs" / template.name


def fields(text: str) -> set[str]:
    """The field names a template uses."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def render(template: Path, facts: dict[str, str]) -> str:
    """The page of `template` with its fields filled from `facts`; a field without a fact
    is refused with the names of all such fields."""
    text = template.read_text()
    missing = sorted(fields(text) - set(facts))
    if missing:
        raise KeyError(f"{template.name}: no fact for {', '.join(missing)}")
    body = text.format_map(facts)
    # The README opens with its two commands; its header goes after the title line.
    if template.name == "README.md":
        title, _, rest = body.partition("\n")
        return f"{title}\n{HEADER.format(name=template.name)}{rest}"
    return HEADER.format(name=template.name) + body


def templates() -> list[Path]:
    return sorted(TEMPLATES.glob("*.md"))
