"""Stage clicks_prepare: the click log's clean clicks, quarantine and row accounting, in the engine.

Every row is checked against the contract (ids whole and not negative, times that parse, labels
that agree with each other); rows that break it are quarantined with their reasons, and every
row is accounted for. The later days to score are prepared with the log, without their labels.
"""

import argparse
import logging
from pathlib import Path

from leadsift.clicks import engine
from leadsift.clicks.cleaning import input_files, prepare
from leadsift.clicks.param_rules import RULES
from leadsift.clicks.schema import ClickRoles
from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import write_json

log = logging.getLogger("leadsift.clicks.prepare")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("raw", help="the click log, `clicks.raw_path` (a file or a folder)")
    parser.add_argument("incoming", help="the later days to score, `clicks.incoming`")
    parser.add_argument("out_dir", help="folder for clicks.parquet and quarantine.parquet")
    parser.add_argument("report", help="row accounting JSON")
    args = parser.parse_args()
    params = load_params(RULES)
    roles = ClickRoles.from_params(params["clicks"])
    files = {
        "log": input_files(args.raw, "clicks.raw_path"),
        "incoming": input_files(args.incoming, "clicks.incoming"),
    }
    with engine.connect(engine.EngineSettings.from_params(params["clicks_engine"])) as connection:
        out = Path(args.out_dir)
        counts = prepare(
            connection, roles, files, out / "clicks.parquet", out / "quarantine.parquet"
        )
    write_json(args.report, counts)
    for part, count in counts.items():
        log.info("%s: %s rows, %s clean, %s quarantined", part, f"{count['rows_in']:,}",
                 f"{count['rows_clean']:,}", f"{count['rows_quarantined']:,}")  # fmt: skip


if __name__ == "__main__":
    run_stage(main)
