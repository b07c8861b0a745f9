"""The click log's data profile, computed by the engine: SQL aggregates over the raw files, never
loaded, make the dict `core.profile.profile_table` makes of a table in memory, so the page, the
warnings and the pull request's data diff read it unchanged.

The files are read as they are, before the contract (a log the prepare stage rejects is profiled
as far as it can be read), the way the contract reads them (`schema.typed_sql`). The ids (ip, app,
device, os, channel) are categories: one grouping over the log counts each level's clicks and
attributed clicks (and the clicks per hour, and per set of contract reasons), and the top levels,
their attributed rates with Wilson intervals and the ROC-AUC of a level's rate (the leak warning's
input) are read from that table of levels, never per click. `click_id` is an id, `click_time` the
time, and `is_attributed` with `attributed_time` the target, with the delay from click to install.

Memory follows the levels (some 280,000 ips in TalkingData's 185M clicks), not the clicks:
distinct click_ids are counted in a bitmap over their range; duplicate rows (and click_ids past
BITMAP_RANGE) in one of ceil(rows / SLICE_ROWS) hash slices of the rows, every copy of a row in the
same slice, then scaled (exact up to SLICE_ROWS rows); the delay's exact quantiles hold the
attributed clicks' delays (some 460,000 of 185M). `estimated` names every number that is an
estimate. A column the roles do not name
is listed in a note, not profiled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from leadsift.clicks.cleaning import raw_sql
from leadsift.clicks.engine import quoted
from leadsift.clicks.schema import IDS, MAX_ID, ClickRoles, reasons_sql, typed_sql
from leadsift.core.io import InputError, first_few
from leadsift.core.profile import MISSING_LEVEL, OTHER_LEVELS, QUANTILES, ProfileSettings, wilson
from leadsift.core.profile_findings import findings, warning_lines

SLICE_ROWS = 1_000_000  # rows whose duplicates are counted exactly; past it, in one hash slice
BITMAP_RANGE = 2**28  # click_id ranges counted exactly, in a bitmap of up to 32 MB
TOP = 20  # levels listed per category, as `core.profile` lists them
HOURLY_DAYS, DAILY_DAYS = 14, 400  # a log this short gets a timeline per hour, then per day
PROFILED = ("click_id", *IDS, "click_time")  # columns; the target's two are described apart
ROLES = (*PROFILED, "attributed_time", "is_attributed")
BYTES = dict.fromkeys(IDS, 4) | {"is_attributed": 1}  # as typed; any other column counts 8
SCAN_COLUMNS = ("filename", "file_row_number", "file", "row")  # what `raw_sql` adds
LEVELS = "profile_levels"  # the temporary table of levels
ORDER = "n DESC, TRY_CAST(level AS BIGINT), level"  # a category's levels, most clicks first


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _label(text: str) -> str:
    """1 or 0 where the flag's text reads as one (as the contract reads it), else NULL."""
    number = f"TRY_CAST({text} AS DOUBLE)"
    return f"CASE WHEN {number} IN (0, 1) THEN CAST({number} AS INTEGER) END"


@dataclass
class _Log:
    """The log in the engine: `raw` as read, `typed` with the roles parsed, `y` the label, the
    `hour` and the contract's `reasons`."""

    connection: duckdb.DuckDBPyConnection
    raw: str
    typed: str
    rows: int = 0
    estimated: dict[str, str] = field(default_factory=dict)

    def one(self, sql: str) -> tuple:
        return self.connection.execute(sql).fetchone()

    def all(self, sql: str) -> list[tuple]:
        return self.connection.execute(sql).fetchall()

    def repeats(self, value: str, source: str, rows: int, what: str) -> tuple[int, int]:
        """Rows beyond the first of each `value` of `source` and the most rows of one, among the
        values hashed into one of ceil(rows / SLICE_ROWS) slices, the repeats scaled: exact up to
        SLICE_ROWS rows, and in memory of about SLICE_ROWS values at any size."""
        slices = max(1, math.ceil(rows / SLICE_ROWS))
        extra, most = self.one(
            "SELECT COALESCE(SUM(n - 1), 0), COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM "
            f"(SELECT hash({value}) AS h FROM {source}) WHERE h % {slices} = 0 GROUP BY h)"
        )
        if slices > 1:
            self.estimated[what] = f"from 1 hash slice of {slices}"
        return int(extra) * slices, int(most)


def profile_log(
    connection: duckdb.DuckDBPyConnection,
    roles: ClickRoles,
    files: Sequence[Path],
    settings: ProfileSettings,
) -> dict[str, Any]:
    """The profile of the click log in `files` (`cleaning.input_files`), as `profile_table`'s."""
    raw = raw_sql(files)
    try:
        described = connection.execute(f"DESCRIBE SELECT * FROM {raw}").fetchall()
    except duckdb.Error as err:
        raise InputError(f"`clicks.raw_path`: cannot read {files[0]}: {err}") from err
    present = [name for name, *_ in described if name not in SCAN_COLUMNS]
    declared = {getattr(roles, r): r for r in ROLES if getattr(roles, r)}
    absent = {c: f"clicks.{r}" for c, r in declared.items() if c not in present}
    filled = f"(SELECT *, {', '.join(f'NULL AS {_q(c)}' for c in absent)} FROM {raw})"
    label = _label("raw_is_attributed") if roles.labelled else "CAST(NULL AS INTEGER)"
    typed = typed_sql(roles, filled if absent else raw, labelled=True)
    extra = f"{label} AS y, CAST(FLOOR(t / 3600) AS BIGINT) AS hour"
    log = _Log(connection, raw, f"(SELECT *, {extra}, {reasons_sql(roles, labelled=True)} AS "
               f"reasons FROM ({typed}))")  # fmt: skip
    try:
        totals = _totals(log)
    except (duckdb.InvalidInputException, duckdb.IOException) as err:
        raise InputError(f"`clicks.raw_path`: cannot read {files[0]}: {err}") from err
    log.rows = totals["rows"]
    if not log.rows:
        raise InputError(f"`clicks.raw_path`: {files[0]} holds no clicks")
    ids = [r for r in IDS if getattr(roles, r) in present]
    grouping = _grouping([*ids, "hour", "reasons"], log.typed)
    connection.execute(f"CREATE OR REPLACE TEMP TABLE {LEVELS} AS {grouping}")
    labelled = roles.labelled and roles.is_attributed in present and totals["labelled"] > 0
    categories = _categories(log, ids, settings, labelled=labelled)
    columns: dict[str, Any] = {}
    for column in (c for c in present if declared.get(c) in PROFILED):
        role = declared[column]
        if role in IDS:
            entry = categories[role] | {
                f: totals[f"{role}_{f}"] for f in ("unparseable", "impossible")
            }
        else:
            entry = _time(log, totals) if role == "click_time" else _click_id(log, totals)
        columns[column] = {"role": f"clicks.{role}"} | entry
    width = sum(BYTES.get(declared.get(c, ""), 8) for c in present)
    profile: dict[str, Any] = {
        "input": "clicks",
        "coverage": settings.coverage,
        "table": {
            "rows": log.rows,
            "columns": len(present),
            "duplicate_rows": _duplicates(log, present, columns.get(roles.click_id or "")),
            "memory_mb": log.rows * width / 2**20,  # as typed columns: what loading it takes
        },
        "columns": columns,
        "groups": {},
        "absent": absent,
        "target_problem": None,
        "correlations": {"columns": [], "matrix": []},
        "contract": _contract(log),
        "estimated": log.estimated,
    }
    if labelled:
        profile["target"] = _target(totals, roles)
    elif roles.labelled and roles.is_attributed in present:
        profile["target_problem"] = f"no row's `{roles.is_attributed}` is 0 or 1"
    connection.execute(f"DROP TABLE {LEVELS}")
    profile["notes"] = _notes(profile, files, roles, [c for c in present if c not in declared])
    found = findings(profile, settings)
    if broken := profile["contract"]["rows"]:
        reasons = first_few([f"{r} {n:,}" for r, n in profile["contract"]["reasons"].items()], 4)
        problem = {"column": "", "problem": "rows that break the contract"}
        found.append(problem | {"detail": f"{broken:,} ({reasons})"})
    return profile | {"findings": found, "warnings": warning_lines(found)}


def _totals(log: _Log) -> dict[str, Any]:
    """One pass of whole-log aggregates: rows, missing and unparseable values, ranges, labels."""
    parts = {"rows": "COUNT(*)"}
    for role in (*IDS, "click_id"):
        given = f"raw_{role} IS NOT NULL"
        parts[f"{role}_blank"] = f"COUNT(*) FILTER (WHERE NOT {given})"
        parts[f"{role}_unparseable"] = f"COUNT(*) FILTER (WHERE {given} AND {role} IS NULL)"
        parts[f"{role}_impossible"] = f"COUNT(*) FILTER (WHERE {role} < 0 OR {role} > {MAX_ID})"
    blank = "NULLIF(TRIM(raw_click_time), '') IS NULL"
    delay, timed = "attributed_t - t", "FILTER (WHERE y = 1 AND attributed_t >= t)"
    shares = ", ".join(str(float(q)) for q in QUANTILES.values())
    parts |= dict(
        id_low="MIN(click_id)", id_high="MAX(click_id)", first="MIN(t)", last="MAX(t)",
        time_blank=f"COUNT(*) FILTER (WHERE {blank})",
        time_unparseable=f"COUNT(*) FILTER (WHERE NOT ({blank}) AND t IS NULL)",
        labelled="COUNT(y)", positives="COALESCE(SUM(y), 0)", timed=f"COUNT(*) {timed}",
        delay=f"quantile_cont({delay}, [{shares}]) {timed}",
    )  # fmt: skip
    select = ", ".join(f"{sql} AS {name}" for name, sql in parts.items())
    return dict(zip(parts, log.one(f"SELECT {select} FROM {log.typed}"), strict=True))


def _grouping(columns: Sequence[str], source: str) -> str:
    """Clicks, labelled and attributed clicks per level (NULL: missing) of each column."""
    which = " ".join(f"WHEN GROUPING({c}) = 0 THEN '{c}'" for c in columns)
    level = " ".join(f"WHEN GROUPING({c}) = 0 THEN CAST({c} AS VARCHAR)" for c in columns)
    return (
        f"SELECT CASE {which} END AS col, CASE {level} END AS level, COUNT(*) AS n, COUNT(y) AS "
        f"labelled, COALESCE(SUM(y), 0) AS positives FROM {source} "
        f"GROUP BY GROUPING SETS ({', '.join(f'({c})' for c in columns)})"
    )


def _categories(
    log: _Log, columns: list[str], settings: ProfileSettings, *, labelled: bool
) -> dict[str, Any]:
    """The category entries of `columns` (missing: no whole number, for an id), from the table
    of levels; against the target, the ROC-AUC of a labelled click's level rate is counted per
    distinct rate (levels of one rate tie), from the table too."""
    of = f"FROM {LEVELS} WHERE col IN ({', '.join(quoted(c) for c in columns) or 'NULL'})"
    stats = log.all(
        "SELECT col, COUNT(level), COALESCE(SUM(n) FILTER (WHERE level IS NOT NULL), 0), COUNT(*) "
        f"FILTER (WHERE level IS NOT NULL AND cum < {settings.coverage - 1e-12} * present) + 1, "
        "SUM(labelled) FILTER (WHERE level IS NOT NULL), SUM(positives) FILTER (WHERE level IS "
        "NOT NULL), SUM(labelled) FILTER (WHERE level IS NULL), SUM(positives) FILTER (WHERE "
        f"level IS NULL) FROM (SELECT *, SUM(n) OVER (PARTITION BY col ORDER BY level IS NULL, "
        f"{ORDER} ROWS UNBOUNDED PRECEDING) AS cum, SUM(n) FILTER (WHERE level IS NOT NULL) OVER "
        f"(PARTITION BY col) AS present {of}) GROUP BY col"
    )
    top = log.all(
        f"SELECT col, level, n, labelled, positives FROM (SELECT *, ROW_NUMBER() OVER (PARTITION "
        f"BY col ORDER BY {ORDER}) AS rank {of} AND level IS NOT NULL) "
        f"WHERE rank <= {max(TOP, settings.top_levels)} ORDER BY col, rank"
    )
    aucs = log.all(
        "WITH scores AS (SELECT col, positives / labelled AS score, SUM(positives)::DOUBLE AS p, "
        f"SUM(labelled - positives)::DOUBLE AS q {of} AND labelled > 0 GROUP BY col, score), "
        "ranked AS (SELECT *, SUM(q) OVER (PARTITION BY col ORDER BY score ROWS UNBOUNDED "
        "PRECEDING) - q AS below FROM scores) SELECT col, SUM(p * (below + q / 2)) / "
        "NULLIF(SUM(p) * SUM(q), 0) FROM ranked GROUP BY col HAVING COUNT(*) > 1"
    )
    auc = dict(aucs)
    out = {}
    for col, distinct, present, cover, lab, pos, lab_missing, pos_missing in stats:
        levels = [row[1:] for row in top if row[0] == col]
        out[col] = {
            "kind": "category",
            "missing": 1 - present / max(log.rows, 1),
            "placeholders": 0.0,
            "distinct": distinct,
            "distinct_share": distinct / max(log.rows, 1),
            "variants": 0,  # whole numbers, or trimmed text: nothing to merge
            "levels_to_coverage": min(cover, distinct),
            "top_share": levels[0][1] / present if present else 0.0,
            "top": [{"level": level, "share": n / present} for level, n, *_ in levels[:TOP]],
        }
        if labelled:
            groups = [(level, n, p) for level, _, n, p in levels[: settings.top_levels]]
            other = (lab or 0) - sum(g[1] for g in groups), (pos or 0) - sum(g[2] for g in groups)
            groups += [(OTHER_LEVELS, *other), (MISSING_LEVEL, lab_missing or 0, pos_missing or 0)]
            out[col]["rates"] = _rates([g for g in groups if g[1] > 0], settings.confidence)
            a = auc.get(col)
            direction = 0 if a is None else 1 if a >= 0.5 else -1
            out[col] |= {"auc": None if a is None else max(a, 1 - a), "direction": direction}
    return out


def _rates(groups: list[tuple[str, int, int]], confidence: float) -> list[dict[str, Any]]:
    """Per (level, labelled, attributed): rows, attributed rate and its Wilson interval."""
    bounds = wilson(np.array([g[2] for g in groups]), np.array([g[1] for g in groups]), confidence)
    # a bound can miss a rate of 0 or 1 by a rounding error, which the figure cannot draw
    return [
        {"level": level, "rows": n, "rate": p / n, "low": min(lo, p / n), "high": max(hi, p / n)}
        for (level, n, p), (lo, hi) in zip(groups, bounds, strict=True)
    ]


def _time(log: _Log, totals: dict[str, Any]) -> dict[str, Any]:
    """Range, unparseable share, clicks per ISO week (and per hour or day when the log is short),
    and the days without a click, from the clicks per hour."""
    hours = log.all(f"SELECT CAST(level AS BIGINT) AS h, n FROM {LEVELS} WHERE col = 'hour' AND "
                    "level IS NOT NULL ORDER BY h")  # fmt: skip
    out: dict[str, Any] = {
        "kind": "time",
        "missing": totals["time_blank"] / max(log.rows, 1),
        "unparseable": totals["time_unparseable"],
    }
    if not hours:
        return out | {"first": None, "last": None, "weeks": {}, "empty_days": 0, "longest_gap": 0}
    hour, count = np.array(hours, dtype=np.int64).T
    day = hour // 24
    active = np.unique(day)
    weeks, week = np.unique(day - (day + 3) % 7, return_inverse=True)  # day 0 was a Thursday
    span, per_week = int(active[-1] - active[0] + 1), np.bincount(week, count).astype(int)
    out |= {
        "first": str(np.datetime64(int(totals["first"]), "s")).replace("T", " "),
        "last": str(np.datetime64(int(totals["last"]), "s")).replace("T", " "),
        "weeks": dict(zip(_dates(weeks, "D"), per_week.tolist(), strict=True)),
        "empty_days": span - len(active),
        "longest_gap": int(max(np.diff(active) - 1, default=0)),
    }
    if span <= DAILY_DAYS:
        unit, code, step = ("hour", "h", hour) if span <= HOURLY_DAYS else ("day", "D", day)
        per = np.bincount(step - step[0], count).astype(int).tolist()
        starts = _dates(range(step[0], step[-1] + 1), code)
        out["timeline"] = {"unit": unit, "rows": dict(zip(starts, per, strict=True))}
    return out


def _dates(numbers: Sequence[int], unit: str) -> list[str]:
    return [str(np.datetime64(int(n), unit)) for n in numbers]


def _click_id(log: _Log, totals: dict[str, Any]) -> dict[str, Any]:
    """Distinct click ids counted in a bitmap over their range (estimated past BITMAP_RANGE),
    their repeats, and the most rows of one."""
    given = log.rows - totals["click_id_blank"] - totals["click_id_unparseable"]
    low, high = totals["id_low"], totals["id_high"]
    ids = f"(SELECT click_id FROM {log.typed} WHERE click_id IS NOT NULL)"
    distinct, most = 0, 0
    if given and high - low < BITMAP_RANGE:
        (distinct,) = log.one(
            f"SELECT bit_count(bitstring_agg(click_id, {low}, {high})) FROM {ids}"
        )
        most = 1 if distinct == given else log.repeats("click_id", ids, given, "click_id.max")[1]
    elif given:
        repeated, most = log.repeats("click_id", ids, given, "click_id.repeated")
        distinct = given - repeated
    return {
        "kind": "id",
        "unique": True,
        "missing": 1 - given / max(log.rows, 1),  # no whole number
        "unparseable": totals["click_id_unparseable"],
        "distinct": distinct,
        "repeated": given - distinct,
        "rows_per_value": {"mean": given / distinct if distinct else 0.0, "max": most},
    }


def _duplicates(log: _Log, present: list[str], ids: dict[str, Any] | None) -> int:
    """Exact duplicate rows: none when every row has its own click_id."""
    unique = ids and not ids["missing"] and not ids["repeated"]
    if unique and "click_id.repeated" not in log.estimated:
        return 0
    return log.repeats(", ".join(map(_q, present)), log.raw, log.rows, "duplicate_rows")[0]


def _contract(log: _Log) -> dict[str, Any]:
    """Rows that break the contract and the rows of each reason (a row may have several): the
    prepare stage quarantines them (and any row repeating an earlier row's click_id)."""
    broken = log.all(f"SELECT level, n FROM {LEVELS} WHERE col = 'reasons' AND level IS NOT NULL")
    counts: dict[str, int] = {}
    for reasons, n in broken:
        for reason in reasons.split("; "):
            counts[reason] = counts.get(reason, 0) + n
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return {"rows": sum(n for _, n in broken), "reasons": dict(ranked)}


def _target(totals: dict[str, Any], roles: ClickRoles) -> dict[str, Any]:
    """The attributed share, and the quantiles of the delay from click to install."""
    delay = dict(zip(QUANTILES, totals["delay"], strict=True)) if totals["timed"] else None
    return {
        "column": roles.is_attributed,
        "labelled": totals["labelled"],
        "rate": totals["positives"] / totals["labelled"],
        "positive": "attributed",
        "attributed": totals["positives"],
        "time_column": roles.attributed_time,
        "delay_seconds": delay,
    }


def _notes(profile: dict, files: Sequence[Path], roles: ClickRoles, others: list) -> list[str]:
    """The page's lines on how its numbers were made, the contract and the delay to install."""
    size = sum(f.stat().st_size for f in files) / 2**20
    notes = [f"Summarised by the engine from {len(files)} {files[0].suffix[1:]} file(s) of "
             f"{size:,.1f} MB without loading them; the memory above is their columns' as "
             "typed."]  # fmt: skip
    if broken := profile["contract"]["rows"]:
        reasons = first_few([f"{r} {n:,}" for r, n in profile["contract"]["reasons"].items()], 6)
        notes.append(f"{broken:,} rows ({broken / profile['table']['rows']:.2%}) break the "
                     f"contract; the prepare stage quarantines them: {reasons}.")  # fmt: skip
    if delay := profile.get("target", {}).get("delay_seconds"):
        h = {k: f"{v / 3600:.3g} h" for k, v in delay.items()}
        notes.append(
            f"From click to install (`{roles.attributed_time}`): median {h['p50']}, the middle "
            f"half {h['p25']} to {h['p75']}, 99% within {h['p99']}, longest {h['max']}."
        )
    if others:
        listed = ", ".join(f"`{c}`" for c in others)
        notes.append(f"Not profiled, as no role in config.yaml `clicks:` names them: {listed}.")
    if profile["estimated"]:
        listed = ", ".join(f"{k} ({how})" for k, how in profile["estimated"].items())
        notes.append(f"Estimated, not counted: {listed}.")
    return notes
