"""Preparing a click log in the engine: the contract checked on every row, the rows that break it
quarantined with their reasons, every input row accounted for, and the clean clicks written with
their ids, as whole epoch seconds, sorted by click_id.

The log's days and the later days to score (`incoming`) are prepared together, so the features
see one timeline; the later days' labels, if their files carry any, are not read: they are not
known when those clicks are scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from leadsift.clicks import engine
from leadsift.clicks.schema import ClickRoles, reasons_sql, typed_sql
from leadsift.core.io import InputError

SUFFIXES = (".parquet", ".csv")
PARTS = ("log", "incoming")


def input_files(path: str | Path, key: str) -> list[Path]:
    """The Parquet or CSV files `path` names: itself, or those in it (a folder, one per day)."""
    path = Path(path)
    files = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES) if path.is_dir() else [path]
    if not path.exists() or not files:
        raise InputError(f"`{key}`: {path} holds no .parquet or .csv file")
    if len({f.suffix for f in files}) > 1:
        raise InputError(f"`{key}`: {path} mixes CSV and Parquet files; keep one kind")
    return files


def raw_sql(files: Sequence[Path]) -> str:
    """The files' rows, every column as it is, with the file's position and the row's number."""
    if files[0].suffix == ".csv":
        # A CSV reader has no row numbers of its own: each file is numbered in the order it is
        # read, which the engine keeps (`preserve_insertion_order`) however many threads read
        # it; numbered across files at once, a partition by file would lose that order.
        each = (
            f"SELECT *, {i} AS file, ROW_NUMBER() OVER () AS row FROM read_csv("
            f"{engine.quoted(f)}, all_varchar = true, header = true)"
            for i, f in enumerate(files, 1)
        )
        return "(" + " UNION ALL BY NAME ".join(each) + ")"
    listed = "[" + ", ".join(engine.quoted(f) for f in files) + "]"
    paths = ", ".join(engine.quoted(f) for f in files)
    scan = f"read_parquet({listed}, filename = true, file_row_number = true, union_by_name = true)"
    return (
        f"(SELECT *, list_position([{paths}], filename) AS file, file_row_number + 1 AS row "
        f"FROM {scan})"
    )


RAW = ("click_id", "ip", "app", "device", "os", "channel", "click_time", "attributed_time",
       "is_attributed")  # fmt: skip


def checked_sql(roles: ClickRoles, files: Sequence[Path], part: str) -> str:
    """Each row of a part with its parsed roles and its reasons (NULL when it meets the
    contract); the raw text is kept only on the rows that break it, for the quarantine."""
    labelled = part == "log"
    typed = typed_sql(roles, raw_sql(files), labelled=labelled)
    raw = ", ".join(f"CASE WHEN reason IS NOT NULL THEN raw_{c} END AS raw_{c}" for c in RAW)
    return (
        f"SELECT file, row, '{part}' AS part, click_id, ip, app, device, os, channel, t, "
        f"attributed_t, is_attributed, reason, {raw} FROM (SELECT *, "
        f"{reasons_sql(roles, labelled=labelled)} AS reason FROM ({typed}))"
    )


def prepare(
    connection: duckdb.DuckDBPyConnection,
    roles: ClickRoles,
    files: dict[str, list[Path]],
    clean_path: Path,
    quarantine_path: Path,
) -> dict[str, Any]:
    """Check, quarantine and write the parts (`log` and `incoming` files); the accounting.

    The contract runs in one pass over the files into a temporary table (the parsed columns, and
    the raw text of the rows that break it); a click_id seen before, in file order, is a reason
    too. The clean clicks, the quarantine and the accounting are read from that table."""
    checked = " UNION ALL ".join(checked_sql(roles, files[p], p) for p in PARTS if files.get(p))
    connection.execute(f"CREATE TEMP TABLE checked AS {checked}")
    if roles.click_id:
        mark_repeated_ids(connection)
    counts = accounting(connection)
    if counts["log"]["rows_clean"] == 0:
        raise InputError(f"every row of the click log was quarantined: {counts['log']['reasons']}")
    given = "click_id" if roles.click_id else "NULL"
    # a log without ids is numbered by click time (then file and row), the later days after it
    numbered = (
        f"COALESCE({given}, ROW_NUMBER() OVER (ORDER BY part = 'incoming', t, file, row) - 1)"
    )
    ids = ", ".join(
        f"CAST({c} AS INTEGER) AS {c}" for c in ("ip", "app", "device", "os", "channel")
    )
    engine.write_parquet(
        connection,
        f"SELECT {numbered} AS click_id, {ids}, t, attributed_t, "
        "CAST(is_attributed AS TINYINT) AS is_attributed, part "
        "FROM checked WHERE reason IS NULL ORDER BY click_id",
        clean_path,
    )
    raw_columns = ", ".join(f"raw_{c} AS {c}" for c in RAW)
    engine.write_parquet(
        connection,
        f"SELECT part, file, row, {raw_columns}, reason FROM checked WHERE reason IS NOT NULL "
        "ORDER BY part, file, row",
        quarantine_path,
    )
    connection.execute("DROP TABLE checked")
    return counts


def mark_repeated_ids(connection: duckdb.DuckDBPyConnection) -> None:
    """Quarantine every row whose click_id an earlier row (by part, file, row) holds, found
    among the few ids that repeat rather than by sorting the log."""
    connection.execute(
        "CREATE TEMP TABLE repeated AS SELECT part, file, row FROM (SELECT part, file, row, "
        "ROW_NUMBER() OVER (PARTITION BY click_id ORDER BY part = 'incoming', file, row) AS n "
        "FROM checked WHERE click_id IN (SELECT click_id FROM checked WHERE click_id IS NOT NULL "
        "GROUP BY click_id HAVING COUNT(*) > 1)) WHERE n > 1"
    )
    # a row clean until now kept no raw text: its parsed values stand in for it
    parsed = {c: f"CAST(c.{c} AS VARCHAR)" for c in ("click_id", "ip", "app", "device", "os",
              "channel", "is_attributed")}  # fmt: skip
    for column, seconds in (("click_time", "t"), ("attributed_time", "attributed_t")):
        parsed[column] = f"strftime(to_timestamp(c.{seconds}), '%Y-%m-%d %H:%M:%S')"
    raw = ", ".join(f"raw_{c} = COALESCE(c.raw_{c}, {value})" for c, value in parsed.items())
    connection.execute(
        "UPDATE checked c SET reason = CONCAT_WS('; ', reason, 'click_id repeated'), "
        f"{raw} "
        "FROM repeated r WHERE c.part = r.part AND c.file = r.file AND c.row = r.row"
    )


def accounting(connection: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Per part: rows in, clean and quarantined (every row one or the other), the count of each
    reason (a row may have several), and the clean rows' time span and attributed share."""
    counts: dict[str, Any] = {}
    for part, rows_in, clean, first, last, attributed in connection.execute(
        "SELECT part, COUNT(*), COUNT(*) FILTER (WHERE reason IS NULL), "
        "MIN(t) FILTER (WHERE reason IS NULL), MAX(t) FILTER (WHERE reason IS NULL), "
        "AVG(is_attributed) FILTER (WHERE reason IS NULL) FROM checked GROUP BY part ORDER BY part"
    ).fetchall():
        reasons = connection.execute(
            "SELECT reason, COUNT(*) FROM (SELECT UNNEST(STRING_SPLIT(reason, '; ')) AS reason "
            f"FROM checked WHERE part = '{part}' AND reason IS NOT NULL) GROUP BY reason "
            "ORDER BY COUNT(*) DESC, reason"
        ).fetchall()
        counts[part] = {
            "rows_in": rows_in,
            "rows_clean": clean,
            "rows_quarantined": rows_in - clean,
            "reasons": dict(reasons),
            "first_click": first,
            "last_click": last,
            "attributed_share": attributed,
        }
    return counts


def later_labels_sql(
    connection: duckdb.DuckDBPyConnection, roles: ClickRoles, files: Sequence[Path]
) -> str | None:
    """The labels the later days' own files carry (click_id, is_attributed), for monitoring once
    they are known; None where the files carry none or the clicks have no ids to match them."""
    if not (roles.click_id and roles.labelled):
        return None
    names = {
        row[0] for row in connection.execute(f"DESCRIBE SELECT * FROM {raw_sql(files)}").fetchall()
    }
    if not {roles.click_id, roles.is_attributed, roles.attributed_time} <= names:
        return None
    typed = typed_sql(roles, raw_sql(files), labelled=True)
    return (
        f"(SELECT click_id, is_attributed FROM ({typed}) WHERE click_id IS NOT NULL "
        "AND is_attributed IN (0, 1))"
    )
