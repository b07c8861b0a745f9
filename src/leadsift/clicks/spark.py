"""The clicks pipeline's feature and scoring stages on Spark, for a team whose cluster is Spark:
the same window SQL (`leadsift.clicks.features`) and the same model, giving the same numbers.

The feature SQL runs as written: its frames are RANGE frames over whole epoch seconds (integers,
so no interval units and no Parquet timestamp types to read), the distinct counts are sums of
first-of-day markers (Spark refuses `COUNT(DISTINCT) OVER`), and ties are decided by `click_id`
where they matter, never by storage order. Only its trailing counts take their probe form
(`features.probes_sql`), since Spark re-aggregates a sliding frame at every row. Spark writes
its result in click_id order as part files; DuckDB copies them, in order, into the stage's one
output file with the column types the DuckDB query gives, through the same writer. Both engines
therefore write the same bytes, and switching engines reruns nothing downstream.

Scoring on Spark is `leadsift.clicks.spark_scoring`.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from leadsift.clicks import engine
from leadsift.clicks.features import features_sql, nullable

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger("leadsift.clicks.spark")


@dataclass(frozen=True)
class SparkSettings:
    """config.yaml `clicks_engine.spark_*`: where Spark runs and what a local session may take."""

    master: str  # "local[2]", or the cluster's URL ("yarn", "spark://host:7077", ...)
    memory: str  # the driver's memory; in local mode the executors live in the driver
    partitions: int  # spark.sql.shuffle.partitions
    local_dir: str  # shuffle and spill files

    @classmethod
    def from_params(cls, engine_params: Mapping[str, Any]) -> SparkSettings:
        spill = str(Path(engine_params["temp_directory"]).resolve() / "spark")
        return cls(
            engine_params["spark_master"],
            engine_params["spark_memory"],
            engine_params["spark_partitions"],
            spill,
        )


@contextmanager
def session(settings: SparkSettings) -> Iterator[SparkSession]:
    """A Spark session on `settings.master` (UTC, UI off), stopped on exit. Its Python workers run
    this interpreter (unless PYSPARK_PYTHON says otherwise), so they import the same leadsift and
    libraries: on a cluster, that environment must exist at the same path on every node."""
    try:
        from pyspark.sql import SparkSession  # noqa: PLC0415 - optional: docs/scale.md
    except ImportError as error:
        raise RuntimeError(
            "clicks_engine.engine is spark but pyspark is not installed: run `make install-scale` "
            "(it needs Java 17 or later), or set clicks_engine.engine: duckdb"
        ) from error
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # pyspark 4.3 warns on each pandas exchange that pandas 3 is not fully supported; the columns
    # exchanged here are numbers, and the tests hold the answers equal to DuckDB's.
    warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas", FutureWarning)
    Path(settings.local_dir).mkdir(parents=True, exist_ok=True)
    builder = (
        SparkSession.builder.master(settings.master)
        .appName("leadsift-clicks")
        .config("spark.driver.memory", settings.memory)
        .config("spark.sql.shuffle.partitions", settings.partitions)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    if settings.master.startswith("local"):  # a cluster's nodes keep their own scratch space
        builder = builder.config("spark.local.dir", settings.local_dir)
        builder = builder.config("spark.driver.host", "127.0.0.1")
        builder = builder.config("spark.driver.bindAddress", "127.0.0.1")
    spark = builder.getOrCreate()
    done = threading.Event()
    reporter = threading.Thread(target=report_progress, args=(spark, done), daemon=True)
    try:
        spark.sparkContext.setLogLevel("ERROR")
        reporter.start()
        yield spark
    finally:
        done.set()
        if reporter.is_alive():
            reporter.join()
        spark.stop()


def report_progress(spark: SparkSession, done: threading.Event, every_s: float = 30) -> None:
    """Log the running Spark stages' tasks every `every_s` seconds until `done` (long work shows
    it is moving; Spark's own console bar is off, as it garbles logs)."""
    tracker = spark.sparkContext.statusTracker()
    while not done.wait(every_s):
        stages = [tracker.getStageInfo(i) for i in tracker.getActiveStageIds()]
        if running := [s for s in stages if s is not None]:
            log.info("Spark: %s", "; ".join(
                f"stage {s.stageId} {s.numCompletedTasks}/{s.numTasks} tasks" for s in running
            ))  # fmt: skip


def ordered_parts(folder: Path) -> list[Path]:
    """The non-empty part files Spark wrote to `folder` for a query ordered by click_id, in that
    order; raises if their click_id ranges overlap (then they were not written sorted)."""
    parts, last = [], None
    for path in sorted(folder.glob("part-*.parquet")):
        metadata = pq.ParquetFile(path).metadata
        if metadata.num_rows == 0:
            continue
        ids = metadata.schema.names.index("click_id")
        groups = [
            metadata.row_group(g).column(ids).statistics for g in range(metadata.num_row_groups)
        ]
        low, high = min(s.min for s in groups), max(s.max for s in groups)
        if last is not None and low <= last:
            raise ValueError(f"Spark's part files in {folder} are not in click_id order at {path}")
        parts.append(path)
        last = high
    return parts


def gather(
    connection: duckdb.DuckDBPyConnection,
    parts: list[Path],
    types: Mapping[str, str],
    out: Path,
    row_group_size: int = engine.ROW_GROUP_ROWS,
) -> None:
    """Spark's ordered parts copied into one Parquet file, each column cast to `types` and
    nullable, as the feature SQL writes it on DuckDB (`features.nullable`). The rows reach DuckDB
    in whole chunks whatever the parts' sizes, so its writer cuts the row groups where it cuts
    them for its own query's rows: the same bytes."""
    if not parts:
        raise ValueError(
            f"Spark wrote no rows for {out}: the prepared log is empty, or the executors wrote "
            "their part files where this machine cannot see them (use storage every node shares)"
        )
    stream = (batch for part in parts for batch in pq.ParquetFile(part).iter_batches())
    problem = f"Spark's part files in {parts[0].parent} hold rows out of click_id order"
    chunks = engine.rebatched(engine.checked_order(stream, problem), 64 * engine.VECTOR)
    reader = pa.RecordBatchReader.from_batches(pq.read_schema(parts[0]), chunks)
    columns = ", ".join(nullable(f'CAST("{name}" AS {kind})', name) for name, kind in types.items())
    connection.register("spark_parts", reader)
    try:
        engine.write_parquet(connection, f"SELECT {columns} FROM spark_parts", out, row_group_size)
    finally:
        connection.unregister("spark_parts")


def query_types(connection: duckdb.DuckDBPyConnection, query: str) -> dict[str, str]:
    """The column types DuckDB gives the result of `query` (planned, not run)."""
    return {name: kind for name, kind, *_ in connection.execute(f"DESCRIBE {query}").fetchall()}


def write_features(
    spark: SparkSession,
    connection: duckdb.DuckDBPyConnection,
    clicks: Path,
    out: Path,
    *,
    row_group_size: int = engine.ROW_GROUP_ROWS,
) -> None:
    """Every click of the prepared `clicks` with its features, computed by Spark, written to `out`
    as the DuckDB path (`engine.write_parquet`) writes it."""
    types = query_types(connection, features_sql(engine.parquet_source([clicks])))
    spark.read.parquet(str(clicks.resolve())).createOrReplaceTempView("clicks")
    with tempfile.TemporaryDirectory(dir=out.resolve().parent, prefix=".spark-") as folder:
        query = features_sql("clicks", probes=True)
        spark.sql(query).write.mode("overwrite").parquet(folder)
        gather(connection, ordered_parts(Path(folder)), types, out, row_group_size)
