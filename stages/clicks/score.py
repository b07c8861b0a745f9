"""Stage clicks_score: the later days' clicks scored out of core, in blocks, with accounting.

Every click of `clicks.incoming` is accounted for (clicks_prepare quarantined those that break the
contract); each clean one gets its probability of attribution and whether it is flagged as worth
least, at the threshold the served model carries (clicks_evaluate chose it on the test day).
"""

import argparse
import json
import logging
from pathlib import Path

from leadsift.clicks import engine, spark, spark_scoring
from leadsift.clicks.model import TRUSTED_TYPES
from leadsift.clicks.param_rules import RULES
from leadsift.clicks.scoring import score_days, unlabelled_days
from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import write_json
from leadsift.core.model_store import load_model, model_uuid

log = logging.getLogger("leadsift.clicks.score")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model_dir", help="the served click model (models/clicks)")
    parser.add_argument("features", help="the clicks with their features (Parquet)")
    parser.add_argument("accounting", help="reports/clicks/data.json: the later days' rows")
    parser.add_argument("out_dir", help="folder for each later day's scored clicks")
    parser.add_argument("report", help="scoring summary JSON")
    args = parser.parse_args()
    params = load_params(RULES)
    model = load_model(args.model_dir, TRUSTED_TYPES)
    settings = params["clicks_engine"]
    with engine.connect(engine.EngineSettings.from_params(settings)) as connection:
        features = engine.parquet_source([Path(args.features)])
        later = unlabelled_days(connection, features)
        log.info("scoring %d later day(s) on %s", len(later), settings["engine"])
        if settings["engine"] == "spark":
            with spark.session(spark.SparkSettings.from_params(settings)) as cluster:
                days = spark_scoring.score_days(
                    cluster, connection, model, Path(args.features), later,
                    model_dir=Path(args.model_dir), out_dir=Path(args.out_dir),
                )  # fmt: skip
        else:
            days = score_days(connection, model, features, later, out_dir=Path(args.out_dir))
    accounting = json.loads(Path(args.accounting).read_text()).get("incoming", {})
    summary = {
        "model": f"{args.model_dir}@{model_uuid(args.model_dir)[:12]}",
        "threshold": model.threshold,
        "rows": {k: accounting.get(k, 0) for k in ("rows_in", "rows_clean", "rows_quarantined")},
        "days": days,
    }
    write_json(args.report, summary)
    for day in days:
        log.info("%s: %s clicks scored, %.1f%% flagged, %.0f installs predicted", day["day"],
                 f"{day['clicks_scored']:,}", 100 * day["flagged_share"],
                 day["predicted_installs"])  # fmt: skip


if __name__ == "__main__":
    run_stage(main)
