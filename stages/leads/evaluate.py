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
from leadsift.leads.evaluation import evaluate_model
from leadsift.leads.models import TRUSTED_TYPES
from leadsift.leads.param_rules import RULES
from leadsift.leads.plots import evaluation_figures
from leadsift.leads.schema import ColumnRoles

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
    split_dir = Path(args.split_dir)
    splits = {
        "train": pd.read_parquet(split_dir / "train.parquet", columns=[roles.target]),
        "validation": pd.read_parquet(split_dir / "validation.parquet"),
        "test": pd.read_parquet(split_dir / "test.parquet"),
    }
    rows = min(settings["importance_rows"], len(splits["test"]))
    log.info("metrics, permutation importances on %s test rows, reasons", f"{rows:,}")
    result = evaluate_model(model, splits, pd.read_parquet(args.truth), roles, params)

    reports = Path(args.reports)
    write_json(reports / "evaluation.json", result.summary)
    for name, table in result.tables.items():
        write_csv(reports / "plots" / f"{name}.csv", table, float_format="%.6g")
    figures = evaluation_figures(
        result.summary,
        result.tables,
        result.tables["importance"],
        result.tables["contributions"],
        settings["importance_top"],
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
