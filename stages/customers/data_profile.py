"""Stage customers_data_profile: a first look at the raw transaction export, before any cleaning.

The file is read as it is, not through the contract, so an export that customers_prepare rejects
is still profiled (`dvc repro customers_data_profile`). Writes reports/profile/transactions.md
with figures in reports/profile/transactions/, and transactions.json for machines; it says
what preparing does with identical lines (`transactions.identical_lines`).
"""

import argparse
import logging

from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import read_table
from leadsift.core.profile import PROFILE_RULES, ProfileSettings, profile_table
from leadsift.core.profile_report import write_profile
from leadsift.customers.data_profile import profile_plan
from leadsift.customers.param_rules import RULES
from leadsift.customers.schema import TransactionRoles

log = logging.getLogger("leadsift.customers.data_profile")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("raw", help="transaction export (CSV or parquet), `transactions.raw_path`")
    parser.add_argument("out_dir", help="directory of the profile pages (reports/profile)")
    args = parser.parse_args()
    params = load_params({**RULES, **PROFILE_RULES})
    roles = TransactionRoles.from_params(params["transactions"])
    raw = read_table(args.raw, "transactions.raw_path", text=roles.text)
    log.info("profiling %s lines x %s columns of %s", f"{len(raw):,}", raw.shape[1], args.raw)
    settings = ProfileSettings(**params["profile"])
    profile = profile_table(raw, profile_plan(roles), settings)
    profile["notes"] = [f"When prepared, {roles.identical_lines_rule}."]
    write_profile(args.out_dir, profile, args.raw, settings.top_levels)
    log.info("%d warnings: %s/transactions.md", len(profile["warnings"]), args.out_dir)


if __name__ == "__main__":
    run_stage(main)
