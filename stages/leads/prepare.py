"""Stage leads_prepare: normalise the raw lead table, drop exact duplicates, quarantine impossible
rows.

Every input row ends up in exactly one place: the clean table, the duplicate count, or the
quarantine file with its reason. reports/data.json holds the accounting.
"""

import argparse
import logging
from pathlib import Path

from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import write_json, write_parquet
from leadsift.leads.cleaning import clean_leads, cleaning_options
from leadsift.leads.param_rules import RULES
from leadsift.leads.schema import ColumnRoles, load_raw_table

log = logging.getLogger("leadsift.leads.prepare")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("raw", help="raw lead table (CSV or parquet), params `leads.raw_path`")
    parser.add_argument("out_dir", help="directory for leads.parquet and quarantine.parquet")
    parser.add_argument("report", help="row accounting JSON")
    args = parser.parse_args()
    params = load_params(RULES)
    roles = ColumnRoles.from_params(params["leads"])
    raw = load_raw_table(args.raw, roles, "leads.raw_path")
    log.info("read %s rows from %s", f"{len(raw):,}", args.raw)

    result = clean_leads(
        raw,
        roles,
        **cleaning_options(params),
        source=args.raw,
    )
    out = Path(args.out_dir)
    write_parquet(out / "leads.parquet", result.clean)
    write_parquet(out / "quarantine.parquet", result.quarantine)
    reasons = result.quarantine["reason"].str.split("; ").explode().value_counts()
    write_json(
        args.report,
        {
            **result.counts,
            "encoding": raw.attrs.get("encoding"),
            "genuine_rate": float(result.clean[roles.target].mean()),
            "quarantine_reasons": {str(k): int(v) for k, v in sorted(reasons.items())},
        },
    )
    log.info("rows: %s", ", ".join(f"{k}={v:,}" for k, v in result.counts.items()))


if __name__ == "__main__":
    run_stage(main)
