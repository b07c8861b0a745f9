"""Section `clicks_spark`: the feature stage on Spark in local mode against DuckDB on the same log
(20,000,000 clicks by default: the smaller of `--clicks`), each as `dvc repro` runs it. The two
feature files must be the same bytes; Spark's time over DuckDB's is reported as a fact, not a
target: on two cores Spark pays for shuffles a cluster spreads, and its value is the cluster."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from leadsift.bench.harness import Bench, Result, check, log, project_copy, run_watched
from leadsift.core.config import write_overrides

FEATURES = "data/clicks/features.parquet"


def digest(path: Path) -> str:
    """The file's SHA-256, read a block at a time (a feature file runs to gigabytes)."""
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def run(bench: Bench) -> list[Result]:
    """Build the log and its features on DuckDB, then switch `clicks_engine.engine` to spark and
    rerun the feature stage alone."""
    n = min(bench.clicks_sizes)
    repo = project_copy(bench.workdir / "clicks_spark", {"generate_clicks.n_clicks": n})
    log(f"clicks_spark: generate, prepare and features on DuckDB at {n:,} clicks")
    duck = run_watched(["dvc", "repro", "clicks_features"], repo)
    first = digest(repo / FEATURES)
    write_overrides(repo, {"clicks_engine.engine": "spark"})
    log("clicks_spark: clicks_features again on Spark (clicks_engine.spark_master)")
    spark = run_watched(["dvc", "repro", "clicks_features"], repo)
    same = digest(repo / FEATURES) == first
    clicks = json.loads((repo / "reports/clicks/data.json").read_text())["log"]["rows_in"]
    on_duckdb, on_spark = duck.stages["clicks_features"], spark.stages["clicks_features"]
    log(f"clicks_spark: DuckDB {on_duckdb['wall_s']:.0f} s, Spark {on_spark['wall_s']:.0f} s, "
        f"same bytes: {same}")  # fmt: skip
    shutil.rmtree(repo, ignore_errors=True)
    details = {"duckdb": on_duckdb, "spark": on_spark, "clicks": clicks}
    return [
        check("clicks feature files differing between DuckDB and Spark", int(not same),
              at=(clicks,), **details),
        Result("clicks_features on Spark local[2] / on DuckDB, wall time",
               round(on_spark["wall_s"] / on_duckdb["wall_s"], 3), "a fact, not a target", None,
               "x", {**details, "reported": "Spark's cost on one machine of two cores"},
               "clicks_spark"),
    ]  # fmt: skip
