"""Stage generate / generate_incoming: write the embedded synthetic lead data.

Default mode writes the training export (CSV, like the CRM's) and the truth file holding each lead's
true probability of being genuine. With --incoming it writes a later batch without labels (they go
to a separate file) from the same world, with the drift set in params `incoming.drift`.
"""

import argparse
import logging

import pandas as pd

from leadsift.cli import run_stage
from leadsift.config import load_params
from leadsift.io import write_csv, write_parquet
from leadsift.synth import TARGET, Dirt, Drift, generate_leads

log = logging.getLogger("leadsift.generate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", help="lead export to write (CSV)")
    parser.add_argument("truth", help="parquet of lead_id, p_true and the label")
    parser.add_argument("--incoming", action="store_true", help="write a later, unlabelled batch")
    args = parser.parse_args()
    params = load_params()
    gen = params["generate"]
    common = {
        "genuine_rate": gen["genuine_rate"],
        "world_seed": gen["world_seed"],
        "dirt": Dirt(**gen["dirt"]),
    }
    if args.incoming:
        batch = params["incoming"]
        start = pd.Timestamp(gen["start"]) + pd.Timedelta(days=gen["days"])
        log.info("generating %s incoming leads from %s", f"{batch['n_leads']:,}", start.date())
        export, truth = generate_leads(
            batch["n_leads"],
            start=str(start),
            days=batch["days"],
            sample_seed=batch["sample_seed"],
            drift=Drift(**batch["drift"]),
            id_offset=gen["n_leads"],
            **common,
        )
        export = export.drop(columns=TARGET)
    else:
        log.info("generating %s leads from %s", f"{gen['n_leads']:,}", gen["start"])
        export, truth = generate_leads(
            gen["n_leads"],
            start=gen["start"],
            days=gen["days"],
            sample_seed=gen["sample_seed"],
            **common,
        )
    write_csv(args.out, export)
    write_parquet(args.truth, truth)
    log.info("wrote %s (%s rows) and %s", args.out, f"{len(export):,}", args.truth)


if __name__ == "__main__":
    run_stage(main)
