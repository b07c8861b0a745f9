"""Column roles of a click log, read from config.yaml `clicks:`, and the log's contract in SQL.

Nothing downstream names a column of the embedded log: everything asks the roles, so a team's own
export in TalkingData's shape (`ip,app,device,os,channel,click_time,attributed_time,
is_attributed`, times like `2017-11-06 14:32:21`, `attributed_time` blank when not attributed)
works by editing config.yaml. A log without `click_id` gets one, in order of click time (then
file and row); one without labels can be scored, not trained on.

The contract names each reason a row is quarantined for; the prepare stage runs it in the engine
over the whole log, so every input row is accounted for without loading the log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from leadsift.core.io import InputError

IDS = ("ip", "app", "device", "os", "channel")
MAX_ID = 2**31 - 1  # ids are stored as 32-bit integers


@dataclass(frozen=True)
class ClickRoles:
    ip: str
    app: str
    device: str
    os: str
    channel: str
    click_time: str
    attributed_time: str | None = None  # null: an unlabelled log
    is_attributed: str | None = None
    click_id: str | None = None  # null: numbered in click-time order
    time_format: str | None = None  # e.g. "%Y-%m-%d %H:%M:%S"; null: ISO-like text or timestamps

    @classmethod
    def from_params(cls, data: Mapping[str, Any]) -> ClickRoles:
        """Roles from the `clicks:` section (its paths are not roles), checked to hang together."""
        roles = cls(**{f.name: data.get(f.name) for f in fields(cls)})
        if (roles.attributed_time is None) != (roles.is_attributed is None):
            raise InputError(
                "config.yaml: set both `clicks.attributed_time` and `clicks.is_attributed` (a "
                "labelled log), or neither (an unlabelled one)"
            )
        named = [v for v in (getattr(roles, f.name) for f in fields(cls)[:9]) if v is not None]
        if len(set(named)) != len(named):
            raise InputError("config.yaml: `clicks:` names one column for two roles")
        return roles

    @property
    def labelled(self) -> bool:
        return self.is_attributed is not None

    @property
    def columns(self) -> list[str]:
        """The export's columns these roles name."""
        names = [self.click_id, *(getattr(self, i) for i in IDS), self.click_time]
        return [c for c in (*names, self.attributed_time, self.is_attributed) if c is not None]


def _column(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _time(roles: ClickRoles, column: str) -> str:
    """Epoch seconds of a time column as text (or a timestamp), NULL where it does not parse."""
    text = f"NULLIF(TRIM(CAST({_column(column)} AS VARCHAR)), '')"
    if roles.time_format is not None:
        format_ = roles.time_format.replace("'", "''")
        parsed = f"TRY_STRPTIME({text}, '{format_}')"
    else:
        parsed = f"TRY_CAST({text} AS TIMESTAMP)"
    return f"CAST(FLOOR(epoch({parsed})) AS BIGINT)"


def typed_sql(roles: ClickRoles, raw: str, *, labelled: bool) -> str:
    """The raw rows of `raw` (a table expression with `file` and `row` columns) with each role
    parsed: ids as integers, times as whole epoch seconds, NULL where a value does not parse;
    `raw_*` columns keep the text, for the contract's reasons and the quarantine."""
    parts = []
    for role in (*IDS, "click_id"):
        column = getattr(roles, role)
        text = f"NULLIF(TRIM(CAST({_column(column)} AS VARCHAR)), '')" if column else "NULL"
        parts += [f"{text} AS raw_{role}", f"TRY_CAST({text} AS BIGINT) AS {role}"]
    parts += [
        f"CAST({_column(roles.click_time)} AS VARCHAR) AS raw_click_time",
        f"{_time(roles, roles.click_time)} AS t",
    ]
    if labelled and roles.labelled:
        flag = f"NULLIF(TRIM(CAST({_column(roles.is_attributed)} AS VARCHAR)), '')"
        parts += [
            f"CAST({_column(roles.attributed_time)} AS VARCHAR) AS raw_attributed_time",
            f"{_time(roles, roles.attributed_time)} AS attributed_t",
            f"{flag} AS raw_is_attributed",
            f"TRY_CAST(TRY_CAST({flag} AS DOUBLE) AS INTEGER) AS is_attributed",
        ]
    else:
        parts += [
            "NULL AS raw_attributed_time",
            "CAST(NULL AS BIGINT) AS attributed_t",
            "NULL AS raw_is_attributed",
            "CAST(NULL AS INTEGER) AS is_attributed",
        ]
    return f"SELECT file, row, {', '.join(parts)} FROM {raw}"


def reasons_sql(roles: ClickRoles, *, labelled: bool) -> str:
    """The contract over `typed_sql`'s columns: '; '-joined reasons a row breaks it, NULL when
    it holds."""
    checks = []
    for role in (*IDS, *(["click_id"] if roles.click_id else [])):
        checks += [
            (f"raw_{role} IS NULL", f"missing {role}"),
            (
                f"raw_{role} IS NOT NULL AND ({role} IS NULL OR "
                f"TRY_CAST(raw_{role} AS DOUBLE) <> {role})",
                f"{role} not a whole number",
            ),
            (f"{role} < 0", f"negative {role}"),
        ]
        if role != "click_id":
            checks.append((f"{role} > {MAX_ID}", f"{role} above {MAX_ID}"))
    checks += [
        ("NULLIF(TRIM(raw_click_time), '') IS NULL", "missing click_time"),
        ("NULLIF(TRIM(raw_click_time), '') IS NOT NULL AND t IS NULL", "click_time not a time"),
    ]
    if labelled and roles.labelled:
        given = "NULLIF(TRIM(raw_attributed_time), '') IS NOT NULL"
        checks += [
            (f"{given} AND attributed_t IS NULL", "attributed_time not a time"),
            ("raw_is_attributed IS NULL", "missing is_attributed"),
            (
                "raw_is_attributed IS NOT NULL AND (is_attributed IS NULL OR is_attributed "
                "NOT IN (0, 1) OR TRY_CAST(raw_is_attributed AS DOUBLE) <> is_attributed)",
                "is_attributed not 0 or 1",
            ),
            (
                "is_attributed = 1 AND attributed_t IS NULL",
                "is_attributed 1 without attributed_time",
            ),
            (f"is_attributed = 0 AND {given}", "attributed_time given but is_attributed 0"),
            ("attributed_t < t", "attributed_time before click_time"),
        ]
    cases = ", ".join(f"CASE WHEN {test} THEN '{reason}' END" for test, reason in checks)
    return f"NULLIF(CONCAT_WS('; ', {cases}), '')"
