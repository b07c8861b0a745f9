"""Stage clicks_register: the promotion gate decides on the click model and, where promotion is
on, registers it and moves the alias it earned.

The gate is the other pipelines' (leadsift.core.gate): a floor on test-day ROC-AUC, then the new
model against the champion on the same test-day clicks, a paired bootstrap over them. Promotion is
on in the workspace of the main branch (or with LEADSIFT_PROMOTION=on); elsewhere the report says
what the gate would do (docs/promotion.md).
"""

import argparse
import json
from pathlib import Path

from leadsift.clicks import engine
from leadsift.clicks.evaluation import champion_comparison
from leadsift.clicks.features import feature_names
from leadsift.clicks.model import TRUSTED_TYPES
from leadsift.clicks.param_rules import RULES
from leadsift.clicks.training import labelled_days, load_sample, split_days
from leadsift.core import registry
from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.gate import Candidate
from leadsift.core.model_store import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model_dir", help="the served click model (models/clicks)")
    parser.add_argument("features", help="the clicks with their features (Parquet)")
    parser.add_argument("evaluation", help="reports/clicks/evaluation.json, for the ROC-AUC")
    parser.add_argument("report", help="promotion decision JSON")
    args = parser.parse_args()
    params = load_params(RULES)
    gate = params["clicks_register"]
    with engine.connect(engine.EngineSettings.from_params(params["clicks_engine"])) as connection:
        features = engine.parquet_source([Path(args.features)])
        split = split_days(labelled_days(connection, features), params["clicks_split"])
        draw = {"negative_rate": gate["negative_rate"], "n_bags": 1, "seed": gate["seed"]}
        sample = load_sample(connection, features, feature_names(), split.test, **draw)
    model_dir = Path(args.model_dir)
    candidate = Candidate(
        model_dir,
        metric="test_roc_auc",
        label="test ROC-AUC",
        value=json.loads(Path(args.evaluation).read_text())["model"]["roc_auc"],
        floor=gate["min_roc_auc"],
    )
    registry.register_by_params(
        candidate,
        champion_comparison(load_model(model_dir, TRUSTED_TYPES), sample, gate),
        params,
        "clicks",
        args.report,
    )


if __name__ == "__main__":
    run_stage(main)
