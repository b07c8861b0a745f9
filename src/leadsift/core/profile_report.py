"""The data profile as people read it: a Markdown page with PNG figures (GitHub and CML render
both, offline), drawn from the profile dict alone."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from leadsift.core.io import write_json, write_text
from leadsift.core.plots import COLORS, STYLE, save_figure
from leadsift.core.profile_findings import ranking, top_pairs
from leadsift.core.report import table

TARGET_COLUMNS = 8  # the strongest columns drawn against the target
BAR_DAYS = {"week": 6, "day": 0.8, "hour": 0.8 / 24}  # a timeline's bar widths, in days


def _grid(n: int, columns: int, size: tuple[float, float]) -> tuple[Figure, np.ndarray]:
    rows = math.ceil(n / columns)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            rows, columns, figsize=(size[0] * columns, size[1] * rows), squeeze=False
        )
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


def timeline_figure(rows: Mapping[str, int], column: str, unit: str = "week") -> Figure:
    """Rows per week (per day or hour for a short log): gaps, launches and seasonality at a
    glance."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(9.0, 3.0))
    starts = np.array(list(rows), dtype="datetime64[h]" if unit == "hour" else "datetime64[D]")
    ax.bar(starts, list(rows.values()), width=BAR_DAYS[unit], color=COLORS["model"])
    ax.set_title(f"Rows per {unit} ({column})")
    ax.set_ylabel("rows")
    fig.autofmt_xdate()
    return fig


def numbers_figure(columns: Mapping[str, Mapping[str, Any]]) -> Figure:
    """A histogram per number over its 1-99% range (tails folded into the end bins); the members
    of a group are drawn as their total (each member's shape is in the table)."""
    fig, axes = _grid(len(columns), 5, (2.8, 1.9))
    for ax, (name, s) in zip(axes, columns.items(), strict=False):
        edges, counts = s["histogram"]["edges"], s["histogram"]["counts"]
        if counts:
            ax.stairs(counts, edges, fill=True, color=COLORS["model"])
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def categories_figure(columns: Mapping[str, Mapping[str, Any]], top: int) -> Figure:
    """The top levels of each category with their share of present rows."""
    fig, axes = _grid(len(columns), 2, (4.8, 0.25 * top + 0.8))
    for ax, (name, s) in zip(axes, columns.items(), strict=False):
        levels = s["top"][:top][::-1]
        ax.barh([t["level"] for t in levels], [t["share"] for t in levels], color=COLORS["model"])
        ax.set_title(f"{name} ({s['distinct']:,} levels)", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("share of rows", fontsize=8)
    fig.tight_layout()
    return fig


def target_figure(profile: Mapping[str, Any], names: list[str]) -> Figure:
    """Genuine rate with its interval per level or bin, for the strongest columns."""
    stats = {**profile["columns"], **{f"{g} (total)": s for g, s in profile["groups"].items()}}
    fig, axes = _grid(len(names), 2, (4.8, 2.6))
    overall = profile["target"]["rate"]
    for ax, name in zip(axes, names, strict=False):
        rates = stats[name]["rates"]
        y = np.arange(len(rates))[::-1]
        rate = np.array([r["rate"] for r in rates])
        low, high = np.array([r["low"] for r in rates]), np.array([r["high"] for r in rates])
        ax.errorbar(rate, y, xerr=[rate - low, high - rate], fmt="o", color=COLORS["model"], ms=3)
        ax.axvline(overall, color=COLORS["reference"], linestyle="--", linewidth=1)
        ax.set_yticks(y, [r["level"] for r in rates], fontsize=7)
        ax.set_title(f"{name} (ROC-AUC {stats[name]['auc']:.3f})", fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
    fig.supxlabel(f"{_positive(profile)} rate (dashed: overall)", fontsize=9)
    fig.tight_layout()
    return fig


def correlations_figure(names: list[str], matrix: list[list[float]]) -> Figure:
    size = max(4.0, 0.22 * len(names) + 2)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(np.array(matrix, dtype=float), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=6)
    ax.set_yticks(range(len(names)), names, fontsize=6)
    ax.grid(False)
    ax.set_title("Correlations (Pearson of signed log1p)")
    fig.colorbar(image, ax=ax, shrink=0.7)
    return fig


def profile_figures(profile: Mapping[str, Any], top: int) -> dict[str, Figure]:
    """The page's figures by file name; a figure with nothing to draw is left out."""
    columns = profile["columns"]
    members = {c for s in profile["groups"].values() for c in s["members"]}
    numbers = {c: s for c, s in columns.items() if s["kind"] == "number" and c not in members}
    numbers |= {f"{g} (total)": s for g, s in profile["groups"].items()}
    categories = {c: s for c, s in columns.items() if s["kind"] == "category"}
    times = [(c, s) for c, s in columns.items() if s["kind"] == "time" and s.get("weeks")]
    figures = {}
    if times:
        column, s = times[0]
        timeline = s.get("timeline", {"unit": "week", "rows": s["weeks"]})  # a short log's
        figures["timeline.png"] = timeline_figure(timeline["rows"], column, timeline["unit"])
    if numbers:
        figures["numbers.png"] = numbers_figure(numbers)
    if categories:
        figures["categories.png"] = categories_figure(categories, top)
    if "target" in profile and (strongest := [n for n, *_ in ranking(profile)][:TARGET_COLUMNS]):
        figures["target.png"] = target_figure(profile, strongest)
    if len(profile["correlations"]["columns"]) > 1:
        corr = profile["correlations"]
        figures["correlations.png"] = correlations_figure(corr["columns"], corr["matrix"])
    return figures


def _share(value: float) -> str:
    if not value:
        return "0"
    return f"{value:.1%}" if value >= 0.001 else "<0.1%"


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(counts: list[int]) -> str:
    """A histogram in one line of text, for a table cell."""
    top = max(counts, default=0)
    if not top:
        return ""
    return "".join(SPARKS[min(len(SPARKS) - 1, int(len(SPARKS) * c / top))] for c in counts)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:,.4g}"


def _category_rows(columns: Mapping[str, Mapping[str, Any]]) -> list[list[str]]:
    return [
        [
            f"`{c}`",
            s["role"],
            _share(s["missing"]),
            _share(s["placeholders"]),
            f"{s['distinct']:,}",
            f"{s['levels_to_coverage']:,}",
            ", ".join(f"{t['level']} {t['share']:.0%}" for t in s["top"][:3]),
        ]
        for c, s in columns.items()
    ]


def _number_rows(columns: Mapping[str, Mapping[str, Any]]) -> list[list[str]]:
    rows = []
    for c, s in columns.items():
        q = s["quantiles"]
        rows.append(
            [
                f"`{c}`",
                s.get("role", "group total"),
                _share(s["missing"]),
                _share(s["zeros"]),
                _share(s["negatives"]),
                _share(s["outliers"]),
                *(_number(q[k]) for k in ("min", "p25", "p50", "p75", "p99", "max")),
                sparkline(s["histogram"]["counts"]),
            ]
        )
    return rows


def render_profile(profile: Mapping[str, Any], source: str, figures: list[str]) -> str:
    """The page `reports/profile/<input>.md`; figures are linked from `<input>/`."""
    name, t, columns = profile["input"], profile["table"], profile["columns"]
    folder = f"{name}/"
    lines = [
        f"# Data profile: {name}",
        "",
        f"`{source}` as read, before the contract: {t['rows']:,} rows x {t['columns']} columns, "
        f"{t['duplicate_rows']:,} exact duplicate rows, {t['memory_mb']:,.1f} MB in memory.",
        "",
        *(line for note in profile.get("notes", []) for line in (note, "")),
        "## Warnings",
        "",
        *([f"- {w}" for w in profile["warnings"]] or ["None."]),
        "",
    ]
    for c, s in columns.items():
        if s["kind"] == "time" and s.get("first"):
            lines += [
                "## Time coverage",
                "",
                f"`{c}`: {s['first']} to {s['last']}, {s['empty_days']} days without rows "
                f"(longest gap {s['longest_gap']} days), {s['unparseable']:,} unparseable.",
                "",
            ]
    if "timeline.png" in figures:
        lines += [f"![rows per week]({folder}timeline.png)", ""]
    ids = {c: s for c, s in columns.items() if s["kind"] == "id"}
    for c, s in ids.items():
        per = s["rows_per_value"]
        repeats = f"{s['repeated']:,} repeated" if s["unique"] else f"{per['mean']:.1f} rows each"
        lines += [
            f"Id `{c}`: {s['distinct']:,} distinct, {repeats} (at most {per['max']:,}), "
            f"{_share(s['missing'])} missing.",
            "",
        ]
    categories = {c: s for c, s in columns.items() if s["kind"] == "category"}
    if categories:
        coverage = f"levels covering {profile['coverage']:.0%}"
        header = ["column", "role", "missing", "placeholders", "levels", coverage, "top levels"]
        lines += ["## Categories", "", table(header, _category_rows(categories)), ""]
        if "categories.png" in figures:
            lines += [f"![top levels]({folder}categories.png)", ""]
    numbers = {c: s for c, s in columns.items() if s["kind"] == "number"}
    numbers |= {f"{g} (total)": s for g, s in profile["groups"].items()}
    if numbers:
        header = ["column", "role", "missing", "zeros", "negatives", "outliers"]
        header += ["min", "25%", "median", "75%", "99%", "max", "histogram (1-99%)"]
        lines += ["## Numbers", "", table(header, _number_rows(numbers)), ""]
        if "numbers.png" in figures:
            lines += [f"![histograms]({folder}numbers.png)", ""]
    if "target" in profile:
        lines += _target_lines(profile, folder, "target.png" in figures)
    if pairs := top_pairs(profile):
        lines += ["## Correlations", ""]
        if "correlations.png" in figures:
            lines += [f"![correlations]({folder}correlations.png)", ""]
        rows = [[f"`{a}`", f"`{b}`", f"{r:+.2f}"] for a, b, r in pairs]
        lines += ["Most correlated pairs:", "", table(["column", "column", "r"], rows), ""]
    return "\n".join(lines)


def _positive(profile: Mapping[str, Any]) -> str:
    """What the target's positive class is called (the leads': genuine)."""
    return profile["target"].get("positive", "genuine")


def _target_lines(profile: Mapping[str, Any], folder: str, figure: bool) -> list[str]:
    target, positive = profile["target"], _positive(profile)
    rate = "n/a" if target["rate"] is None else f"{target['rate']:.1%}"
    rows = [
        [str(i), f"`{name}`", f"{auc:.3f}", f"{'higher' if sign > 0 else 'lower'} → {positive}"]
        for i, (name, auc, sign) in enumerate(ranking(profile), start=1)
    ]
    lines = [
        "## Against the target",
        "",
        f"`{target['column']}`: {target['labelled']:,} labelled rows, {positive} rate {rate}. "
        f"Each column alone, ranked by ROC-AUC (a category scores by its level's {positive} "
        "rate, in-sample, so many rare levels flatter it):",
        "",
        table(["rank", "column", "ROC-AUC", "direction"], rows),
        "",
    ]
    if figure:
        lines += [f"![{positive} rate per level]({folder}target.png)", ""]
    return lines


def write_profile(directory: str | Path, profile: Mapping[str, Any], source: str, top: int) -> None:
    """`<input>.json`, `<input>.md` and the figures in `<input>/`, under `directory`."""
    directory, name = Path(directory), profile["input"]
    figures = profile_figures(profile, top)
    for file, fig in figures.items():
        save_figure(fig, directory / name / file)
    write_json(directory / f"{name}.json", profile)
    write_text(directory / f"{name}.md", render_profile(profile, source, list(figures)))
