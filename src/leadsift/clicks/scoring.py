"""Scoring later days of clicks out of core: the engine streams each day's features a block at a
time, the model answers each block, and the answers are written as they come, so memory holds a
block whatever the day's size.

Each click gets its probability of attribution and whether it is flagged as worth least (below
the threshold the served model carries, the one evaluation chose on the test day: the clicks
holding `1 - keep_installs` of its installs).
"""

from __future__ import annotations

from collections.abc import Sequence
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


def score_day(
    connection: duckdb.DuckDBPyConnection,
    model: ClickScorer,
    features: str,
    day: int,
    out: Path,
) -> dict[str, Any]:
    """Score one day's clicks block by block into `out` (Parquet, click_id order); its counts."""
    columns = ", ".join(dict.fromkeys(["click_id", *model.features, "channel", "app"]))
    query = f"SELECT {columns} FROM {features} WHERE day = {day}"
    clicks = flagged = 0
    predicted = 0.0
    with atomic_path(out) as tmp, pq.ParquetWriter(tmp, SCHEMA, compression="zstd") as writer:
        for batch in engine.in_file_order(connection, query):
            frame = batch.to_pandas()
            answer = model.answer(frame)
            probability, low = answer["probability"].to_numpy(), answer["flagged"].to_numpy()
            writer.write_table(
                pa.Table.from_pydict(
                    {
                        "click_id": frame["click_id"].to_numpy(np.int64),
                        "probability": probability,
                        "flagged": low,
                        "channel": frame["channel"].to_numpy(np.int32),
                        "app": frame["app"].to_numpy(np.int32),
                    },
                    schema=SCHEMA,
                )
            )
            clicks, flagged = clicks + len(frame), flagged + int(low.sum())
            predicted += float(probability.sum())
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
        score_day(
            connection,
            model,
            features,
            day,
            out=out_dir / f"{day_name(day)}.parquet",
        )
        for day in days
    ]
