"""Stage leads_featurize: add row-wise features (interaction group totals, time-of-creation parts).

Nothing here is learned from data, so it cannot leak information between splits; the saved model
runs the same function on raw records.
"""

import argparse
import logging

import pandas as pd

from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import write_parquet
from leadsift.leads.features import add_features
from leadsift.leads.param_rules import RULES
from leadsift.leads.schema import ColumnRoles

log = logging.getLogger("leadsift.leads.featurize")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("leads", help="clean leads (parquet)")
    parser.add_argument("out", help="leads with features (parquet)")
    args = parser.parse_args()
    roles = ColumnRoles.from_params(load_params(RULES)["leads"])
    leads = pd.read_parquet(args.leads)
    features = add_features(leads, roles.interaction_groups, roles.timestamp)
    write_parquet(args.out, features)
    log.info("wrote %s: %s rows, %d columns", args.out, f"{len(features):,}", features.shape[1])


if __name__ == "__main__":
    run_stage(main)
