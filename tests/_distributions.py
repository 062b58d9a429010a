"""Installed distributions, for the tests that hold the declared dependencies to what runs."""

from __future__ import annotations

import importlib.metadata as metadata
import re

from packaging.requirements import Requirement


def canonical(name: str) -> str:
    """A distribution's name as PEP 503 normalizes it."""
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_closure(names) -> set[str]:
    """`names` and every distribution they require at run time, transitively (installed ones)."""
    seen, todo = set(), list(names)
    while todo:
        dist = canonical(todo.pop())
        if dist in seen:
            continue
        seen.add(dist)
        try:
            requires = metadata.requires(dist) or []
        except metadata.PackageNotFoundError:
            continue
        for text in requires:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen
