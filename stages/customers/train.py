"""Stage customers_train: fit the segmentation with the study's settings on every customer and save
it as an MLflow model: a customer summary (the features) in, its segment number out."""

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from leadsift.core import tracking
from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import InputError, read_yaml, write_json
from leadsift.core.model_store import save_model
from leadsift.customers.param_rules import RULES
from leadsift.customers.segmentation import TRUSTED_TYPES, Segmenter
from leadsift.customers.tuning import stability

log = logging.getLogger("leadsift.customers.train")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("customers", help="customer features (parquet)")
    parser.add_argument("best_params", help="YAML written by customers_tune")
    parser.add_argument("model_dir", help="directory for the MLflow model")
    parser.add_argument("report", help="training summary JSON")
    args = parser.parse_args()
    params = load_params(RULES)
    settings, setup = params["segment"], params["segment_setup"]
    best = read_yaml(args.best_params)
    if best["family"] != settings["family"]:
        raise InputError(
            f"{args.best_params} was tuned for {best['family']!r}, not {settings['family']!r}; "
            "run customers_tune"
        )
    customers = pd.read_parquet(args.customers).set_index("customer_id")
    model = Segmenter(
        features=setup["features"],
        scaling=setup["scaling"],
        family=settings["family"],
        n_init=setup["n_init"],
        seed=setup["seed"],
        **best["params"],
    )
    log.info("fitting %s on %s customers", model, f"{len(customers):,}")
    segments = model.fit(customers).predict(customers)
    save_model(model, args.model_dir, customers.head(5), TRUSTED_TYPES, predict_fn="predict")
    summary = {
        "family": settings["family"],
        "settings": best["params"],
        "customers": len(customers),
        "segment_sizes": np.bincount(segments)[1:].tolist(),
        "stability": stability(
            model, customers, refits=setup["stability_refits"], seed=setup["seed"]
        ),
    }
    write_json(args.report, summary)
    run = tracking.log_training(
        params["mlflow"]["experiment"],
        tags=tracking.run_tags(
            "customers_train", settings["family"], params["transactions"]["raw_path"]
        ),
        params={
            "segment": settings,
            "segment_setup": {k: v for k, v in setup.items() if k != "spaces"},
            **best["params"],
        },
        metrics=summary,
        pipeline=model,
        example=customers.head(5),
        model_dir=Path(args.model_dir),
        trusted=TRUSTED_TYPES,
        stage="customers_train",
        predict_fn="predict",
    )
    log.info("saved %s; MLflow run %s", args.model_dir, run.info.run_id)


if __name__ == "__main__":
    run_stage(main)
