"""Stage leads_split: train / validation / test, time-ordered by default (train earliest, test
latest)."""

import argparse
import logging
from pathlib import Path

import pandas as pd

from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import write_json, write_parquet
from leadsift.leads.param_rules import RULES
from leadsift.leads.schema import ColumnRoles
from leadsift.leads.split import describe_splits, split_leads

log = logging.getLogger("leadsift.leads.split")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("features", help="leads with features (parquet)")
    parser.add_argument("out_dir", help="directory for train/validation/test.parquet")
    parser.add_argument("report", help="split summary JSON")
    args = parser.parse_args()
    params = load_params(RULES)
    roles = ColumnRoles.from_params(params["leads"])
    settings = params["split"]
    parts, method = split_leads(
        pd.read_parquet(args.features),
        method=settings["method"],
        fractions=settings["fractions"],
        target=roles.target,
        id_column=roles.id_column,
        timestamp=roles.timestamp,
        seed=settings["seed"],
    )
    if method != settings["method"]:
        log.info("no timestamp column (`leads.timestamp` is null): using a stratified split")
    for name, part in parts.items():
        write_parquet(Path(args.out_dir) / f"{name}.parquet", part)
    summary = describe_splits(parts, roles.target, roles.timestamp)
    write_json(args.report, {"method": method, **summary})
    log.info("%s split: %s", method, ", ".join(f"{k}={v['rows']:,}" for k, v in summary.items()))


if __name__ == "__main__":
    run_stage(main)
