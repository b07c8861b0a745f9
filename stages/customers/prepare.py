"""Stage customers_prepare: the transaction export's clean lines, quarantine and row accounting.

Exact duplicate lines are dropped (or kept as purchases: `transactions.identical_lines`), lines
that break the contract are quarantined with the reason, and every cancellation is matched to the
purchase it cancels (or quarantined). Guest lines (no customer id) stay: they are revenue, though
not segmented.
"""

import argparse
import logging
from pathlib import Path

from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import write_json, write_parquet
from leadsift.customers.cleaning import clean_transactions
from leadsift.customers.param_rules import RULES
from leadsift.customers.schema import TransactionRoles, load_transactions

log = logging.getLogger("leadsift.customers.prepare")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("raw", help="transaction export (CSV or parquet), `transactions.raw_path`")
    parser.add_argument("out_dir", help="directory for transactions.parquet and quarantine.parquet")
    parser.add_argument("report", help="row accounting JSON")
    args = parser.parse_args()
    roles = TransactionRoles.from_params(load_params(RULES)["transactions"])
    raw = load_transactions(args.raw, roles, "transactions.raw_path")
    log.info("read %s lines from %s", f"{len(raw):,}", args.raw)
    result = clean_transactions(raw, roles, source=args.raw)
    write_parquet(Path(args.out_dir) / "transactions.parquet", result.clean)
    write_parquet(Path(args.out_dir) / "quarantine.parquet", result.quarantine)
    reasons = result.quarantine["reason"].str.split("; ").explode().value_counts()
    write_json(
        args.report,
        {
            **result.counts,
            "identical_lines": roles.identical_lines_rule,
            "encoding": raw.attrs.get("encoding"),
            "first": str(result.clean["timestamp"].min()),
            "last": str(result.clean["timestamp"].max()),
            "quarantine_reasons": {str(k): int(v) for k, v in sorted(reasons.items())},
        },
    )
    log.info("lines: %s", ", ".join(f"{k}={v:,}" for k, v in result.counts.items()))


if __name__ == "__main__":
    run_stage(main)
