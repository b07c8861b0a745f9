"""Stage train: fit the full scoring pipeline on the training split and save it as an MLflow model.

The pipeline starts from raw lead records (normalise -> featurize -> collapse rare levels +
encode -> classifier), so scoring and serving apply exactly what training learned.
"""

import argparse
import logging

import numpy as np
import pandas as pd

from leadsift.cli import run_stage
from leadsift.io import read_params, write_json
from leadsift.model_store import raw_records, save_model
from leadsift.models import build_pipeline
from leadsift.schema import ColumnRoles

log = logging.getLogger("leadsift.train")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("train", help="training split (parquet)")
    parser.add_argument("model_dir", help="directory for the MLflow model")
    parser.add_argument("report", help="training summary JSON")
    args = parser.parse_args()
    params = read_params()
    roles = ColumnRoles.from_params(params["data"])
    family = params["model"]["family"]
    pipeline = build_pipeline(
        roles,
        missing_values=params["prepare"]["missing_values"],
        aliases=params["prepare"]["aliases"] or {},
        family=family,
        hyperparams=params["model"].get(family) or {},
        coverage=params["train"]["coverage"],
        max_levels=params["train"]["max_levels"],
        seed=params["model"]["seed"],
    )

    train = pd.read_parquet(args.train)
    X, y = raw_records(train, roles), train[roles.target].to_numpy()  # noqa: N806
    log.info("fitting %s on %s leads (%d input columns)", family, f"{len(X):,}", X.shape[1])
    pipeline.fit(X, y)
    save_model(pipeline, args.model_dir, X.head(5))

    classifier = pipeline.named_steps["classify"]
    collapse = (
        pipeline.named_steps["encode"].named_transformers_["categorical"].named_steps["collapse"]
    )
    write_json(
        args.report,
        {
            "family": family,
            "rows": len(X),
            "genuine_rate": float(y.mean()),
            "features": len(pipeline.named_steps["encode"].get_feature_names_out()),
            "iterations": int(np.max(classifier.n_iter_)),
            "levels_kept": {column: len(levels) for column, levels in collapse.levels_.items()},
        },
    )
    log.info("saved %s", args.model_dir)


if __name__ == "__main__":
    run_stage(main)
