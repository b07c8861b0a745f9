"""Stage leads_generate: write the embedded synthetic lead export and its truth.

The export is a CSV, like the CRM's; the truth file holds each lead's true probability of being
genuine, which only evaluation reads (the Bayes ceiling).
"""

import argparse
import logging

from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import write_csv, write_parquet
from leadsift.leads.param_rules import RULES
from leadsift.leads.synth import Dirt, generate_leads

log = logging.getLogger("leadsift.leads.generate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", help="lead export to write (CSV)")
    parser.add_argument("truth", help="parquet of lead_id, p_true, label")
    args = parser.parse_args()
    params = load_params(RULES)
    sample, world = params["generate"], params["generate_setup"]
    log.info("generating %s leads from %s", f"{sample['n_leads']:,}", world["start"])
    export, truth = generate_leads(
        sample["n_leads"],
        start=world["start"],
        days=world["days"],
        genuine_rate=world["genuine_rate"],
        world_seed=world["world_seed"],
        sample_seed=sample["sample_seed"],
        dirt=Dirt(**world["dirt"]),
    )
    write_csv(args.out, export)
    write_parquet(args.truth, truth)
    log.info("wrote %s (%s rows) and %s", args.out, f"{len(export):,}", args.truth)


if __name__ == "__main__":
    run_stage(main)
