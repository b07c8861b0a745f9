"""Stage clicks_train: the click model, fitted with the study's best settings on the training and
validation days, and saved as an MLflow model.

Each of `clicks_sampling.n_bags` boosters learns from every attributed click and its own share of
the others; the model corrects their probabilities for that sampling, so they hold on the full
log.
"""

import argparse
import logging
from pathlib import Path

from leadsift.clicks import engine
from leadsift.clicks.features import day_name, feature_names
from leadsift.clicks.model import TRUSTED_TYPES
from leadsift.clicks.param_rules import RULES
from leadsift.clicks.training import fit, labelled_days, split_days
from leadsift.core import tracking
from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import read_yaml, write_json
from leadsift.core.model_store import save_model

log = logging.getLogger("leadsift.clicks.train")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("features", help="the clicks with their features (Parquet)")
    parser.add_argument("best_params", help="YAML written by clicks_tune")
    parser.add_argument("model_dir", help="folder for the trained model (MLflow format)")
    parser.add_argument("report", help="training summary JSON")
    args = parser.parse_args()
    params = load_params(RULES)
    best = read_yaml(args.best_params)["params"]
    names = feature_names()
    with engine.connect(engine.EngineSettings.from_params(params["clicks_engine"])) as connection:
        features = engine.parquet_source([Path(args.features)])
        split = split_days(labelled_days(connection, features), params["clicks_split"])
        days = [*split.train, *split.validation]
        log.info("fitting %d bag(s) on %s", params["clicks_sampling"]["n_bags"],
                 ", ".join(day_name(d) for d in days))  # fmt: skip
        model, sample = fit(connection, features, params, best, names=names, days=days)
    example = sample[names].head(5)
    save_model(model, args.model_dir, example, TRUSTED_TYPES)
    positives = int(sample["is_attributed"].sum())
    summary = {
        "days": [day_name(d) for d in days],
        "attributed": positives,
        "unattributed_sampled": len(sample) - positives,
        **params["clicks_sampling"],
        "settings": best,
        "features": names,
    }
    write_json(args.report, summary)
    run = tracking.log_training(
        params["mlflow"]["experiment"],
        tags=tracking.run_tags("clicks_train", "lightgbm", params["clicks"]["raw_path"]),
        params={"clicks_sampling": params["clicks_sampling"], "settings": best},
        metrics={k: v for k, v in summary.items() if isinstance(v, int)},
        pipeline=model,
        example=example,
        model_dir=Path(args.model_dir),
        trusted=TRUSTED_TYPES,
        stage="clicks_train",
    )
    log.info("saved %s; MLflow run %s", args.model_dir, run.info.run_id)


if __name__ == "__main__":
    run_stage(main)
