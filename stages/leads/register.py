"""Stage leads_register: the promotion gate decides on the new model and, where promotion is on,
registers it and moves the alias it earned.

The gate (see leadsift.registry) compares the new model with the current champion on the same test
split. Promotion is on in the workspace of the main branch (or with LEADSIFT_PROMOTION=on); in
experiments and pull requests the gate records what it would do and registers nothing. The
decision and its reasons go to reports/promotion.json (and, when registered, the version's tags).
"""

import argparse
import json
from pathlib import Path

import pandas as pd

from leadsift.core import registry
from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.gate import Candidate
from leadsift.core.model_store import load_model
from leadsift.leads.evaluation import champion_comparison
from leadsift.leads.models import TRUSTED_TYPES
from leadsift.leads.param_rules import RULES
from leadsift.leads.schema import ColumnRoles, raw_records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model_dir")
    parser.add_argument("test", help="test split (parquet)")
    parser.add_argument("evaluation", help="reports/evaluation.json, for the test ROC-AUC")
    parser.add_argument("report", help="promotion decision JSON")
    args = parser.parse_args()
    params = load_params(RULES)
    roles = ColumnRoles.from_params(params["leads"])
    test = pd.read_parquet(args.test)
    gate = params["leads_register"]
    model_dir = Path(args.model_dir)
    candidate = Candidate(
        model_dir,
        metric="test_roc_auc",
        label="test ROC-AUC",
        value=json.loads(Path(args.evaluation).read_text())["test"]["roc_auc"],
        floor=gate["min_roc_auc"],
    )
    compare = champion_comparison(
        load_model(model_dir, TRUSTED_TYPES),
        raw_records(test, roles),
        test[roles.target].to_numpy(),
        gate,
    )
    registry.register_by_params(candidate, compare, params, "leads", args.report)


if __name__ == "__main__":
    run_stage(main)
