"""Stage clicks_leak: what the competition's future-looking features are worth, in evaluation
only.

A model with the next click of the same user and app and whole-day counts is fitted as the served
one is and scored on the same test-day clicks; reports/clicks/leak.json holds both ROC-AUCs, the
ceiling's and the gap (leadsift.clicks.leak). Nothing served reads those features.
"""

import argparse
import logging
from pathlib import Path

from leadsift.clicks import engine
from leadsift.clicks.evaluation import truth_applies
from leadsift.clicks.leak import leak_gap
from leadsift.clicks.model import TRUSTED_TYPES
from leadsift.clicks.param_rules import RULES
from leadsift.clicks.training import labelled_days, split_days
from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import read_yaml, write_json
from leadsift.core.model_store import load_model

log = logging.getLogger("leadsift.clicks.leak")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("clicks", help="the prepared clicks (Parquet)")
    parser.add_argument("features", help="the clicks with their features (Parquet)")
    parser.add_argument("best_params", help="YAML written by clicks_tune")
    parser.add_argument("model_dir", help="the trained click model (models/click_model)")
    parser.add_argument("truth_dir", help="the generator's p_true by click_id, if it applies")
    parser.add_argument("report", help="the gap (JSON)")
    args = parser.parse_args()
    params = load_params(RULES)
    served = load_model(args.model_dir, TRUSTED_TYPES)
    truth_dir = Path(args.truth_dir)
    truth = None
    if truth_applies(params["clicks"]["raw_path"], truth_dir):
        truth = engine.parquet_source(sorted(truth_dir.glob("*.parquet")))
    with engine.connect(engine.EngineSettings.from_params(params["clicks_engine"])) as connection:
        sources = {
            "clicks": engine.parquet_source([Path(args.clicks)]),
            "features": engine.parquet_source([Path(args.features)]),
            "truth": truth,
        }
        split = split_days(labelled_days(connection, sources["features"]), params["clicks_split"])
        best = read_yaml(args.best_params)["params"]
        result = leak_gap(connection, sources, served, params, best, split=split)
    write_json(args.report, result)
    log.info("test ROC-AUC: point in time %.4f, with future-looking features %.4f (gap %+.4f)",
             result["point_in_time_roc_auc"], result["leaky_roc_auc"], result["gap"])  # fmt: skip


if __name__ == "__main__":
    run_stage(main)
