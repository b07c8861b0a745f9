"""params.yaml and config.yaml, read as one set and checked before any work.

params.yaml holds the knobs experiments turn (`dvc exp show` shows all of it); config.yaml holds
the description of the data and the project's setup. The code sees one merged mapping, so a key
can move between the files without code changes; it may live in one file only.

Each stage loads its params through `load_params`, so a bad value stops the first stage that runs,
with a message saying which key (and file) to change, instead of failing minutes later deep inside
a fit. Two parts are checked where they are read, still before any work: the column roles under
`leads:` (`ColumnRoles.from_params`) and the search spaces under `tune.spaces`, which need the
model's own parameter list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from leadsift.io import InputError, read_yaml

PARAMS_FILES = ("params.yaml", "config.yaml")  # the knobs, then the setup

SPLITS = ("train", "validation", "test")
SPLIT_METHODS = ("time", "stratified")
FAMILIES = ("hist_gradient_boosting", "logistic_regression", "random_forest")
TUNE_METRICS = ("roc_auc", "pr_auc")
PRUNERS = ("median", "successive_halving", "none")

_MISSING = object()


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _integer(low: int) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low), (
        f"an integer >= {low}"
    )


def _between(low: float, high: float, *, closed: str = "both") -> tuple[Callable, str]:
    left, right = closed in ("both", "left"), closed in ("both", "right")

    def ok(v: Any) -> bool:
        return _number(v) and (v >= low if left else v > low) and (v <= high if right else v < high)

    return ok, f"a number in {'[' if left else '('}{low:g}, {high:g}{']' if right else ')'}"


def _one_of(choices: tuple[str, ...]) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: v in choices), f"one of {list(choices)}"


def _or_null(rule: tuple[Callable[[Any], bool], str]) -> tuple[Callable[[Any], bool], str]:
    ok, expected = rule
    return (lambda v: v is None or ok(v)), f"null or {expected}"


def _iso_date(value: Any) -> bool:
    try:
        dt.date.fromisoformat(str(value))
    except ValueError:
        return False
    return True


def _fractions(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and set(value) == set(SPLITS)
        and all(_number(v) and 0 < v < 1 for v in value.values())
        and abs(sum(value.values()) - 1.0) <= 1e-9
    )


_TEXT = (lambda v: isinstance(v, str) and v.strip() != ""), "a non-empty string"
_SHARE = _between(0, 1)
_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "leads.raw_path": _TEXT,
    "generate.world_seed": _integer(0),
    "generate.sample_seed": _integer(0),
    "generate.n_leads": _integer(1),
    "generate.start": (_iso_date, "a date like 2025-01-01"),
    "generate.days": _integer(1),
    "generate.genuine_rate": _between(0, 1, closed="neither"),
    "generate.dirt.missing_source": _SHARE,
    "generate.dirt.city_variants": _SHARE,
    "generate.dirt.duplicate_rows": _SHARE,
    "generate.dirt.negative_counts": _SHARE,
    "generate.dirt.placeholders": _SHARE,
    "incoming.sample_seed": _integer(0),
    "incoming.n_batches": _integer(1),
    "incoming.leads_per_batch": _integer(1),
    "incoming.drift.new_sources": _SHARE,
    "incoming.drift.platform_shift": _SHARE,
    "incoming.drift.count_inflation": _between(0, 100),
    "incoming.drift.genuine_rate_shift": _between(-1, 1, closed="neither"),
    "split.method": _one_of(SPLIT_METHODS),
    "split.fractions": (_fractions, "{train, validation, test}, each in (0, 1), summing to 1"),
    "split.seed": _integer(0),
    "train.coverage": _between(0, 1, closed="right"),
    "train.max_levels": _integer(1),
    "model.family": _one_of(FAMILIES),
    "model.seed": _integer(0),
    "tune.n_trials": _integer(1),
    "tune.metric": _one_of(TUNE_METRICS),
    "tune.max_rows": _or_null(_integer(1)),
    "tune.step": _integer(1),
    "tune.pruner": _one_of(PRUNERS),
    "tune.timeout": _or_null(_between(0, float("inf"), closed="neither")),
    "tune.seed": _integer(0),
    "register.main_branch": _TEXT,
    "register.min_roc_auc": _SHARE,
    "register.min_improvement": _between(-1, 1),
    "register.confidence": _between(0, 1, closed="neither"),
    "register.n_bootstrap": _integer(1),
    "register.seed": _integer(0),
    "score.input": _TEXT,
    "score.model": _TEXT,
    "business.min_genuine_recall": _between(0, 1, closed="right"),
    "evaluate.curve_points": _integer(2),
    "evaluate.calibration_bins": _integer(1),
    "evaluate.importance_rows": _integer(1),
    "evaluate.importance_repeats": _integer(1),
    "evaluate.importance_top": _integer(1),
    "evaluate.seed": _integer(0),
    "monitor.labels": _TEXT,
    "monitor.bins": _integer(2),
    "monitor.psi_alert": _between(0, float("inf"), closed="neither"),
    "monitor.p_value": _between(0, 1, closed="neither"),
    "monitor.unseen_alert": _SHARE,
    "monitor.auc_drop_alert": _SHARE,
    "monitor.rate_gap_alert": _SHARE,
}


def _lookup(params: dict[str, Any], key: str) -> Any:
    node: Any = params
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def set_param(params: dict[str, Any], key: str, value: Any) -> None:
    """Set a dotted key (`tune.n_trials`) in a params mapping, as `dvc exp run -S` does."""
    *parents, leaf = key.split(".")
    node = params
    for part in parents:
        node = node[part]
    node[leaf] = value


def _depth(data: dict[str, Any], key: str) -> int:
    """How many leading parts of a dotted key exist in `data`."""
    node, found = data, 0
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            break
        node, found = node[part], found + 1
    return found


def write_overrides(root: str | Path, overrides: dict[str, Any]) -> None:
    """Set dotted keys in whichever params file of the repository at `root` holds them (the one
    holding the deepest part of a new key), for throwaway copies of the project: benchmarks and
    tests. Comments are not kept; a real change goes through the files or `dvc exp run -S`."""
    files = {name: read_yaml(Path(root) / name) or {} for name in PARAMS_FILES}
    for key, value in overrides.items():
        owner = max(files, key=lambda name: _depth(files[name], key))
        *parents, leaf = key.split(".")
        node = files[owner]
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    for name, data in files.items():
        (Path(root) / name).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def merge_params(parts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Merge the params files section by section; a key set in two files is an error."""
    merged: dict[str, Any] = {}
    where: dict[str, str] = {}

    def merge(into: dict[str, Any], other: dict[str, Any], prefix: str, source: str) -> None:
        for key, value in other.items():
            dotted = f"{prefix}{key}"
            if key in into and not (isinstance(value, dict) and isinstance(into[key], dict)):
                raise InputError(
                    f"`{dotted}` is set in both {where[dotted]} and {source}; keep it in one"
                )
            where.setdefault(dotted, source)
            if isinstance(value, dict):
                merge(into.setdefault(key, {}), value, f"{dotted}.", source)
            else:
                into[key] = value

    for source, data in parts.items():
        if not isinstance(data, dict):
            raise InputError(f"{source}: must be a mapping of sections, got {type(data).__name__}")
        merge(merged, data, "", source)
    return merged


def params_problems(params: dict[str, Any]) -> list[str]:
    """Every key whose value breaks its rule, as "`key` must be ..., got ..." (empty when fine)."""
    problems = []
    for key, (ok, expected) in _RULES.items():
        value = _lookup(params, key)
        if value is _MISSING:
            problems.append(f"`{key}` is missing (expected {expected})")
        elif not ok(value):
            problems.append(f"`{key}` must be {expected}, got {value!r}")
    return problems


def read_params(root: str | Path = ".") -> dict[str, Any]:
    """params.yaml and config.yaml of the repository at `root`, merged, unchecked."""
    return merge_params({name: read_yaml(Path(root) / name) or {} for name in PARAMS_FILES})


def load_params(root: str | Path = ".") -> dict[str, Any]:
    """Read the params files and stop with every problem named, before the stage does any work."""
    params = read_params(root)
    if problems := params_problems(params):
        listed = "".join(f"\n  - {p}" for p in problems)
        raise InputError(
            f"{' + '.join(PARAMS_FILES)}: {len(problems)} problem(s), fix them and rerun:{listed}"
        )
    return params
