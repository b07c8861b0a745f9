"""Stage clicks_data_profile: a first look at the raw click log, before any cleaning or model.

The files are read as they are, not through the contract, and summarised by the engine without
loading them (`leadsift.clicks.data_profile`), so a log of any size that clicks_prepare rejects is
still profiled. Writes reports/profile/clicks.md with figures in reports/profile/clicks/, and
clicks.json for machines.
"""

import argparse
import logging

from leadsift.clicks import engine
from leadsift.clicks.cleaning import input_files
from leadsift.clicks.data_profile import profile_log
from leadsift.clicks.param_rules import RULES
from leadsift.clicks.schema import ClickRoles
from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.profile import PROFILE_RULES, ProfileSettings
from leadsift.core.profile_report import write_profile

log = logging.getLogger("leadsift.clicks.data_profile")
logging.getLogger("matplotlib.category").setLevel(logging.WARNING)  # ids are numbers as text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("raw", help="the click log: a CSV or Parquet file or a folder of them")
    parser.add_argument("out_dir", help="directory of the profile pages (reports/profile)")
    args = parser.parse_args()
    params = load_params({**RULES, **PROFILE_RULES})
    roles = ClickRoles.from_params(params["clicks"])
    files = input_files(args.raw, "clicks.raw_path")
    settings = ProfileSettings(**params["profile"])
    log.info("profiling %d file(s) of %s in the engine", len(files), args.raw)
    with engine.connect(engine.EngineSettings.from_params(params["clicks_engine"])) as connection:
        profile = profile_log(connection, roles, files, settings)
    write_profile(args.out_dir, profile, args.raw, settings.top_levels)
    log.info("%s clicks, %d warnings: %s/clicks.md", f"{profile['table']['rows']:,}",
             len(profile["warnings"]), args.out_dir)  # fmt: skip


if __name__ == "__main__":
    run_stage(main)
