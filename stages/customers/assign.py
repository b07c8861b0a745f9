"""Stage customers_assign: every customer's segment at the end of each later month, for marketing.

`transactions.incoming` holds one export per month after as_of (CSV or parquet, named by period).
For each it writes assigned/<month>.csv (customer id, segment number, segment name), the features
behind them (assigned/<month>.parquet, which customers_monitor reads) and the quarantined lines;
reports/customers/assign.json accounts for every line of every month.
"""

import argparse
import json
import logging
from pathlib import Path

import pandas as pd

from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import batch_files, write_csv, write_json, write_parquet
from leadsift.core.model_store import load_model
from leadsift.customers.assign import assign_months, segment_counts
from leadsift.customers.param_rules import RULES
from leadsift.customers.schema import TransactionRoles
from leadsift.customers.segmentation import TRUSTED_TYPES

log = logging.getLogger("leadsift.customers.assign")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("incoming", help="directory of monthly exports, `transactions.incoming`")
    parser.add_argument("history", help="clean lines of the history (parquet)")
    parser.add_argument("model_dir")
    parser.add_argument("segments", help="reports/customers/segments.json, for the names")
    parser.add_argument("out_dir", help="directory for the assigned files")
    parser.add_argument("report", help="row accounting JSON")
    args = parser.parse_args()
    roles = TransactionRoles.from_params(load_params(RULES)["transactions"])
    model = load_model(args.model_dir, TRUSTED_TYPES)
    names = {
        int(k): v["name"]
        for k, v in json.loads(Path(args.segments).read_text())["segments"].items()
    }
    files = batch_files(args.incoming, "transactions.incoming")
    out, summary = Path(args.out_dir), {}
    for month in assign_months(files, pd.read_parquet(args.history), roles, model, names):
        marketing = month.customers[["segment", "name"]].reset_index()
        write_csv(out / f"{month.name}.csv", marketing)
        write_parquet(out / f"{month.name}.parquet", month.customers.reset_index())
        write_parquet(out / "quarantine" / f"{month.name}.parquet", month.quarantine)
        counts = segment_counts(month.customers["segment"], len(names))
        summary[month.name] = {**month.counts, "as_of": str(month.as_of.date()), "segments": counts}
        log.info("%s: %s lines, %s customers assigned", month.name,
                 f"{month.counts['rows_in']:,}", f"{len(marketing):,}")  # fmt: skip
    write_json(args.report, {"months": summary})


if __name__ == "__main__":
    run_stage(main)
