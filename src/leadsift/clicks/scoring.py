"""Scoring later days of clicks out of core: the engine streams each day's features a block at a
time, the model answers each block, and the answers are written as they come, so memory holds a
block whatever the day's size.

Each click gets its probability of attribution and whether it is flagged as worth least (below
the threshold the served model carries, the one evaluation chose on the test day: the clicks
holding `1 - keep_installs` of its installs).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from leadsift.clicks import engine
from leadsift.clicks.features import day_name
from leadsift.clicks.model import ClickScorer
from leadsift.core.io import atomic_path

SCHEMA = pa.schema(
    [
        ("click_id", pa.int64()),
        ("probability", pa.float64()),
        ("flagged", pa.bool_()),
        ("channel", pa.int32()),
        ("app", pa.int32()),
    ]
)


def unlabelled_days(connection: duckdb.DuckDBPyConnection, features: str) -> list[int]:
    """The later days: the clicks prepared without labels."""
    rows = connection.execute(
        f"SELECT DISTINCT day FROM {features} WHERE is_attributed IS NULL ORDER BY day"
    ).fetchall()
    return [day for (day,) in rows]


def example_rows(
    connection: duckdb.DuckDBPyConnection, features: str, names: Sequence[str], n: int = 5
) -> pd.DataFrame:
    """The features of the last day's first `n` clicks: rows as a request sends them, with the
    log's history behind them (a first day's clicks would lack every gap and rate)."""
    last = f"(SELECT MAX(day) FROM {features})"
    query = f"SELECT {', '.join(names)} FROM {features} WHERE day = {last} ORDER BY click_id"
    return connection.execute(f"{query} LIMIT {n}").df()


def answered_blocks(
    connection: duckdb.DuckDBPyConnection, model: ClickScorer, features: str, day: int
) -> Iterator[pa.Table]:
    """A day's clicks answered by the model block by block, in click_id order (SCHEMA)."""
    columns = ", ".join(scored_columns(model))
    query = f"SELECT {columns} FROM {features} WHERE day = {day}"
    for batch in engine.in_file_order(connection, query):
        yield pa.Table.from_pydict(answered(model, batch.to_pandas()), schema=SCHEMA)


def answered(model: ClickScorer, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The columns of SCHEMA for `frame`'s clicks: their ids and sources, and the model's answer."""
    answer = model.answer(frame)
    return {
        "click_id": frame["click_id"].to_numpy(np.int64),
        "probability": answer["probability"].to_numpy(),
        "flagged": answer["flagged"].to_numpy(),
        "channel": frame["channel"].to_numpy(np.int32),
        "app": frame["app"].to_numpy(np.int32),
    }


def scored_columns(model: ClickScorer) -> list[str]:
    """The columns scoring reads: the id, the model's features, the sources a report names."""
    return list(dict.fromkeys(["click_id", *model.features, "channel", "app"]))


def write_scored(blocks: Iterable[pa.Table], day: int, out: Path) -> dict[str, Any]:
    """A day's answered blocks written to `out` (Parquet) as they come; its counts."""
    clicks = flagged = 0
    predicted = 0.0
    with atomic_path(out) as tmp, pq.ParquetWriter(tmp, SCHEMA, compression="zstd") as writer:
        for block in blocks:
            writer.write_table(block)
            clicks += block.num_rows
            flagged += int(block["flagged"].to_numpy().sum())
            predicted += float(block["probability"].to_numpy().sum())
    return {
        "day": day_name(day),
        "clicks_scored": clicks,
        "flagged_share": flagged / max(clicks, 1),
        "predicted_installs": predicted,
    }


def score_days(
    connection: duckdb.DuckDBPyConnection,
    model: ClickScorer,
    features: str,
    days: Sequence[int],
    out_dir: Path,
) -> list[dict[str, Any]]:
    """Each later day scored into `out_dir/<date>.parquet`."""
    return [
        write_scored(
            answered_blocks(connection, model, features, day),
            day,
            out_dir / f"{day_name(day)}.parquet",
        )
        for day in days
    ]
