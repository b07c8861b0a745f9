"""Stage generate / generate_incoming: write the embedded synthetic lead data.

Default mode writes the training export (CSV, like the CRM's) and the truth file holding each lead's
true probability of being genuine. With --incoming it writes monthly batches after the training
period, without labels (those go to a separate directory, as they arrive later in real life), from
the same world, with the drift set in params `incoming.drift` reached by the last batch.
"""

import argparse
import logging
from pathlib import Path

import pandas as pd

from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import write_csv, write_parquet
from leadsift.leads.params import RULES
from leadsift.leads.synth import Dirt, Drift, generate_leads, monthly_batches

log = logging.getLogger("leadsift.generate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", help="lead export to write (CSV); with --incoming, a directory")
    parser.add_argument("truth", help="parquet of lead_id, p_true, label; --incoming: a directory")
    parser.add_argument("--incoming", action="store_true", help="write later, unlabelled batches")
    args = parser.parse_args()
    params = load_params(RULES)
    gen = params["generate"]
    common = {
        "genuine_rate": gen["genuine_rate"],
        "world_seed": gen["world_seed"],
        "dirt": Dirt(**gen["dirt"]),
    }
    if args.incoming:
        incoming = params["incoming"]
        after = pd.Timestamp(gen["start"]) + pd.Timedelta(days=gen["days"])
        batches = monthly_batches(
            incoming["n_batches"],
            incoming["leads_per_batch"],
            after=str(after),
            sample_seed=incoming["sample_seed"],
            drift=Drift(**incoming["drift"]),
            id_offset=gen["n_leads"],
            **common,
        )
        for batch in batches:
            write_csv(Path(args.out) / f"{batch.name}.csv", batch.export)
            write_parquet(Path(args.truth) / f"{batch.name}.parquet", batch.truth)
            log.info("wrote batch %s: %s leads", batch.name, f"{len(batch.export):,}")
        return
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
