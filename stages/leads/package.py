"""Stage leads_package: the sales model, the trained pipeline with the tiers `evaluate` chose for it
and the lead contract (leadsift.leads.sales). It is the model that is registered, served by `make
serve` and used by `score`: raw lead records in; per lead its probability, 0-100 score, tier, junk
flag and reasons out.
"""

import argparse
import json
import logging
from pathlib import Path

import pandas as pd

from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.model_store import load_model
from leadsift.leads.metrics import Tiers
from leadsift.leads.models import TRUSTED_TYPES
from leadsift.leads.param_rules import RULES
from leadsift.leads.sales import SalesScorer, save_sales_model
from leadsift.leads.schema import ColumnRoles, raw_records

log = logging.getLogger("leadsift.leads.package")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model_dir", help="the trained pipeline (models/model)")
    parser.add_argument("evaluation", help="reports/evaluation.json, for the tiers")
    parser.add_argument("validation", help="validation split (parquet), for the input example")
    parser.add_argument("sales_dir", help="directory for the sales model")
    args = parser.parse_args()
    params = load_params(RULES)
    roles = ColumnRoles.from_params(params["leads"])
    evaluation = json.loads(Path(args.evaluation).read_text())
    tiers = Tiers.from_evaluation(evaluation, params["business_setup"]["tiers"])
    scorer = SalesScorer.package(load_model(args.model_dir, TRUSTED_TYPES), tiers, roles)
    example = raw_records(pd.read_parquet(args.validation), roles).head(5)
    save_sales_model(scorer, args.sales_dir, example)
    log.info(
        "saved %s: junk below %.3f, %s from %.3f, with%s reasons",
        args.sales_dir,
        tiers.cold_below,
        tiers.names["hot"],
        tiers.hot_start,
        "" if scorer.explains else "out",
    )


if __name__ == "__main__":
    run_stage(main)
