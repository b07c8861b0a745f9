"""What changed in a pipeline's input between two data profiles (a pull request's comment shows it
against main): rows, columns, missing shares, top levels that appeared or vanished, and
distributions that moved.

    python -m leadsift.core.profile_diff BASE.json HEAD.json   (Markdown on stdout)
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from leadsift.core.monitoring import psi
from leadsift.core.report import table

PSI_MOVED = 0.1  # level shares moved: the usual "moderate shift" PSI
SMD_MOVED = 0.1  # a number's mean moved by this many pooled standard deviations
MISSING_MOVED = 0.01  # a column's missing share moved by a point or more


def compare_profiles(base: Mapping[str, Any], head: Mapping[str, Any]) -> dict[str, Any]:
    """Rows before and after, and one entry per column that changed (added, removed, or notes)."""
    before, after = base["columns"], head["columns"]
    changes = []
    for column in sorted(set(before) | set(after)):
        if column not in after or column not in before:
            changes.append({"column": column, "change": "removed" if column in before else "added"})
            continue
        b, a = before[column], after[column]
        notes = []
        if abs(a["missing"] - b["missing"]) >= MISSING_MOVED:
            notes.append(f"missing {b['missing']:.1%} → {a['missing']:.1%}")
        if a["kind"] != b["kind"]:
            notes.append(f"read as {b['kind']} → {a['kind']}")
        elif a["kind"] == "category":
            notes += _level_changes(b, a)
        elif a["kind"] == "number" and b["std"] is not None and a["std"] is not None:
            pooled = np.sqrt((a["std"] ** 2 + b["std"] ** 2) / 2)
            if pooled > 0 and abs(a["mean"] - b["mean"]) / pooled > SMD_MOVED:
                notes.append(f"mean {b['mean']:.4g} → {a['mean']:.4g}")
        if notes:
            changes.append({"column": column, "change": "; ".join(notes)})
    rows = {"base": base["table"]["rows"], "head": head["table"]["rows"]}
    return {"rows": rows, "changes": changes}


def _level_changes(b: Mapping[str, Any], a: Mapping[str, Any]) -> list[str]:
    """Top levels that appeared or vanished, and the PSI of the listed shares (rest pooled)."""
    old = {t["level"]: t["share"] for t in b["top"]}
    new = {t["level"]: t["share"] for t in a["top"]}
    notes = []
    if appeared := sorted(set(new) - set(old)):
        notes.append("new among top levels: " + ", ".join(appeared[:5]))
    if vanished := sorted(set(old) - set(new)):
        notes.append("gone from top levels: " + ", ".join(vanished[:5]))
    levels = sorted(set(old) | set(new))
    p = np.array([old.get(k, 0.0) for k in levels] + [max(0.0, 1 - sum(old.values()))])
    q = np.array([new.get(k, 0.0) for k in levels] + [max(0.0, 1 - sum(new.values()))])
    if (shift := psi(p, q)) >= PSI_MOVED:
        notes.append(f"level shares moved (PSI {shift:.2f})")
    return notes


def render_diff(name: str, diff: Mapping[str, Any]) -> str:
    rows = diff["rows"]
    lines = [f"### {name}: {rows['base']:,} → {rows['head']:,} rows", ""]
    if not diff["changes"]:
        return "\n".join([*lines, "No column changed beyond the thresholds.", ""])
    body = [[f"`{c['column']}`", c["change"]] for c in diff["changes"]]
    return "\n".join([*lines, table(["column", "what changed"], body), ""])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("base", help="the profile JSON of the base branch")
    parser.add_argument("head", help="the profile JSON of this branch")
    args = parser.parse_args(argv)
    head = json.loads(Path(args.head).read_text())
    base_text = Path(args.base).read_text() if Path(args.base).exists() else ""  # or a pipe
    if not base_text.strip():
        print(f"### {head['input']}\n\nNo profile on the base branch to compare with.\n")
        return
    print(render_diff(head["input"], compare_profiles(json.loads(base_text), head)))


if __name__ == "__main__":
    main()
