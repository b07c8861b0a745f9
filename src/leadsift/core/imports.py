"""The package's own import graph, read from the source without importing anything.

Two things follow a module's imports: a saved model carries a copy of the modules its steps are
defined in and everything they import (`model_store`), and each dvc.yaml stage lists as deps the
modules its script imports, directly or not, so that `dvc repro` reruns it when one changes
(tests/test_stage_deps.py checks the lists against this graph).
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Mapping
from importlib.metadata import packages_distributions
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the leadsift package


def imported_names(source: Path) -> set[str]:
    """The dotted names `source` imports (absolute imports, as the package writes them): each
    module, and for `from m import x` also `m.x`, which may be a module itself."""
    found = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update([node.module, *(f"{node.module}.{alias.name}" for alias in node.names)])
    return found


def module_file(name: str) -> Path | None:
    """The file of a `leadsift.*` module (or package), None for anything else."""
    parts = name.split(".")
    if parts[0] != PACKAGE_DIR.name:
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_files(source: Path) -> set[Path]:
    """The package files `source` imports directly."""
    return {f for name in imported_names(source) if (f := module_file(name))}


@functools.cache
def _installed() -> Mapping[str, list[str]]:
    """Top-level module -> the distributions that install it (read once: it is slow)."""
    return packages_distributions()


def distribution(module: str) -> str:
    """The distribution that installs a (dotted) module: of those that install its top-level
    package, the one named like the module or one of its parents (mlflow's several, ruamel's
    namespace), else the first."""
    parts = module.split(".")
    found = _installed().get(parts[0], [parts[0]])
    prefixes = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return next((d for d in found if d.lower().replace("_", "-") in prefixes), found[0])


def import_closure(sources: Iterable[Path]) -> set[Path]:
    """`sources` and every package file they import, directly or through one another."""
    todo = list(sources)
    seen = set(todo)
    while todo:
        for found in imported_files(todo.pop()) - seen:
            seen.add(found)
            todo.append(found)
    return seen
