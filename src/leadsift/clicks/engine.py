"""The engine the clicks pipeline runs its SQL on: DuckDB, embedded and out of core.

A stage never holds the click log in pandas: it hands SQL to the engine, which reads Parquet,
sorts and windows in bounded memory (`memory_limit`), spilling to `temp_directory` past it, and
writes Parquet back, or hands over record batches a block at a time. The SQL is plain window SQL
(`leadsift.clicks.features`), so another engine can run the same definitions.

Outputs are written to a temporary file beside the target and moved into place, as every stage's
are (`core.io.atomic_path`), and in a stated row order, so two builds write the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from leadsift.core.io import atomic_path

BATCH_ROWS = 250_000  # rows a block of a streamed query holds: ~0.2 GB of features in flight
ROW_GROUP_ROWS = 1_000_000
VECTOR = 2048  # the rows of a DuckDB chunk


@dataclass(frozen=True)
class EngineSettings:
    """config.yaml `clicks_engine`: how much of the machine the engine may take."""

    memory_limit: str  # e.g. "4GB": past it, sorts and windows spill to temp_directory
    temp_directory: str
    threads: int

    @classmethod
    def from_params(cls, engine: Mapping[str, Any]) -> EngineSettings:
        return cls(engine["memory_limit"], engine["temp_directory"], engine["threads"])


def connect(settings: EngineSettings) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection within the settings' memory, threads and spill folder."""
    Path(settings.temp_directory).mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(
        config={
            "memory_limit": settings.memory_limit,
            "threads": settings.threads,
            "temp_directory": str(Path(settings.temp_directory).resolve()),
            "preserve_insertion_order": True,
        }
    )
    connection.execute("SET TimeZone = 'UTC'")
    return connection


def quoted(path: str | Path) -> str:
    """A path as an SQL string literal."""
    return "'" + str(path).replace("'", "''") + "'"


def parquet_source(paths: list[Path]) -> str:
    """`read_parquet` of these files, as a table expression."""
    if not paths:
        raise ValueError("no Parquet files to read")
    listed = ", ".join(quoted(p) for p in sorted(paths))
    return f"read_parquet([{listed}])"


def write_parquet(
    connection: duckdb.DuckDBPyConnection,
    query: str,
    path: str | Path,
    row_group_size: int = ROW_GROUP_ROWS,
) -> None:
    """The rows of `query` (which states their order) written to `path` atomically. DuckDB closes
    a row group at the first whole chunk (VECTOR rows) past `row_group_size` rows."""
    with atomic_path(path) as tmp:
        connection.execute(
            f"COPY ({query}) TO {quoted(tmp)} (FORMAT parquet, COMPRESSION zstd, "
            f"ROW_GROUP_SIZE {row_group_size})"
        )


def batches(
    connection: duckdb.DuckDBPyConnection, query: str, rows: int = BATCH_ROWS
) -> Iterator[pa.RecordBatch]:
    """The rows of `query` as Arrow record batches of up to `rows` rows, one at a time."""
    yield from connection.sql(query).to_arrow_reader(rows)


def in_file_order(
    connection: duckdb.DuckDBPyConnection, query: str, rows: int = BATCH_ROWS
) -> Iterator[pa.RecordBatch]:
    """Batches of `rows` rows (the last may be shorter) of a query that filters a file written in
    click_id order (the feature stage's), with no ORDER BY: the engine keeps the file's order, so
    a day streams in click_id order in constant memory, where sorting it would hold the whole
    day. The batches' bounds do not depend on the engine's chunks, so neither do the row groups
    of a file written batch by batch. Raises if the rows are out of click_id order."""
    problem = (
        f"`{query}` reads rows out of click_id order; the feature stage writes them in it: "
        "rebuild with `dvc repro clicks_features`"
    )
    return rebatched(checked_order(batches(connection, query, rows), problem), rows)


def checked_order(blocks: Iterable[pa.RecordBatch], problem: str) -> Iterator[pa.RecordBatch]:
    """`blocks` as they come, raising ValueError(`problem`) at the first click_id not above the
    one before it."""
    last = -1
    for batch in blocks:
        ids = batch.column("click_id").to_numpy()
        if len(ids) and (ids[0] <= last or (ids[1:] <= ids[:-1]).any()):
            raise ValueError(problem)
        last = ids[-1] if len(ids) else last
        yield batch


def rebatched(blocks: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """The rows of `blocks`, in order, as batches of exactly `rows` rows (the last may be
    shorter), whatever sizes they came in."""
    held: list[pa.RecordBatch] = []
    for batch in blocks:
        held.append(batch)
        if sum(b.num_rows for b in held) >= rows:
            table = pa.Table.from_batches(held).combine_chunks()
            while table.num_rows >= rows:
                yield table.slice(0, rows).combine_chunks().to_batches()[0]
                table = table.slice(rows)
            held = [b for b in table.to_batches() if b.num_rows]
    if held:
        yield from pa.Table.from_batches(held).combine_chunks().to_batches()
