"""The package's shape: no import cycle, and layers that only point down.

The graph is read from the source (every `import` statement, also inside functions), so a
lazy import cannot hide a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "w2s_jax"

#: Layers from the bottom up; a module may import its own layer or lower ones only.
LAYERS = ("model", "training", "engines", "sweeping", "analysis", "bench", "cli")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules of the package that `name` imports (a `from X import Y` of a submodule counts Y)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t in known and t != name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the stack, 2 finished
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _find_cycle(graph) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_the_package():
    graph = _graph()
    assert len(graph) > 30, "the scan found too few modules"
    assert graph["w2s_jax.engines.run"] >= {"w2s_jax.engines.direct", "w2s_jax.engines.gram"}
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def _layer(name: str) -> int | None:
    parts = name.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


@pytest.mark.parametrize("layer", LAYERS)
def test_layers_only_point_down(layer):
    for name, targets in _graph().items():
        if _layer(name) != LAYERS.index(layer):
            continue
        for target in targets:
            assert target != "w2s_jax", f"{name} imports the package root (a cycle through it)"
            assert _layer(target) is not None and _layer(target) <= _layer(name), (
                f"{name} imports {target}, a higher layer"
            )


def test_executors_depend_on_the_chunk_module_not_on_each_other():
    graph = _graph()
    local, ray = "w2s_jax.sweeping.local", "w2s_jax.sweeping.ray"
    assert "w2s_jax.sweeping.chunk" in graph[local] and "w2s_jax.sweeping.chunk" in graph[ray]
    assert ray not in graph[local] and local not in graph[ray]
    assert "w2s_jax.sweeping.driver" not in graph[local] | graph[ray]


def test_every_module_sits_in_a_layer():
    for name in _graph():
        assert name == "w2s_jax" or _layer(name) is not None, name
