"""Pieces of the Markdown report both pipelines use: tables, and the promotion gate's verdict.

Plain Markdown with relative image links, so it reads the same on GitHub, in a pull-request
comment (CML uploads the images) and in a local viewer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


WOULD = {
    "promoted": "would be promoted",
    "challenger": "would stay challenger",
    "rejected": "would be rejected",
}


def verdict(promotion: Mapping[str, Any]) -> str:
    """The decision in a few words: what happened, or what would happen where promotion is off."""
    outcome, version = promotion["decision"], promotion.get("version")
    if outcome == "unchanged":
        return f"unchanged ({promotion['reasons'][0]})"
    if not promotion["applied"]:
        return f"{WOULD[outcome]} (promotion is off: {promotion['promotion']['why']})"
    if outcome == "promoted":
        return f"promoted: version {version} is the champion"
    return f"{outcome}: version {version}"


def _reasons_after_verdict(promotion: Mapping[str, Any]) -> list[str]:
    """The gate's reasons `verdict` does not give already (an unchanged model's one is in it)."""
    return [] if promotion["decision"] == "unchanged" else promotion["reasons"]


def promotion_lines(promotion: Mapping[str, Any], lead: str) -> list[str]:
    """The report's paragraph on the gate: `lead` (which model), the verdict, then the reasons
    as bullets."""
    reasons = _reasons_after_verdict(promotion)
    return [f"{lead}: **{verdict(promotion)}**.", "", *(f"- {r}" for r in reasons), ""]


def decision_line(promotion: Mapping[str, Any]) -> str:
    """The verdict and the gate's reasons, as a register stage logs them."""
    reasons = _reasons_after_verdict(promotion)
    return f"{verdict(promotion)}: {'; '.join(reasons)}" if reasons else verdict(promotion)


def data_profile_lines(profile: Mapping[str, Any], link: str) -> list[str]:
    """The data profile's warnings, with a link to the page (relative to the report)."""
    warnings = profile["warnings"]
    head = f"Data profile of the raw input: [{link}]({link}), "
    if not warnings:
        return [head + "no warnings.", ""]
    return [head + f"{len(warnings)} warnings:", "", *(f"- {w}" for w in warnings), ""]
