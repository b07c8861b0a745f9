"""Stage clicks_features: every click's point-in-time features, computed by the engine.

A click sees only the clicks strictly before it, to the second, and the installs known by then
(leadsift.clicks.features); the log and the later days are one timeline, so a later day's first
clicks see the log's last ones.
"""

import argparse
import logging
from pathlib import Path

from leadsift.clicks import engine, spark
from leadsift.clicks.features import POINT_IN_TIME, day_name, features_sql
from leadsift.clicks.param_rules import RULES
from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import write_json

log = logging.getLogger("leadsift.clicks.features")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("clicks", help="the prepared clicks (Parquet)")
    parser.add_argument("features", help="the clicks with their features (Parquet)")
    parser.add_argument("report", help="summary JSON: rows per day, the features")
    args = parser.parse_args()
    params = load_params(RULES)
    settings = params["clicks_engine"]
    with engine.connect(engine.EngineSettings.from_params(settings)) as connection:
        log.info("computing %d features per click on %s", len(POINT_IN_TIME), settings["engine"])
        if settings["engine"] == "spark":
            with spark.session(spark.SparkSettings.from_params(settings)) as cluster:
                spark.write_features(cluster, connection, Path(args.clicks), Path(args.features))
        else:
            source = engine.parquet_source([Path(args.clicks)])
            engine.write_parquet(connection, features_sql(source), args.features)
        featured = engine.parquet_source([Path(args.features)])
        days = connection.execute(
            f"SELECT day, COUNT(*), COUNT(is_attributed) FROM {featured} GROUP BY day ORDER BY day"
        ).fetchall()
    summary = {
        "features": [f.name for f in POINT_IN_TIME],
        "days": {day_name(d): {"clicks": n, "labelled": labelled} for d, n, labelled in days},
    }
    write_json(args.report, summary)
    log.info("wrote %s clicks over %d day(s)", f"{sum(n for _, n, _ in days):,}", len(days))


if __name__ == "__main__":
    run_stage(main)
