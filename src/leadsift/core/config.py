"""params.yaml and config.yaml, read as one set and checked before any work.

params.yaml holds the knobs experiments turn (`dvc exp show` shows all of it); config.yaml holds
the description of the data and the project's setup. The code sees one merged mapping, so a key
can move between the files without code changes; it may live in one file only.

Each stage loads its params through `load_params(rules)` with its pipeline's rules (e.g.
`leads.param_rules.RULES`), so a bad value stops the first stage that runs, with a message saying
which key to change, instead of failing minutes later deep inside a fit.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from leadsift.core.io import InputError, read_yaml

PARAMS_FILES = ("params.yaml", "config.yaml")  # the knobs, then the setup

_MISSING = object()
Rule = tuple[Callable[[Any], bool], str]  # a check and what it expects, for the message


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def integer(low: int) -> Rule:
    return (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low), (
        f"an integer >= {low}"
    )


def between(low: float, high: float, *, closed: str = "both") -> Rule:
    left, right = closed in ("both", "left"), closed in ("both", "right")

    def ok(v: Any) -> bool:
        return _number(v) and (v >= low if left else v > low) and (v <= high if right else v < high)

    return ok, f"a number in {'[' if left else '('}{low:g}, {high:g}{']' if right else ')'}"


def one_of(choices: tuple[str, ...]) -> Rule:
    return (lambda v: v in choices), f"one of {list(choices)}"


def or_null(rule: Rule) -> Rule:
    ok, expected = rule
    return (lambda v: v is None or ok(v)), f"null or {expected}"


def _iso_date(value: Any) -> bool:
    try:
        dt.date.fromisoformat(str(value))
    except ValueError:
        return False
    return True


def iso_day(value: Any) -> dt.date | None:
    """A day written YYYY-MM-DD, or YAML's unquoted date (not a date and time), else None."""
    if type(value) is dt.date:
        return value
    try:
        return dt.datetime.strptime(str(value), "%Y-%m-%d").date()
    except ValueError:
        return None


def _text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _texts(value: Any) -> bool:
    return isinstance(value, list) and all(_text(v) for v in value)


def mapping_of(rule: Rule) -> Rule:
    """A mapping of names to values that each meet `rule` (its keys are the user's to choose)."""
    ok, expected = rule
    return (
        lambda v: isinstance(v, dict) and all(_text(k) and ok(x) for k, x in v.items()),
        f"a mapping of names to {expected}",
    )


class OptionalRule(tuple):
    """A rule whose key may be left out."""


def optional(rule: Rule) -> Rule:
    return OptionalRule(rule)


ISO_DATE: Rule = (_iso_date, "a date like 2025-01-01")
TEXT: Rule = (_text, "a non-empty string")
TEXTS: Rule = (_texts, "a list of non-empty strings")
ANY_MAPPING: Rule = (lambda v: isinstance(v, dict), "a mapping")
SCALAR: Rule = (lambda v: isinstance(v, str | int | float | bool), "one value (text or number)")
SHARE: Rule = between(0, 1)
# What every pipeline reads. A rule on a mapping (`mlflow.models`) judges all of it: its keys are
# names the user (or each pipeline) chooses, not keys to check one by one.
SHARED_RULES: dict[str, Rule] = {
    "mlflow.experiment": TEXT,
    "mlflow.models": mapping_of(TEXT),
    "promotion.main_branch": TEXT,
    "studies.storage": (
        lambda v: (
            v is None
            or (isinstance(v, str) and v.startswith(("journal:", "postgresql+psycopg://")))
        ),
        "null, journal:<file> or a postgresql+psycopg:// URL",
    ),
    "studies.workers": integer(1),
    "studies.heartbeat_s": integer(1),
}


def _lookup(params: dict[str, Any], key: str) -> Any:
    node: Any = params
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


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


def params_problems(params: dict[str, Any], rules: Mapping[str, Rule]) -> list[str]:
    """Every key whose value breaks its rule, as "`key` must be ..., got ...", and every key of
    the rules' sections that no rule knows (empty when fine)."""
    rules = {**SHARED_RULES, **rules}
    problems = []
    for key, rule in rules.items():
        ok, expected = rule
        value = _lookup(params, key)
        if value is _MISSING:
            if not isinstance(rule, OptionalRule):
                problems.append(f"`{key}` is missing (expected {expected})")
        elif not ok(value):
            problems.append(f"`{key}` must be {expected}, got {value!r}")
    return problems + unknown_keys(params, set(rules))


def unknown_keys(params: dict[str, Any], known: set[str]) -> list[str]:
    """Keys of the params files that no rule in `known` reads, each with the closest known key: a
    misspelled key beside the right one would otherwise be ignored. Only the sections `known`
    covers are read (another pipeline's are its own business; a section no pipeline reads is
    `unknown_sections`')."""
    sections = {key.split(".")[0] for key in known}
    prefixes = {".".join(k.split(".")[:i]) for k in known for i in range(1, k.count(".") + 1)}
    found = []

    def walk(node: dict[str, Any], path: str) -> None:
        for name, value in node.items():
            key = f"{path}{name}"
            if key in known:
                continue
            if key in prefixes and isinstance(value, dict):
                walk(value, f"{key}.")
            elif key not in prefixes:
                close = difflib.get_close_matches(key, known | prefixes, n=1, cutoff=0.6)
                hint = f"; did you mean `{close[0]}`?" if close else ""
                found.append(f"`{key}` is not a key leadsift reads{hint}")

    walk({section: params[section] for section in params if section in sections}, "")
    return found


def unknown_sections(params: dict[str, Any], known: set[str]) -> list[str]:
    """Sections of the params files that no rule in `known` (every pipeline's) reads, each with
    the closest known section."""
    sections = {key.split(".")[0] for key in known}
    found = []
    for section in sorted(set(params) - sections):
        close = difflib.get_close_matches(section, sections, n=1, cutoff=0.6)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        found.append(f"`{section}` is not a section leadsift reads{hint}")
    return found


def read_params(root: str | Path = ".") -> dict[str, Any]:
    """params.yaml and config.yaml of the repository at `root`, merged, unchecked."""
    return merge_params({name: read_yaml(Path(root) / name) or {} for name in PARAMS_FILES})


def load_params(rules: Mapping[str, Rule], root: str | Path = ".") -> dict[str, Any]:
    """Read the params files and stop with every problem named, before the stage does any work.

    `rules` are the checks of the calling stage's pipeline (e.g. `leads.param_rules.RULES`), on top
    of the shared ones; a pipeline's stages do not stop for a mistake in the other's keys.
    """
    params = read_params(root)
    if problems := params_problems(params, rules):
        listed = "".join(f"\n  - {p}" for p in problems)
        raise InputError(
            f"{' + '.join(PARAMS_FILES)}: {len(problems)} problem(s), fix them and rerun:{listed}"
        )
    return params
