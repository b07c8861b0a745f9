"""Scoring later days of clicks on Spark: the model runs where the rows are (`mapInPandas`), and
each day's answers are written to the same file, in the same blocks, as the DuckDB path writes
(`leadsift.clicks.scoring`), so the two agree to the last bit.

Each Python worker loads the served model from its directory through the trusted loader, never
from a pickle shipped by the driver: on a cluster the model directory must be where the workers
can read it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd
import pyarrow as pa

from leadsift.clicks import engine
from leadsift.clicks.features import day_name
from leadsift.clicks.model import TRUSTED_TYPES, ClickScorer
from leadsift.clicks.scoring import SCHEMA, answered, scored_columns, write_scored
from leadsift.clicks.spark import ordered_parts
from leadsift.core.model_store import load_model

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

SCORED = "click_id long, probability double, flagged boolean, channel int, app int"


def answer_partition(model_dir: str, frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """A partition's clicks with their answers; the model is loaded once per partition."""
    model = load_model(model_dir, TRUSTED_TYPES)
    for frame in frames:
        yield pd.DataFrame(answered(model, frame))


def scored_day(
    spark: SparkSession,
    model_dir: Path,
    features: Path,
    columns: list[str],
    *,
    day: int,
    folder: Path,
) -> list[Path]:
    """A day's clicks scored by Spark into part files in `folder`, in click_id order."""
    # absolute paths: a worker's working folder is not the stage's
    rows: DataFrame = spark.read.parquet(str(features.resolve())).where(f"day = {day}")
    answer = partial(answer_partition, str(Path(model_dir).resolve()))
    scored = rows.select(*columns).mapInPandas(answer, SCORED).orderBy("click_id")
    scored.write.mode("overwrite").parquet(str(folder.resolve()))
    return ordered_parts(folder)


def stored_blocks(connection: duckdb.DuckDBPyConnection, parts: list[Path]) -> Iterator[pa.Table]:
    """Scored part files read back in click_id order, in the blocks the DuckDB path writes."""
    query = f"SELECT {', '.join(SCHEMA.names)} FROM {engine.parquet_source(parts)}"
    for batch in engine.in_file_order(connection, query):
        yield pa.Table.from_batches([batch]).cast(SCHEMA)


def score_days(
    spark: SparkSession,
    connection: duckdb.DuckDBPyConnection,
    model: ClickScorer,
    features: Path,
    days: Sequence[int],
    *,
    model_dir: Path,
    out_dir: Path,
) -> list[dict[str, Any]]:
    """Each later day scored by Spark into `out_dir/<date>.parquet`, the same file the DuckDB path
    (`scoring.score_days`) writes; the workers load `model`, saved in `model_dir`, themselves."""
    columns = scored_columns(model)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    summaries = []
    for day in days:
        with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=".spark-") as folder:
            parts = scored_day(
                spark, model_dir, features, columns, day=day, folder=Path(folder) / "parts"
            )
            out = out_dir / f"{day_name(day)}.parquet"
            summaries.append(write_scored(stored_blocks(connection, parts), day, out))
    return summaries
