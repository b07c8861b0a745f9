"""What a data profile says a person should look at: the columns ranked by how well each alone
separates the target, the most correlated pairs, and one-line warnings. It reads the profile
dict (`leadsift.core.profile`), whoever computed it: pandas for a table in memory, an engine for a
log that is not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from leadsift.core.io import first_few

if TYPE_CHECKING:
    from leadsift.core.profile import ProfileSettings


def ranking(profile: Mapping[str, Any]) -> list[tuple[str, float, int]]:
    """(column, ROC-AUC, direction) for every column and group total with one, strongest first."""
    entries = [
        *((c, s) for c, s in profile["columns"].items()),
        *((f"{g} (total)", s) for g, s in profile["groups"].items()),
    ]
    found = [(name, s["auc"], s["direction"]) for name, s in entries if s.get("auc") is not None]
    return sorted(found, key=lambda item: (-item[1], item[0]))


def top_pairs(profile: Mapping[str, Any], n: int = 10) -> list[tuple[str, str, float]]:
    """The `n` most correlated pairs of numeric columns (by |rho|)."""
    names, matrix = profile["correlations"]["columns"], profile["correlations"]["matrix"]
    pairs = [
        (names[i], names[j], matrix[i][j])
        for i in range(len(names))
        for j in range(i + 1, len(names))
    ]
    return sorted(pairs, key=lambda p: (-abs(p[2]), p[0], p[1]))[:n]


def findings(profile: Mapping[str, Any], settings: ProfileSettings) -> list[dict[str, str]]:
    """Everything a person should look at before modelling: {column, problem, detail}."""
    out = [
        {"column": column, "problem": "declared but not in the file", "detail": f"`{key}`"}
        for column, key in profile["absent"].items()
    ]
    if problem := profile.get("target_problem"):
        out.append({"column": "(target)", "problem": "no target analysis", "detail": problem})
    if duplicates := profile["table"]["duplicate_rows"]:
        out.append({"column": "", "problem": "exact duplicate rows", "detail": f"{duplicates:,}"})
    for column, s in profile["columns"].items():
        out += [
            {"column": column, "problem": problem, "detail": detail}
            for problem, detail in _column_findings(s, settings)
        ]
    return out


def _column_findings(s: Mapping[str, Any], settings: ProfileSettings) -> list[tuple[str, str]]:
    out = []
    if s["missing"] > settings.max_missing:
        out.append((f"missing in over {settings.max_missing:.0%} of rows", f"{s['missing']:.0%}"))
    if s.get("unparseable"):
        what = "times" if s["kind"] == "time" else "numbers"
        out.append((f"values that are not {what}", f"{s['unparseable']:,}"))
    if s["kind"] == "id":
        return out + ([("repeated ids", f"{s['repeated']:,}")] if s["repeated"] else [])
    if s["kind"] == "time":
        gap = s.get("longest_gap", 0)
        return out + ([("a week or more without rows", f"{gap} days")] if gap >= 7 else [])
    if s.get("top_share", 0) >= settings.near_constant:
        out.append(("almost constant", f"{s['top_share']:.1%} one value"))
    if s.get("impossible"):
        out.append(("impossible values (negative, or a flag not 0/1)", f"{s['impossible']:,}"))
    if s["kind"] == "category":
        if s["distinct_share"] >= settings.id_like and s["distinct"] > settings.long_tail:
            out.append(("looks like an id", f"{s['distinct']:,} distinct"))
        elif s["levels_to_coverage"] > settings.long_tail:
            cover = f"{s['levels_to_coverage']} levels cover {settings.coverage:.0%}"
            out.append(("long tail of levels", cover))
        if s["variants"]:
            out.append(
                ("levels that differ from another only in case or spaces", f"{s['variants']}")
            )
    if (s.get("auc") or 0) >= settings.leak_auc:
        out.append(
            ("separates the target almost alone: an id or a leak?", f"ROC-AUC {s['auc']:.3f}")
        )
    return out


def warning_lines(found: Sequence[Mapping[str, str]], shown: int = 6) -> list[str]:
    """One line per problem: per column when few columns have it, else one line listing them."""
    by_problem: dict[str, list[Mapping[str, str]]] = {}
    for item in found:
        by_problem.setdefault(item["problem"], []).append(item)
    lines = []
    for problem, items in by_problem.items():
        if len(items) <= 3:
            lines += [
                f"{i['column']}: {problem} ({i['detail']})"
                if i["column"]
                else f"{problem}: {i['detail']}"
                for i in items
            ]
            continue
        listed = first_few([f"{i['column']} ({i['detail']})" for i in items], shown)
        lines.append(f"{problem}, in {len(items)} columns: {listed}")
    return lines
