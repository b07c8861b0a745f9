"""Stage leads_train: fit the full scoring pipeline on the training split and save it as an MLflow
model.

The pipeline starts from raw lead records (normalise -> featurize -> collapse rare levels +
encode -> classifier), so scoring and serving apply exactly what training learned.
"""

import argparse
import logging
from pathlib import Path

import pandas as pd

from leadsift.core import tracking
from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import InputError, read_yaml, write_json
from leadsift.core.model_store import save_model
from leadsift.leads.models import TRUSTED_TYPES, pipeline_from_params, training_summary
from leadsift.leads.param_rules import RULES
from leadsift.leads.schema import ColumnRoles, raw_records

log = logging.getLogger("leadsift.leads.train")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("train", help="training split (parquet)")
    parser.add_argument("best_params", help="YAML written by leads_tune")
    parser.add_argument("model_dir", help="directory for the MLflow model")
    parser.add_argument("report", help="training summary JSON")
    args = parser.parse_args()
    params = load_params(RULES)
    roles = ColumnRoles.from_params(params["leads"])
    family = params["model"]["family"]
    best = read_yaml(args.best_params)
    if best["family"] != family:
        raise InputError(
            f"{args.best_params} was tuned for {best['family']!r}, not {family!r}; run leads_tune"
        )
    hyperparams = {**(params["model_setup"].get(family) or {}), **best["params"]}
    pipeline = pipeline_from_params(params, roles, hyperparams)

    train = pd.read_parquet(args.train)
    X, y = raw_records(train, roles), train[roles.target].to_numpy()  # noqa: N806
    log.info("fitting %s on %s leads (%d input columns)", family, f"{len(X):,}", X.shape[1])
    pipeline.fit(X, y)
    save_model(pipeline, args.model_dir, X.head(5), TRUSTED_TYPES)

    summary = {"family": family, **training_summary(pipeline, y, hyperparams)}
    write_json(args.report, summary)
    log.info("saved %s; logging the run to MLflow", args.model_dir)
    run = tracking.log_training(
        params["mlflow"]["experiment"],
        tags=tracking.run_tags("leads_train", family, params["leads"]["raw_path"]),
        params={k: params[k] for k in ("model", "model_setup", "train", "train_setup", "split")}
        | {"hyperparameters": hyperparams},
        metrics=summary,
        pipeline=pipeline,
        example=X.head(5),
        model_dir=Path(args.model_dir),
        trusted=TRUSTED_TYPES,
        stage="leads_train",
    )
    log.info("MLflow run %s in %s", run.info.run_id, tracking.tracking_uri())


if __name__ == "__main__":
    run_stage(main)
