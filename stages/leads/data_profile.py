"""Stage leads_data_profile: a first look at the raw lead table, before any cleaning or model.

The file is read as it is, not through the contract: a table that the prepare stage rejects is
still profiled, so its problems show here first (`dvc repro data_profile`). Writes
reports/profile/leads.md with figures in reports/profile/leads/, and leads.json for machines.
"""

import argparse
import logging

from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import read_table
from leadsift.core.profile import PROFILE_RULES, ProfileSettings, profile_table
from leadsift.core.profile_report import write_profile
from leadsift.leads.data_profile import profile_plan, target_mask
from leadsift.leads.param_rules import RULES
from leadsift.leads.schema import ColumnRoles

log = logging.getLogger("leadsift.leads.data_profile")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("raw", help="raw lead table (CSV or parquet), `leads.raw_path`")
    parser.add_argument("out_dir", help="directory of the profile pages (reports/profile)")
    args = parser.parse_args()
    params = load_params({**RULES, **PROFILE_RULES})
    roles = ColumnRoles.from_params(params["leads"])
    raw = read_table(args.raw, "leads.raw_path", text=roles.text)
    log.info("profiling %s rows x %s columns of %s", f"{len(raw):,}", raw.shape[1], args.raw)
    positive, problem = target_mask(raw, roles, args.raw)
    plan = profile_plan(roles, params["leads_prepare"]["missing_values"])
    settings = ProfileSettings(**params["profile"])
    profile = profile_table(raw, plan, settings, positive, target_problem=problem or None)
    write_profile(args.out_dir, profile, args.raw, settings.top_levels)
    log.info("%d warnings: %s/leads.md", len(profile["warnings"]), args.out_dir)


if __name__ == "__main__":
    run_stage(main)
