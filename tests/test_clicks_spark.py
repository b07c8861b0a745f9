"""The click features and batch scoring on Spark (local mode, a real session) equal DuckDB's: every
row and column bit for bit, in the same file bytes, on a log built from the traps of running one
window SQL on both engines: same-second ties, windows whose edges fall exactly on a click, keys
seen once, missing labels, gaps and rates, midnights, and rows stored in no particular order."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from leadsift.clicks import engine, spark, spark_scoring
from leadsift.clicks.features import DAY, POINT_IN_TIME, feature_names, features_sql
from leadsift.clicks.model import TRUSTED_TYPES, ClickModel, ClickScorer
from leadsift.clicks.scoring import score_days, unlabelled_days
from leadsift.core.model_store import save_model
from tests.test_clicks_features import D0, edge_case_log, write_clicks

# Row groups of about 1,000 rows: Spark's parts (4 partitions of the ~3,000 clicks) end inside
# DuckDB's chunks, so the files are the same bytes only if the row groups are cut alike.
ROW_GROUP = 1000


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def trap_log() -> pd.DataFrame:
    """The edge-case log (ties; clicks 0, 1, 59, 60, 61, 3599, 3600, 3601, 86399, 86400 and 86401 s
    apart; midnights; installs at a day's start; an unlabelled last day), plus keys seen once and
    two clicks of one key in the first and last second of a day, stored in shuffled row order."""
    log = edge_case_log()
    once = pd.DataFrame(
        {
            "ip": [9001, 9002, 9003, 9004, 9004],
            "app": [77, 78, 79, 80, 80],
            "device": 1,
            "os": 1,
            "channel": [91, 92, 93, 94, 94],
            "t": [D0 + 5, D0 + DAY + 7, D0 + 2 * DAY + 11, D0 + DAY, D0 + 2 * DAY - 1],
        }
    ).assign(click_id=len(log) + np.arange(5), attributed_t=pd.NA, is_attributed=0)
    once["is_attributed"] = pd.Series([0, 0, pd.NA, 0, 0], dtype="Int8")
    log = pd.concat([log, once.astype({"attributed_t": "Int64"})], ignore_index=True)
    return log.sample(frac=1, random_state=5, ignore_index=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("spark")
    with spark.session(spark.SparkSettings("local[2]", "1g", 4, str(folder))) as session:
        yield session


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, cluster) -> Path:
    """The trap log prepared, and its feature file written by each engine."""
    root = tmp_path_factory.mktemp("engines")
    source = write_clicks(trap_log(), root / "clicks.parquet")
    with engine.connect(engine.EngineSettings("1GB", str(root / "spill"), 2)) as connection:
        engine.write_parquet(connection, features_sql(source), root / "duckdb.parquet", ROW_GROUP)
        spark.write_features(cluster, connection, root / "clicks.parquet", root / "spark.parquet",
                             row_group_size=ROW_GROUP)  # fmt: skip
    return root


def test_spark_reads_the_prepared_log_with_no_timestamp_to_convert(built, cluster):
    """Times are whole epoch seconds (BIGINT): Spark's TIMESTAMP_NTZ reading of DuckDB-written
    timestamps and the engines' different epoch fractions never reach a feature."""
    types = dict(cluster.read.parquet(str(built / "clicks.parquet")).dtypes)
    assert types["t"] == types["attributed_t"] == "bigint"


def test_the_feature_files_of_both_engines_are_the_same_bytes(built):
    assert pq.ParquetFile(built / "duckdb.parquet").metadata.num_row_groups > 1
    duck = pq.read_table(built / "duckdb.parquet")
    assert pq.read_table(built / "spark.parquet").equals(duck)  # every row, column and type
    assert digest(built / "spark.parquet") == digest(built / "duckdb.parquet")
    assert duck.num_rows == len(trap_log())


def test_the_traps_are_in_the_log(built):
    """The equality above covers what the engines could disagree on."""
    log, df = trap_log(), pd.read_parquet(built / "duckdb.parquet")
    assert set(df.columns) >= {f.name for f in POINT_IN_TIME}
    assert log.duplicated(["t", "ip"]).any()  # same-second ties
    assert (log.groupby("ip").size() == 1).any()  # keys seen once
    assert (df["n_ip_1m"] > 0).any() and (df["gap_user_app"] == 60).any()  # edges on a click
    assert df["gap_user_app"].isna().any() and df["rate_app"].isna().any()  # missing features
    assert df["is_attributed"].isna().any()  # an unlabelled day
    assert (df["apps_per_ip_today"] > 1).any()  # distinct counts (no COUNT(DISTINCT) OVER)
    assert {0, 23} <= set(df["hour"])  # both sides of midnight


def test_trailing_counts_read_by_probes_equal_the_sliding_frames(built):
    """Spark's form of the trailing counts (`probes=True`), run on DuckDB, gives DuckDB's own."""
    source = engine.parquet_source([built / "clicks.parquet"])
    with engine.connect(engine.EngineSettings("1GB", str(built / "spill"), 1)) as connection:
        framed = connection.execute(features_sql(source)).to_arrow_table()
        probed = connection.execute(features_sql(source, probes=True)).to_arrow_table()
    assert probed.cast(framed.schema).equals(framed)


def test_spark_features_do_not_depend_on_the_rows_storage_order(built, cluster, tmp_path):
    reordered = pq.read_table(built / "clicks.parquet").sort_by([("t", "descending")])
    pq.write_table(reordered, tmp_path / "clicks.parquet", row_group_size=500)
    with engine.connect(engine.EngineSettings("1GB", str(tmp_path / "spill"), 1)) as connection:
        spark.write_features(cluster, connection, tmp_path / "clicks.parquet", tmp_path / "f",
                             row_group_size=ROW_GROUP)  # fmt: skip
    assert digest(tmp_path / "f") == digest(built / "duckdb.parquet")


def test_part_files_out_of_click_id_order_are_refused(tmp_path):
    for name, ids in (("part-00000", [5, 6]), ("part-00001", []), ("part-00002", [1, 2])):
        table = pa.table({"click_id": pa.array(ids, pa.int64())})
        pq.write_table(table, tmp_path / f"{name}.parquet")
    with pytest.raises(ValueError, match=r"not in click_id order at .*part-00002"):
        spark.ordered_parts(tmp_path)
    (tmp_path / "part-00000.parquet").unlink()
    assert [p.name for p in spark.ordered_parts(tmp_path)] == ["part-00002.parquet"]


@pytest.fixture(scope="module")
def served(built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small click model fitted on the labelled days, saved as the pipeline serves it."""
    features = pd.read_parquet(built / "duckdb.parquet")
    labelled = features[features["is_attributed"].notna()]
    model = ClickModel(
        features=feature_names(), n_bags=2, params={"n_estimators": 30, "verbose": -1, "n_jobs": 1}
    ).fit(labelled, labelled["is_attributed"].to_numpy())
    folder = tmp_path_factory.mktemp("model") / "clicks"
    example = features[feature_names()].head(3)
    save_model(
        ClickScorer(model, 0.02), folder, example, TRUSTED_TYPES, predict_fn="predict",
        signature=False,
    )  # fmt: skip
    return folder


def test_a_day_scored_on_spark_equals_the_duckdb_score_to_the_last_bit(built, served, cluster):
    from leadsift.core.model_store import load_model  # noqa: PLC0415

    model = load_model(served, TRUSTED_TYPES)
    with engine.connect(engine.EngineSettings("1GB", str(built / "spill"), 1)) as connection:
        features = engine.parquet_source([built / "duckdb.parquet"])
        days = unlabelled_days(connection, features)
        duck = score_days(connection, model, features, days, out_dir=built / "scored_duckdb")
        on_spark = spark_scoring.score_days(
            cluster, connection, model, built / "duckdb.parquet", days,
            model_dir=served, out_dir=built / "scored_spark",
        )  # fmt: skip
    assert on_spark == duck and duck[0]["clicks_scored"] > 0
    for name in sorted(p.name for p in (built / "scored_duckdb").iterdir()):
        a, b = built / "scored_duckdb" / name, built / "scored_spark" / name
        np.testing.assert_array_equal(
            pq.read_table(a)["probability"].to_numpy(), pq.read_table(b)["probability"].to_numpy()
        )
        assert digest(a) == digest(b)
