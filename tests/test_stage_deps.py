"""Each dvc.yaml stage lists exactly the project code it runs: its script, the launcher and every
package module they import, directly or through one another. A module missing from a stage's deps
means a change to it leaves the stage's outputs stale without an error; a module listed but never
imported reruns the stage for nothing."""

from __future__ import annotations

import copy
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from leadsift.core.imports import (
    PACKAGE_DIR,
    distribution,
    import_closure,
    imported_names,
    module_file,
)
from tests.conftest import ROOT

DVC_YAML = yaml.safe_load((ROOT / "dvc.yaml").read_text())
STAGES = DVC_YAML["stages"]
PYTHON = next(v["python"] for v in DVC_YAML["vars"] if isinstance(v, dict) and "python" in v)


def _relative(files: set[Path], root: Path) -> set[str]:
    """Paths from `root`, package `__init__.py` files without code left out."""
    return {
        f.relative_to(root).as_posix()
        for f in files
        if not (f.name == "__init__.py" and not f.read_text().strip())
    }


def code_it_runs(command: str, root: Path) -> tuple[set[str], set[str]]:
    """The project's Python files a stage command imports (its scripts, the modules it starts with
    `-m`, and everything they import), and the modules those files name as text (the trusted types
    a model loader imports when it reads a saved model, e.g. `leadsift.leads.sales.SalesScorer`):
    a stage that loads such a model runs them too."""
    files = {root / path for path in re.findall(r"\S+\.py\b", command)}
    files |= {f for name in re.findall(r"-m\s+([\w.]+)", command) if (f := module_file(name))}
    imported = import_closure(files)
    names = {
        n for f in imported for n in re.findall(r"[\"'](leadsift\.[\w.]+)[\"']", f.read_text())
    }
    named = {f for n in names if (f := module_file(n) or module_file(n.rpartition(".")[0]))}
    return _relative(imported, root), _relative(import_closure(named), root)


def dep_problems(stages: dict[str, Any], root: Path = ROOT) -> list[str]:
    """One line per code file a stage imports but does not list in its deps, or lists but can
    never run."""
    problems = []
    for name, stage in stages.items():
        imported, named = code_it_runs(stage["cmd"].replace("${python}", PYTHON), root)
        listed = {d for d in stage.get("deps", []) if d.endswith(".py")}
        problems += [
            f"{name}: runs {f} but does not list it in deps" for f in sorted(imported - listed)
        ]
        problems += [
            f"{name}: lists {f} but never runs it" for f in sorted(listed - imported - named)
        ]
    return problems


def test_every_stage_lists_exactly_the_code_it_runs():
    assert dep_problems(STAGES) == []


@pytest.mark.parametrize("stage", ["leads_train", "customers_forecast", "report"])
def test_a_removed_dep_is_named(stage):
    """The check above can fail: drop one library module from a stage's deps and it is named."""
    broken = copy.deepcopy(STAGES)
    library = [d for d in broken[stage]["deps"] if d.startswith("src/") and d.endswith(".py")]
    removed = library[len(library) // 2]
    broken[stage]["deps"].remove(removed)
    assert dep_problems(broken) == [f"{stage}: runs {removed} but does not list it in deps"]


def test_the_launcher_is_part_of_every_stage():
    launcher = module_file("leadsift.core.launch")
    assert launcher is not None and launcher.is_relative_to(PACKAGE_DIR)
    assert "-m leadsift.core.launch" in PYTHON
    assert all(stage["cmd"].startswith("${python} ") for stage in STAGES.values())


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_pyproject_lists_the_third_party_packages_the_library_imports():
    """pyproject's dependencies (with its optional ones) say what the code imports, no more and
    no less: a package the code stopped importing leaves the list, one it started importing joins
    it."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    optional = project.get("optional-dependencies", {}).values()
    declared = [*project["dependencies"], *(name for extra in optional for name in extra)]
    own = {*sys.stdlib_module_names, "leadsift", "__future__"}
    imported = {
        distribution(name)
        for source in PACKAGE_DIR.rglob("*.py")
        for name in imported_names(source)
        if name.partition(".")[0] not in own
    }
    assert {_normal(d) for d in declared} == {_normal(d) for d in imported}
