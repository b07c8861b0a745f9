"""Stage customers_tune: an Optuna study of the segmentation's settings for `segment.family`.

Every setting of `segment_setup.spaces.<family>` (number of segments, the mixture's covariance) is
fitted on all customers and scored by silhouette on a seeded sample; settings with a sliver segment
are pruned. The best goes to models/segments_params.yaml, which customers_train reads.
"""

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from leadsift.core import tracking, tuning
from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import write_csv, write_json, write_yaml
from leadsift.core.plots import save_figure
from leadsift.customers.features import check_features
from leadsift.customers.param_rules import RULES
from leadsift.customers.plots import silhouette_by_k_figure
from leadsift.customers.segmentation import Segmenter
from leadsift.customers.tuning import exhaustive_sampler, objective

log = logging.getLogger("leadsift.customers.tune")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("customers", help="customer features (parquet)")
    parser.add_argument("best_params", help="YAML of the chosen settings")
    parser.add_argument("reports", help="reports directory of the customers pipeline")
    args = parser.parse_args()
    params = load_params(RULES)
    settings, setup = params["segment"], params["segment_setup"]
    customers = pd.read_parquet(args.customers).set_index("customer_id")
    check_features(customers, setup["features"])
    fixed = {
        "features": setup["features"],
        "scaling": setup["scaling"],
        "family": settings["family"],
        "n_init": setup["n_init"],
        "seed": setup["seed"],
    }
    key = f"segment_setup.spaces.{settings['family']}"
    accepted = set(Segmenter().get_params()) - set(fixed)
    space = tuning.parse_space(setup["spaces"].get(settings["family"]), key, accepted, {})
    rows = np.random.default_rng(setup["seed"]).permutation(len(customers))
    sample = np.sort(rows[: setup["sample_rows"]])
    log.info(
        "segmenting %s customers: %s, up to %d settings",
        f"{len(customers):,}",
        settings["family"],
        settings["n_trials"],
    )
    study = tuning.run_study(
        objective(customers, space, fixed, sample=sample, min_share=setup["min_share"]),
        n_trials=settings["n_trials"],
        seed=setup["seed"],
        pruner="none",
        sampler=exhaustive_sampler,
    )
    summary = tuning.summary(study, "silhouette") | {
        k: v for k, v in study.best_trial.user_attrs.items() if k != "smallest_share"
    }
    write_yaml(
        args.best_params, {"family": settings["family"], **summary, "params": study.best_params}
    )
    reports = Path(args.reports)
    trials = tuning.trials_table(study)
    write_csv(reports / "tuning" / "trials.csv", trials, float_format="%.6g")
    write_json(reports / "tuning.json", summary)
    chosen = study.best_params["n_segments"]
    save_figure(silhouette_by_k_figure(trials, chosen), reports / "tuning" / "silhouette.png")
    tracking.log_stage(
        params["mlflow"]["experiment"],
        "customers_tune",
        tags=tracking.run_tags(
            "customers_tune", settings["family"], params["transactions"]["raw_path"]
        ),
        params={
            "segment": settings,
            "segment_setup": {k: v for k, v in setup.items() if k != "spaces"},
        },
        metrics=summary,
        artifacts=[("tuning", reports / "tuning" / f) for f in ("trials.csv", "silhouette.png")],
    )
    log.info("best silhouette %.4f: %s", study.best_value, study.best_params)


if __name__ == "__main__":
    run_stage(main)
