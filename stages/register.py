"""Stage register: the promotion gate decides on the new model and, where promotion is on, registers
it and moves the alias it earned.

The gate (see leadsift.registry) compares the new model with the current champion on the same test
split. Promotion is on in the workspace of the main branch (or with LEADSIFT_PROMOTION=on); in
experiments and pull requests the gate records what it would do and registers nothing. The
decision and its reasons go to reports/promotion.json (and, when registered, the version's tags).
"""

import argparse
import json
import logging
from pathlib import Path

import pandas as pd

from leadsift import registry
from leadsift.cli import run_stage
from leadsift.config import load_params
from leadsift.io import write_json
from leadsift.model_store import raw_records
from leadsift.report import verdict
from leadsift.schema import ColumnRoles

log = logging.getLogger("leadsift.register")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model_dir")
    parser.add_argument("test", help="test split (parquet)")
    parser.add_argument("evaluation", help="reports/evaluation.json, for the test ROC-AUC")
    parser.add_argument("report", help="promotion decision JSON")
    args = parser.parse_args()
    params = load_params()
    roles = ColumnRoles.from_params(params["leads"])
    test = pd.read_parquet(args.test)
    mode = registry.promotion_mode(params["register"]["main_branch"])
    report = registry.gate_and_register(
        model_dir=Path(args.model_dir),
        test_records=raw_records(test, roles),
        y_test=test[roles.target].to_numpy(),
        roc_auc=json.loads(Path(args.evaluation).read_text())["test"]["roc_auc"],
        gate=params["register"],
        experiment=params["mlflow"]["experiment"],
        model_name=params["mlflow"]["model_name"],
        mode=mode,
    )
    write_json(args.report, report)
    log.info("%s: %s", verdict(report), "; ".join(report["reasons"]))


if __name__ == "__main__":
    run_stage(main)
