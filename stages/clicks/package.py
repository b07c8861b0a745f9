"""Stage clicks_package: the served click model, the trained model with the flag threshold
clicks_evaluate chose for it (leadsift.clicks.model.ClickScorer). It is the model that is
registered, served by `make serve PIPELINE=clicks` and used by clicks_score and clicks_monitor: a
click's features in; its probability of attribution and whether it is flagged out.
"""

import argparse
import json
import logging
from pathlib import Path

from leadsift.clicks import engine
from leadsift.clicks.model import TRUSTED_TYPES, ClickScorer
from leadsift.clicks.param_rules import RULES
from leadsift.clicks.scoring import example_rows
from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.model_store import load_model, save_model

log = logging.getLogger("leadsift.clicks.package")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model_dir", help="the trained click model (models/click_model)")
    parser.add_argument("evaluation", help="reports/clicks/evaluation.json, for the threshold")
    parser.add_argument("features", help="the clicks with their features, for the input example")
    parser.add_argument("served_dir", help="folder for the served model")
    args = parser.parse_args()
    params = load_params(RULES)
    threshold = json.loads(Path(args.evaluation).read_text())["flagged"]["threshold"]
    scorer = ClickScorer(load_model(args.model_dir, TRUSTED_TYPES), threshold)
    with engine.connect(engine.EngineSettings.from_params(params["clicks_engine"])) as connection:
        features = engine.parquet_source([Path(args.features)])
        example = example_rows(connection, features, scorer.features)
    save_model(
        scorer, args.served_dir, example, TRUSTED_TYPES, predict_fn="predict", signature=False
    )
    log.info("saved %s: clicks below %.3g flagged", args.served_dir, threshold)


if __name__ == "__main__":
    run_stage(main)
