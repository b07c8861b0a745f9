"""`make repro`'s first step: the checks DVC would otherwise make too late or in its own words.

    python -m leadsift.preflight

Each pipeline's params are checked against its rules (a bad value, a misspelled key), every section
must be one some pipeline reads (a misspelled section beside the right one would otherwise be
ignored), and each input the config names must exist unless a dvc.yaml stage writes it: DVC alone
would stop with `[Errno 2]` on a missing input, without the key, after deleting the stage's previous
outputs.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import yaml

from leadsift.core.cli import run_stage
from leadsift.core.config import (
    PARAMS_FILES,
    SHARED_RULES,
    params_problems,
    read_params,
    unknown_sections,
)
from leadsift.core.io import InputError
from leadsift.core.profile import PROFILE_RULES
from leadsift.core.scoring_protocol import SERVE_RULES
from leadsift.pipelines import PIPELINES


def stage_outputs(dvc_yaml: Path, params: dict[str, Any]) -> set[Path]:
    """Every path a dvc.yaml stage writes (outs, metrics, plots), `${...}` resolved."""
    stages = yaml.safe_load(dvc_yaml.read_text())["stages"]
    found = set()
    for stage in stages.values():
        for kind in ("outs", "metrics", "plots"):
            for entry in stage.get(kind, []):
                path = next(iter(entry)) if isinstance(entry, dict) else entry
                found.add(Path(_resolved(path, params)))
    return found


def _resolved(text: str, params: dict[str, Any]) -> str:
    if text.startswith("${") and text.endswith("}"):
        node: Any = params
        for key in text[2:-1].split("."):
            node = node[key]
        return str(node)
    return text


def _value(params: dict[str, Any], key: str) -> Any:
    node: Any = params
    for part in key.split("."):
        node = node[part]
    return node


def problems(root: Path = Path()) -> list[str]:
    """What would stop a pipeline: its params' problems, then its missing inputs."""
    params = read_params(root)
    found, known = [], {*SHARED_RULES, *PROFILE_RULES, *SERVE_RULES}
    for pipeline in PIPELINES.values():
        rules = importlib.import_module(pipeline.param_rules).RULES
        known |= set(rules)
        found += [f"{pipeline.name}: {p}" for p in params_problems(params, rules)]
    found += unknown_sections(params, known)
    if found:
        return list(dict.fromkeys(found))
    written = stage_outputs(root / "dvc.yaml", params)
    for pipeline in PIPELINES.values():
        for key in pipeline.inputs:
            path = Path(_value(params, key))
            if path not in written and not (root / path).exists():
                found.append(
                    f"`{key}` names {path}, which does not exist: point it at your file, or set "
                    "it back to the embedded data's path (docs/own-data.md)"
                )
    return found


def main() -> None:
    if found := problems():
        listed = "".join(f"\n  - {p}" for p in found)
        raise InputError(f"{' + '.join(PARAMS_FILES)}: fix these, then rerun:{listed}")


if __name__ == "__main__":
    run_stage(main)
