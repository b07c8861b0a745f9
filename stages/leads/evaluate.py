"""Stage leads_evaluate: metrics on validation and test, the business view, plot data and figures.

The business threshold is chosen on validation (keep `business.min_genuine_recall` of genuine
leads) and reported on test. Where the truth file covers the test leads (the embedded dataset), the
Bayes-optimal ROC-AUC shows how close the model is to the best possible.
"""

import argparse
import logging
from pathlib import Path

import pandas as pd

from leadsift.core import tracking
from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import write_csv, write_json
from leadsift.core.model_store import load_model
from leadsift.core.plots import save_figure
from leadsift.leads.evaluation import (
    Scores,
    evaluate_scores,
    explained_leads,
    importance_table,
    true_scores,
)
from leadsift.leads.metrics import Tiers
from leadsift.leads.models import TRUSTED_TYPES
from leadsift.leads.param_rules import RULES
from leadsift.leads.plots import evaluation_figures
from leadsift.leads.schema import ColumnRoles, raw_records

log = logging.getLogger("leadsift.leads.evaluate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model_dir")
    parser.add_argument("split_dir", help="directory with train/validation/test.parquet")
    parser.add_argument("truth", help="parquet of true probabilities by id (used when ids match)")
    parser.add_argument("reports", help="reports directory")
    args = parser.parse_args()
    params = load_params(RULES)
    settings = params["leads_evaluate"]
    roles = ColumnRoles.from_params(params["leads"])
    model = load_model(args.model_dir, TRUSTED_TYPES)
    truth = pd.read_parquet(args.truth).set_index(roles.id_column)["p_true"] if roles.id else None

    scores, inputs, ids = {}, {}, {}
    for name in ("validation", "test"):
        split = pd.read_parquet(Path(args.split_dir) / f"{name}.parquet")
        inputs[name] = raw_records(split, roles)
        ids[name] = split[roles.id_column]
        scores[name] = Scores(
            split[roles.target].to_numpy(),
            model.predict_proba(inputs[name])[:, 1],
            true_scores(truth, split[roles.id_column]),
        )
    train_rate = (
        pd.read_parquet(Path(args.split_dir) / "train.parquet", columns=[roles.target])
        .mean()
        .item()
    )
    result = evaluate_scores(
        scores["validation"],
        scores["test"],
        train_rate=train_rate,
        min_genuine_recall=params["business"]["min_genuine_recall"],
        hot_genuine_rate=params["business"]["hot_genuine_rate"],
        tier_names=params["business_setup"]["tiers"],
        curve_points=settings["curve_points"],
        calibration_bins=settings["calibration_bins"],
    )
    n_rows = min(settings["importance_rows"], len(inputs["test"]))
    log.info("permutation importances on %s test rows", f"{n_rows:,}")
    importance = importance_table(
        model,
        inputs["test"],
        scores["test"].y,
        n_rows=settings["importance_rows"],
        repeats=settings["importance_repeats"],
        seed=settings["seed"],
    )

    log.info("per-lead reasons of the test leads")
    result.summary["reasons"], contributions = explained_leads(
        model,
        inputs["test"],
        ids["test"],
        scores["test"].model,
        Tiers.from_evaluation(result.summary, params["business_setup"]["tiers"]),
    )

    reports = Path(args.reports)
    write_json(reports / "evaluation.json", result.summary)
    tables = {**result.tables, "importance": importance, "contributions": contributions}
    for name, table in tables.items():
        write_csv(reports / "plots" / f"{name}.csv", table, float_format="%.6g")
    figures = evaluation_figures(
        result.summary, result.tables, importance, contributions, settings["importance_top"]
    )
    for name, figure in figures.items():
        save_figure(figure, reports / "figures" / f"{name}.png")
    tracking.log_to_model_run(
        params["mlflow"]["experiment"],
        Path(args.model_dir),
        result.summary,
        [("figures", reports / "figures" / f"{name}.png") for name in figures]
        + [("evaluation", reports / "evaluation.json")],
    )
    test, business = result.summary["test"], result.summary["business"]
    log.info(
        "test ROC-AUC %.4f%s; at threshold %.3f: %.1f%% of junk filtered, %.1f%% of genuine kept",
        test["roc_auc"],
        f" (Bayes {test['bayes_roc_auc']:.4f})" if "bayes_roc_auc" in test else "",
        business["threshold"],
        100 * business["junk_filtered"],
        100 * business["genuine_recall"],
    )


if __name__ == "__main__":
    run_stage(main)
