"""Stage customers_features: one row per customer as of `segment.as_of`: recency, frequency,
monetary (net of cancellations), tenure and how the customer buys (leadsift.customers.features)."""

import argparse
import logging

import pandas as pd

from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import write_json, write_parquet
from leadsift.customers.features import as_of_date, customer_features
from leadsift.customers.param_rules import RULES

log = logging.getLogger("leadsift.customers.features")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("lines", help="clean transaction lines (parquet)")
    parser.add_argument("out", help="customer features (parquet)")
    parser.add_argument("report", help="summary JSON")
    args = parser.parse_args()
    lines = pd.read_parquet(args.lines)
    as_of = as_of_date(lines, load_params(RULES)["segment_setup"]["as_of"])
    customers = customer_features(lines, as_of)
    write_parquet(args.out, customers.reset_index())
    before = lines["timestamp"] < as_of
    write_json(
        args.report,
        {
            "as_of": str(as_of.date()),
            "customers": len(customers),
            "lines_before_as_of": int(before.sum()),
            "guest_lines_left_out": int((before & lines["customer_id"].isna()).sum()),
            "lines_after_as_of": int((~before).sum()),
        },
    )
    log.info("%s customers as of %s", f"{len(customers):,}", as_of.date())


if __name__ == "__main__":
    run_stage(main)
