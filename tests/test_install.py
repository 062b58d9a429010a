"""The package installs like one (issue 33): its wheel holds every module and the `w2s` command
and asks for the run-time dependencies only (Ray, JAX's CUDA build and the tools of the tests
and the docs are extras); every module the package imports, at the top or inside a function,
is one of those; `make install` installs no extra, and the version is one number."""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest
from _distributions import canonical, runtime_closure
from packaging.requirements import Requirement

import w2s_jax

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
#: Modules the package imports only where an extra is installed: the extra and the module.
EXTRA_IMPORTS = {"ray": "w2s_jax/sweeping/ray.py"}
#: Distributions that are tools of the tests and the docs, never of a run.
DEV_TOOLS = {"pytest", "ruff", "mkdocs", "playwright", "hypothesis", "ipykernel", "nbclient"}


def _runtime_closure() -> set[str]:
    """The run-time requirements of pyproject.toml and theirs, transitively (installed ones)."""
    return runtime_closure(Requirement(r).name for r in PYPROJECT["project"]["dependencies"])


def _imported_modules(path: Path) -> set[str]:
    """The top-level names of every absolute import in a file, wherever it stands."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_every_module_the_package_imports_is_a_declared_runtime_dependency():
    owners = metadata.packages_distributions()
    runtime = _runtime_closure()
    stdlib = set(sys.stdlib_module_names)
    undeclared = {}
    for path in sorted((ROOT / "w2s_jax").rglob("*.py")):
        where = str(path.relative_to(ROOT))
        for module in _imported_modules(path) - stdlib - {"w2s_jax", "__future__"}:
            dists = {canonical(d) for d in owners.get(module, [module])}
            extra = next((e for e, f in EXTRA_IMPORTS.items() if f == where), None)
            if dists & runtime or (extra and module == extra):
                continue
            undeclared.setdefault(where, set()).add(module)
    assert undeclared == {}, "imported but not a run-time requirement of pyproject.toml"


def test_no_tool_of_the_tests_or_docs_is_a_runtime_dependency():
    names = {canonical(Requirement(r).name) for r in PYPROJECT["project"]["dependencies"]}
    assert names & DEV_TOOLS == set() and "ray" not in names
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert {"ray", "cuda", "dev"} <= set(extras)
    assert [Requirement(r).name for r in extras["cuda"]] == ["jax"]
    assert "cuda12" in Requirement(extras["cuda"][0]).extras


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_install_installs_the_package_without_extras(tmp_path):
    def commands(target: str) -> list[str]:
        done = subprocess.run(
            ["make", "-n", "-B", target, f"VENV={tmp_path / 'venv'}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return [line for line in done.stdout.splitlines() if " install " in line]

    install = commands("install")
    assert install and all("[" not in line for line in install), install
    assert any(line.rstrip().endswith("-e .") for line in install), install
    dev = commands("install-dev")
    assert any("'.[dev,ray]'" in line for line in dev), dev


def test_the_version_is_one_number(capsys):
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "w2s_jax.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", w2s_jax.__version__)


def test_the_wheel_holds_the_package_the_command_and_runtime_requirements(tmp_path):
    """Build the wheel from a copy of what it is built from (setuptools of this environment,
    no download) and read what it would install."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "w2s_jax", source / "w2s_jax", ignore=shutil.ignore_patterns("*.pyc"))
    if not Path(sysconfig.get_paths()["purelib"], "setuptools").exists():
        pytest.skip("setuptools is not installed here")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["--disable-pip-version-check", "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = (tmp_path / "dist").glob("w2s_jax-*.whl")
    assert wheel.name.startswith(f"w2s_jax-{w2s_jax.__version__}-py3-none-any")
    with zipfile.ZipFile(wheel) as archive:
        files = set(archive.namelist())
        info = next(n for n in files if n.endswith(".dist-info/METADATA"))
        meta = archive.read(info).decode()
        entry_points = archive.read(info.replace("METADATA", "entry_points.txt")).decode()
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "w2s_jax").rglob("*.py")}
    assert modules <= files, sorted(modules - files)
    # the typed stub of the config classes, and the mark that tells type checkers to read it
    assert {"w2s_jax/py.typed", "w2s_jax/model/config.pyi"} <= files
    assert "w2s = w2s_jax.cli.main:main" in entry_points
    requires = [
        Requirement(line.split(":", 1)[1])
        for line in meta.splitlines()
        if line.startswith("Requires-Dist:")
    ]
    plain = {canonical(r.name) for r in requires if r.marker is None}
    declared = {canonical(Requirement(r).name) for r in PYPROJECT["project"]["dependencies"]}
    assert plain == declared
    extras = set(re.findall(r"^Provides-Extra: (\S+)$", meta, re.M))
    assert {"ray", "cuda", "dev"} <= extras
