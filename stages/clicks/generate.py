"""Stage clicks_generate: the embedded click log, its truth, and the later days to score.

The log (Parquet, one file per day) has TalkingData AdTracking's columns; the truth holds each
click's probability of attribution given what an online model can know at the click, which only
evaluation reads (the ceiling). The incoming days continue the same process after the log.
"""

import argparse
import logging

from leadsift.clicks.param_rules import RULES
from leadsift.clicks.synth import ClickSettings, write_click_log
from leadsift.core.cli import run_stage
from leadsift.core.config import load_params

log = logging.getLogger("leadsift.clicks.generate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("raw_dir", help="folder for the log's days (Parquet)")
    parser.add_argument("truth_dir", help="folder for each day's p_true by click_id")
    parser.add_argument("incoming_dir", help="folder for the later days (Parquet)")
    args = parser.parse_args()
    params = load_params(RULES)
    settings = ClickSettings(**params["generate_clicks"], **params["generate_clicks_setup"])
    log.info("generating %s clicks from %s", f"{settings.n_clicks:,}", settings.start)
    counts = write_click_log(settings, args.raw_dir, args.truth_dir, args.incoming_dir)
    clicks, attributed = sum(counts["clicks"].values()), sum(counts["attributed"].values())
    log.info("wrote %s clicks over %d day(s), %s attributed", f"{clicks:,}", len(counts["clicks"]),
             f"{attributed:,}")  # fmt: skip


if __name__ == "__main__":
    run_stage(main)
